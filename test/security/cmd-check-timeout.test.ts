import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_HOOK_OPTIONS, MAX_OUTPUT_EXCERPT, ProbeChecker, runPreShutdownHooks } from '../../src/executor/checks.js';
import { DockerRuntime } from '../../src/executor/runtime/docker.js';
import { systemClock } from '../../src/model/clock.js';
import type { CheckSpec } from '../../src/model/spec.js';
import { IMAGE, containerOf, docker, ensureImage, itSpec, startInstance, useTestExecutor } from '../support/executor-harness.js';
import { waitUntil } from '../support/wait.js';

/**
 * CMD checks and CMD pre-shutdown hooks end at their timeout (issue 9, item 8): the command is killed with what it
 * started, the check counts as failed and monitoring goes on; the output kept is capped. Real Docker throughout:
 * the kill goes through the exec's host PID, which only a real container has.
 */

const LABEL = { 'drove-ts.test': 'cmd-check-timeout' };
/**
 * What one probe may take beyond its timeout: the exec's create/start and, once it overran, one inspect call and
 * a /proc scan to kill it. Measured on the 2-core test machine: 30 probes of `true` took 27-65 ms (median 40)
 * when idle; with other suites running (load average 7) the hung probe came back 183 ms after its timeout. 1 s
 * (5x the worst seen) absorbs a slow dockerd and still fails a probe that waits for its command (3600 s).
 */
const EXEC_OVERHEAD_MS = 1_000;

let containerId: string;
const runtime = new DockerRuntime();
const checker = new ProbeChecker(runtime, 'localhost', systemClock);

/** Processes in the container other than its main process (PID 1 inside, the first listed by docker top). */
async function execProcesses(id: string): Promise<string[]> {
  const top = (await docker.getContainer(id).top({ ps_args: '-eo pid,ppid,args' })) as { Processes: string[][] };
  const [main, ...others] = top.Processes;
  expect(main).toBeDefined();
  return others.map((p) => p.join(' '));
}

beforeAll(async () => {
  ensureImage();
  const container = await docker.createContainer({ Image: IMAGE, Cmd: ['sleep', '86400'], Labels: LABEL, HostConfig: { AutoRemove: false } });
  await container.start();
  containerId = container.id;
});

afterAll(async () => {
  const list = await docker.listContainers({ all: true, filters: { label: ['drove-ts.test=cmd-check-timeout'] } });
  await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
});

describe('a CMD probe that outlives its timeout', () => {
  it('fails at the timeout, its process tree is killed in the container, and the next probe runs normally', async () => {
    const started = Date.now();
    // A shell with two children: the kill must take the whole tree, not only the exec's own process.
    const result = await checker.check({ type: 'CMD', command: 'sleep 3600 & sleep 3600; wait' }, { containerId, ports: {} }, 1_000);
    const elapsed = Date.now() - started;
    process.stdout.write(`hung CMD probe with a 1000 ms timeout returned after ${elapsed} ms\n`);
    expect(result).toEqual({ healthy: false, message: 'Command timed out after 1000 ms and was killed' });
    expect(elapsed).toBeGreaterThanOrEqual(1_000);
    expect(elapsed).toBeLessThan(1_000 + EXEC_OVERHEAD_MS);
    await waitUntil('the killed processes to be reaped', async () => (await execProcesses(containerId)).length === 0, { timeoutMs: 5_000 });
    expect(await checker.check({ type: 'CMD', command: 'true' }, { containerId, ports: {} }, 1_000)).toEqual({ healthy: true, message: '' });
  });

  it('a CMD pre-shutdown hook is killed at its own timeout too', async () => {
    const hook = { type: 'CMD' as const, command: 'sleep 3600' };
    const started = Date.now();
    const [outcome] = await runPreShutdownHooks([hook], { containerId, ports: {} }, checker, systemClock, {
      ...DEFAULT_HOOK_OPTIONS,
      cmdTimeoutMs: 1_000,
    });
    expect(Date.now() - started).toBeLessThan(1_000 + EXEC_OVERHEAD_MS);
    expect(outcome).toMatchObject({ ok: false, attempts: 1, message: 'Command timed out after 1000 ms and was killed' });
    await waitUntil('the killed hook to be reaped', async () => (await execProcesses(containerId)).length === 0, { timeoutMs: 5_000 });
  });
});

describe('CMD output', () => {
  it('keeps the first 8 KiB of what a command prints and drops the rest, however much comes', async () => {
    const before = process.memoryUsage();
    // 256 MiB of output, then a failure exit so that the output lands in the message.
    const result = await checker.check(
      { type: 'CMD', command: 'head -c 268435456 /dev/zero | tr "\\0" x; exit 3' },
      { containerId, ports: {} },
      60_000,
    );
    const after = process.memoryUsage();
    const grewMiB = (after.rss - before.rss) / 1024 / 1024;
    process.stdout.write(`256 MiB of CMD output: message ${result.message.length} chars, executor RSS grew ${grewMiB.toFixed(1)} MiB\n`);
    const prefix = 'Command exited with exit code: 3. Output: ';
    expect(result.healthy).toBe(false);
    expect(result.message).toBe(`${prefix}${'x'.repeat(MAX_OUTPUT_EXCERPT)} [output cut at ${MAX_OUTPUT_EXCERPT} bytes]`);
    // Keeping it all would have grown the heap by the full 256 MiB (and twice that while concatenating).
    expect(grewMiB).toBeLessThan(128);
  });
});

describe('an instance whose health command hangs', () => {
  const fixture = useTestExecutor();

  it('becomes UNHEALTHY within attempts x (interval + timeout), and no probe is left running in its container', async () => {
    const healthcheck: CheckSpec = {
      // Healthy until /tmp/hang exists; then every probe hangs for an hour.
      mode: { type: 'CMD', command: '[ ! -f /tmp/hang ] || sleep 3600' },
      timeout: '1 second',
      interval: '1 second',
      attempts: 3,
      initialDelay: '0 seconds',
    };
    // waitBeforeKill keeps the UNHEALTHY container around long enough to look inside it. 5 s was not enough in a
    // CI run at load 25: the container was stopped (409 "is not running") while the test was still listing its
    // processes; 30 s leaves room for the 20 s the reaping may take on such a machine.
    const spec = itSpec({ healthcheck, preShutdown: { hooks: [], waitBeforeKill: '30 seconds' } });
    await startInstance(fixture.executor, spec);
    await fixture.leader.waitForState(spec.instanceId, 'HEALTHY');
    const container = (await containerOf(spec.instanceId))!;
    const touch = await container.exec({ Cmd: ['touch', '/tmp/hang'] });
    await touch.start({});
    const hungSince = Date.now();
    const unhealthy = await fixture.leader.waitForState(spec.instanceId, 'UNHEALTHY', 30_000);
    const elapsed = Date.now() - hungSince;
    const bound = 3 * (1_000 + 1_000);
    process.stdout.write(`hung health command: UNHEALTHY after ${elapsed} ms (bound ${bound} ms + ${3 * EXEC_OVERHEAD_MS} ms exec overhead)\n`);
    expect(unhealthy.errorMessage).toBe('Healthcheck failed:Command timed out after 1000 ms and was killed');
    expect(elapsed).toBeLessThan(bound + 3 * EXEC_OVERHEAD_MS);
    expect((await container.inspect()).State.Running).toBe(true);
    await waitUntil('the killed probes to be reaped', async () => (await execProcesses(container.id)).filter((p) => p.includes('sleep 3600')).length === 0, { timeoutMs: 20_000 });
  });
});
