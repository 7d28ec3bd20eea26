import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, test } from 'vitest';
import { parseExecutorConfig } from '../../../src/executor/config.js';
import { DockerRuntime } from '../../../src/executor/runtime/docker.js';
import { startExecutor, type RunningExecutor } from '../../../src/executor/server.js';
import { FakeLeader, executorConfigInput, removeContainersOf, startTestExecutor } from '../../support/executor-harness.js';
import { freePort } from '../../support/etcd-cluster.js';
import { waitUntil } from '../../support/wait.js';

/**
 * The executor's health endpoints (docs/health.md): a real executor on the local Docker daemon (directly, or
 * through a socket proxy the test opens and closes), a stand-in leader over HTTP, probes without any secret.
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

  test('starting (503) while Docker does not answer, ready once it does, not ready with the reason when it goes away', async () => {
    // The executor's Docker socket is a proxy to the real one that this test opens and closes.
    const dir = mkdtempSync(join(tmpdir(), 'drove-health-docker-'));
    const socketPath = join(dir, 'docker.sock');
    const connections = new Set<Socket>();
    const proxy = createServer((client) => {
      const engine = connect('/var/run/docker.sock');
      for (const end of [client, engine]) {
        connections.add(end);
        end.on('error', () => undefined);
        end.on('close', () => connections.delete(end));
      }
      client.pipe(engine).pipe(client);
    });
    leader = await new FakeLeader().start();
    const port = await freePort();
    const config = parseExecutorConfig(
      executorConfigInput(leader.url, { server: { host: '127.0.0.1', port, hostname: 'localhost' }, options: QUICK }),
    );
    const starting = startExecutor(config, { logger: pino({ level: 'silent' }), runtime: new DockerRuntime(socketPath) });
    const url = `http://127.0.0.1:${port}`;
    const early = await waitUntil('the port answering', async () => fetch(`${url}/readyz`));
    expect([early.status, await early.json()]).toEqual([503, { ready: false, reason: 'Executor is starting' }]);

    await new Promise<void>((resolve) => proxy.listen(socketPath, resolve));
    executor = await starting;
    const ready = await waitUntil('ready once Docker answers', async () => {
      const answer = await probe('/readyz');
      return answer.status === 200 ? answer : undefined;
    });
    expect(ready.body).toMatchObject({ ready: true, docker: { reachable: true } });

    await new Promise<void>((resolve) => {
      proxy.close(() => resolve());
      for (const end of connections) end.destroy();
    });
    const gone = await probe('/readyz');
    expect(gone.status).toBe(503);
    expect(gone.body).toMatchObject({ ready: false, leader: leader.url, docker: { reachable: false, error: expect.stringMatching(/ENOENT|ECONNREFUSED/) } });
    rmSync(dir, { recursive: true, force: true });
  });
});
