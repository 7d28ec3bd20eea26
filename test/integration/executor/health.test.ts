import { pino } from 'pino';
import { afterEach, describe, expect, test } from 'vitest';
import { parseExecutorConfig } from '../../../src/executor/config.js';
import { DockerRuntime } from '../../../src/executor/runtime/docker.js';
import { startExecutor, type RunningExecutor } from '../../../src/executor/server.js';
import { FakeLeader, executorConfigInput, removeContainersOf, startTestExecutor } from '../../support/executor-harness.js';
import { waitUntil } from '../../support/wait.js';

/**
 * The executor's health endpoints (docs/health.md): a real executor on the local Docker daemon (or on a socket
 * where no daemon answers), a stand-in leader over HTTP, probes without any secret.
 */

let leader: FakeLeader | undefined;
let executor: RunningExecutor | undefined;
afterEach(async () => {
  await executor?.stop();
  await leader?.stop();
  if (executor) await removeContainersOf(executor.executorId);
  executor = undefined;
  leader = undefined;
});

/** Heartbeats every 200 ms, so a lost leader shows in the next probe; the harness's other quick settings. */
const QUICK = {
  heartbeatInterval: '200 milliseconds',
  readinessPollInterval: '100 milliseconds',
  recoveryLeaderWait: '1 second',
  containerStopGracePeriod: '1 second',
};

const probe = async (path: string) => {
  const response = await fetch(`${executor!.url}${path}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe('executor health endpoints', () => {
  test('ready once a leader accepted its node data and Docker answers; not ready when the leader stops answering', async () => {
    leader = await new FakeLeader().start();
    executor = await startTestExecutor(leader, { options: QUICK });
    expect(await probe('/livez')).toEqual({ status: 200, body: { live: true } });
    const ready = await waitUntil('ready', async () => {
      const answer = await probe('/readyz');
      return answer.status === 200 ? answer : undefined;
    });
    expect(ready.body).toMatchObject({ ready: true, leader: leader.url, docker: { reachable: true } });
    expect(['UNREADY', 'ACTIVE']).toContain(ready.body.executorState);

    await leader.stop();
    const lost = await waitUntil('not ready without a leader', async () => {
      const answer = await probe('/readyz');
      return answer.status === 503 ? answer : undefined;
    });
    expect(lost.body).toMatchObject({ ready: false, leader: null, docker: { reachable: true } });
    leader = undefined;
  });

  test('not ready when the container engine does not answer, with the reason', async () => {
    leader = await new FakeLeader().start();
    const config = parseExecutorConfig(executorConfigInput(leader.url, { options: QUICK }));
    executor = await startExecutor(config, { logger: pino({ level: 'silent' }), runtime: new DockerRuntime('/nonexistent/docker.sock') });
    await waitUntil('registered', () => leader!.messages.some((m) => m.type === 'EXECUTOR_SNAPSHOT'));
    const answer = await waitUntil('a probe after registration', async () => {
      const probed = await probe('/readyz');
      return probed.body.leader ? probed : undefined;
    });
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ ready: false, leader: leader.url, docker: { reachable: false, error: expect.stringContaining('ENOENT') } });
  });
});
