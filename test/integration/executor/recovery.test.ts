import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/executor/server.js';
import type { RunningExecutor } from '../../../src/executor/server.js';
import { executorIdOf } from '../../../src/model/ids.js';
import { FakeLeader, containerOf, ensureImage, executorConfigInput, itSpec, removeContainersOf, repoRoot, startInstance, startTestExecutor } from '../../support/executor-harness.js';
import { waitUntil } from '../../support/wait.js';

/**
 * kill -9 of a real executor process with three HEALTHY instances, then a restart: every instance is
 * re-adopted (same container, never restarted, never reported LOST); the leader's stale list is honoured.
 */
const buildDir = join(repoRoot, 'node_modules', '.cache', 'drove-executor-it');
const entry = join(buildDir, 'test', 'integration', 'executor', 'fixtures', 'run-executor.js');
let leader: FakeLeader;
let port = 0;
let configPath = '';
let child: ChildProcess | undefined;
const executorId = () => executorIdOf('localhost', port);
// The tests only need url and executorId of the child executor to send messages.
const handle = () => ({ url: `http://127.0.0.1:${port}`, executorId: executorId() }) as RunningExecutor;

function compileExecutor(): void {
  // From scratch: a compile that emits nothing must not leave an older run's output to be tested.
  rmSync(buildDir, { recursive: true, force: true });
  try {
    execFileSync(
      'npx',
      ['tsc', '--outDir', buildDir, '--rootDir', repoRoot, '--module', 'NodeNext', '--moduleResolution', 'NodeNext',
        '--target', 'ES2022', '--skipLibCheck', '--esModuleInterop', '--types', 'node', join(repoRoot, 'test/integration/executor/fixtures/run-executor.ts')],
      { cwd: repoRoot, stdio: 'pipe' },
    );
  } catch (error) {
    // Type errors still emit JavaScript; only a missing output is fatal.
    if (!existsSync(entry)) throw error;
  }
}

async function startChild(): Promise<void> {
  const seen = leader.messages.length;
  child = spawn(process.execPath, [entry, configPath], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitUntil('the executor process to send node data', () => leader.messages.slice(seen).some((m) => m.type === 'EXECUTOR_SNAPSHOT'), { timeoutMs: 30_000 });
}

async function kill9(): Promise<void> {
  const proc = child!;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGKILL');
  await exited;
  child = undefined;
}

beforeAll(async () => {
  ensureImage();
  compileExecutor();
  leader = await new FakeLeader().start();
  port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'executor-recovery-'));
  configPath = join(dir, 'executor.yml');
  const input = executorConfigInput(leader.url, { server: { host: '127.0.0.1', port, hostname: 'localhost' } });
  // Frequent node data so the test sees the post-recovery snapshot quickly.
  input.options = { ...input.options, heartbeatInterval: '2 seconds' };
  writeFileSync(configPath, stringify(input));
});

afterAll(async () => {
  if (child) await kill9();
  await removeContainersOf(executorId());
  await leader?.stop();
});

async function containerState(instanceId: string) {
  const inspect = await (await containerOf(instanceId))!.inspect();
  return { id: inspect.Id, startedAt: inspect.State.StartedAt, restartCount: inspect.RestartCount, running: inspect.State.Running };
}

describe('executor restart recovery', () => {
  it('re-adopts three HEALTHY instances after kill -9 without restarting any container', async () => {
    await startChild();
    const specs = [itSpec(), itSpec(), itSpec()];
    for (const spec of specs) expect(await startInstance(handle(), spec)).toMatchObject({ status: 'ACCEPTED' });
    for (const spec of specs) await leader.waitForState(spec.instanceId, 'HEALTHY');
    const before = await Promise.all(specs.map((s) => containerState(s.instanceId)));

    await kill9();
    const mark = leader.messages.length;
    await startChild();
    const after = async () => leader.messages.slice(mark);
    for (const spec of specs) {
      await waitUntil(`${spec.instanceId} HEALTHY again`, async () =>
        (await after()).some((m) =>
          (m.type === 'LOCAL_SERVICE_INSTANCE_STATE_REPORT' && m.instanceInfo.instanceId === spec.instanceId && m.instanceInfo.state === 'HEALTHY') ||
          (m.type === 'LOCAL_SERVICE_INSTANCE_STATE_REPORTS' && m.instanceInfos.some((i) => i.instanceId === spec.instanceId && i.state === 'HEALTHY')),
        ), { timeoutMs: 30_000 });
    }
    const reports = (await after()).flatMap((m) =>
      m.type === 'LOCAL_SERVICE_INSTANCE_STATE_REPORT' ? [m.instanceInfo] : m.type === 'LOCAL_SERVICE_INSTANCE_STATE_REPORTS' ? m.instanceInfos : [],
    );
    for (const spec of specs) {
      const mine = reports.filter((r) => r.instanceId === spec.instanceId);
      expect(mine.map((r) => r.state)).toEqual(['UNKNOWN', 'UNREADY', 'READY', 'HEALTHY']);
      expect(mine.at(-1)!.localInfo).toEqual(leader.reports(spec.instanceId).find((r) => r.state === 'HEALTHY')!.localInfo);
    }
    const afterStates = await Promise.all(specs.map((s) => containerState(s.instanceId)));
    expect(afterStates).toEqual(before);
    expect(afterStates.every((s) => s.running && s.restartCount === 0)).toBe(true);

    // The heartbeat lists all three again.
    const snapshot = await waitUntil('a snapshot listing three HEALTHY instances', async () => {
      const m = (await after()).filter((x) => x.type === 'EXECUTOR_SNAPSHOT').at(-1);
      return m && m.type === 'EXECUTOR_SNAPSHOT' && m.nodeData.serviceInstances.filter((i) => i.state === 'HEALTHY').length === 3 ? m : undefined;
    }, { timeoutMs: 30_000 });
    expect(snapshot.nodeData.state.cpus.usedCores['0']!.length).toBe(3);

    // Second restart: the leader now says the third instance is stale - it is removed, the others adopted.
    await kill9();
    leader.lastKnown = {
      appInstanceIds: [], staleAppInstanceIds: [], taskInstanceIds: [], staleTaskInstanceIds: [],
      localServiceInstanceIds: [specs[0]!.instanceId, specs[1]!.instanceId],
      staleLocalServiceInstanceIds: [specs[2]!.instanceId],
    };
    const mark2 = leader.messages.length;
    await startChild();
    await waitUntil('the stale container to be removed', async () => (await containerOf(specs[2]!.instanceId)) === undefined, { timeoutMs: 30_000 });
    const healthyAgain = () =>
      leader.messages.slice(mark2).flatMap((m) =>
        m.type === 'LOCAL_SERVICE_INSTANCE_STATE_REPORT' ? [m.instanceInfo] : m.type === 'LOCAL_SERVICE_INSTANCE_STATE_REPORTS' ? m.instanceInfos : [],
      ).filter((i) => i.state === 'HEALTHY').map((i) => i.instanceId);
    await waitUntil('two instances HEALTHY again', () => healthyAgain().length === 2, { timeoutMs: 30_000 });
    expect(healthyAgain().sort()).toEqual([specs[0]!.instanceId, specs[1]!.instanceId].sort());
    expect(await containerState(specs[0]!.instanceId)).toEqual(before[0]);
  });

  it('an embedded executor stopped with leaveContainers is re-adopted by the next one on the same port', async () => {
    if (child) await kill9();
    leader.lastKnown = undefined;
    const embeddedPort = await freePort();
    const server = { host: '127.0.0.1', port: embeddedPort, hostname: 'localhost' };
    const first = await startTestExecutor(leader, { server });
    const spec = itSpec();
    try {
      await startInstance(first, spec);
      await leader.waitForState(spec.instanceId, 'HEALTHY');
      const before = await containerState(spec.instanceId);
      await first.stop({ leaveContainers: true });
      expect((await containerState(spec.instanceId)).running).toBe(true);
      const mark = leader.messages.length;
      const second = await startTestExecutor(leader, { server });
      try {
        expect(second.executorId).toBe(first.executorId);
        await waitUntil('re-adopted HEALTHY', () => second.engine.get(spec.instanceId)?.state === 'HEALTHY', { timeoutMs: 20_000 });
        expect(await containerState(spec.instanceId)).toEqual(before);
        expect(leader.messages.length).toBeGreaterThan(mark);
      } finally {
        await second.stop();
      }
      // A plain stop stops the instances it runs.
      expect(await containerOf(spec.instanceId)).toBeUndefined();
    } finally {
      await removeContainersOf(first.executorId);
    }
  });
});
