import { describe, expect, it } from 'vitest';
import type { ControllerClient } from '../../../src/executor/controller-client.js';
import { InstanceEngine } from '../../../src/executor/instances/instance-engine.js';
import { reapZombies, recoverInstances } from '../../../src/executor/recovery.js';
import type { ContainerSpec } from '../../../src/executor/runtime/runtime.js';
import { ManualClock } from '../../../src/model/clock.js';
import type { LocalServiceInstanceInfo } from '../../../src/model/instance.js';
import type { CheckModeSpec } from '../../../src/model/spec.js';
import { SIM_START_FAILURE, SimChecker, SimRuntime, simHostTopology } from '../../support/hollow/sim-runtime.js';
import { advanceUntil } from '../../support/wait.js';
import { instanceDeps, instanceSpec, testResources } from '../executor/fakes.js';

/** Uniform draws in the order the runtime takes them (per start: the jitter draw, then the failure draw). */
function scripted(...draws: number[]): () => number {
  return () => {
    const next = draws.shift();
    if (next === undefined) throw new Error('the test scripted too few random draws');
    return next;
  };
}

function containerSpec(labels: Record<string, string> = {}): ContainerSpec {
  return {
    name: 'c',
    image: 'img:1',
    env: [],
    labels,
    ports: [],
    binds: [],
    devices: [],
    deviceRequests: [],
    logging: { type: 'json-file', config: {} },
  };
}

async function created(runtime: SimRuntime, labels: Record<string, string> = {}): Promise<string> {
  await runtime.pullImage('img:1', { timeoutMs: 1_000 });
  return runtime.createContainer(containerSpec(labels));
}

const HTTP: CheckModeSpec = {
  type: 'HTTP',
  protocol: 'HTTP',
  portName: 'main',
  path: '/health',
  verb: 'GET',
  successCodes: [200],
  connectionTimeout: '1 second',
  insecure: false,
};

describe('SimRuntime', () => {
  it('starts a container after the start latency plus its jitter draw, on the injected clock', async () => {
    const clock = new ManualClock();
    const runtime = new SimRuntime({ clock, startLatencyMs: 50, startJitterMs: 100, random: scripted(0.5, 0.99) });
    const id = await created(runtime);
    let done = false;
    const start = runtime.startContainer(id).then(() => (done = true));
    await clock.advance(99);
    expect(done).toBe(false);
    expect((await runtime.inspectContainer(id))?.running).toBe(false);
    await clock.advance(1);
    await start;
    expect((await runtime.inspectContainer(id))?.running).toBe(true);
    expect((await runtime.inspectContainer(id))?.startedAt).toBe(new Date(clock.now()).toISOString());
  });

  it('fails the share of starts its failure draws fall under, leaving those containers stopped', async () => {
    const clock = new ManualClock();
    const runtime = new SimRuntime({ clock, startLatencyMs: 0, failStartRatio: 0.3, random: scripted(0, 0.29, 0, 0.3) });
    const failing = await created(runtime);
    const starting = await runtime.createContainer(containerSpec());
    const first = runtime.startContainer(failing);
    const firstAssert = expect(first).rejects.toThrow(SIM_START_FAILURE);
    await clock.advance(0);
    await firstAssert;
    const second = runtime.startContainer(starting);
    await clock.advance(0);
    await second;
    expect(runtime.runningIds()).toEqual([starting]);
  });

  it('refuses to create from an image it never pulled, as dockerd does', async () => {
    const runtime = new SimRuntime({ clock: new ManualClock() });
    await expect(runtime.createContainer(containerSpec())).rejects.toThrow('No such image: img:1');
    await runtime.pullImage('img:1', { timeoutMs: 1_000 });
    expect(await runtime.imageExists('img:1')).toBe(true);
  });

  it('lists containers carrying every given label, running or not', async () => {
    const clock = new ManualClock();
    const runtime = new SimRuntime({ clock, startLatencyMs: 0 });
    const a = await created(runtime, { job: 'LOCAL_SERVICE', executor: 'E1' });
    const b = await runtime.createContainer(containerSpec({ job: 'LOCAL_SERVICE', executor: 'E2' }));
    const starting = runtime.startContainer(a);
    await clock.advance(0);
    await starting;
    expect(await runtime.listContainers({ job: 'LOCAL_SERVICE' })).toEqual([
      { id: a, running: true, labels: { job: 'LOCAL_SERVICE', executor: 'E1' } },
      { id: b, running: false, labels: { job: 'LOCAL_SERVICE', executor: 'E2' } },
    ]);
    expect((await runtime.listContainers({ executor: 'E2' })).map((c) => c.id)).toEqual([b]);
    await runtime.removeContainer(b);
    expect(await runtime.listContainers({ executor: 'E2' })).toEqual([]);
    expect(await runtime.inspectContainer(b)).toBeUndefined();
  });

  it('answers exec and stats as a running container does, and as a stopped one does', async () => {
    const clock = new ManualClock();
    const runtime = new SimRuntime({ clock, startLatencyMs: 0, stats: { cpuSeconds: 2, memoryBytes: 1024 } });
    const id = await created(runtime);
    expect((await runtime.exec(id, ['true'], { maxOutputBytes: 100 })).exitCode).toBe(1);
    expect(await runtime.containerStats(id)).toBeUndefined();
    const starting = runtime.startContainer(id);
    await clock.advance(0);
    await starting;
    expect(await runtime.exec(id, ['true'], { maxOutputBytes: 100 })).toEqual({ exitCode: 0, output: '', truncated: false });
    expect(await runtime.containerStats(id)).toEqual({ cpuSeconds: 2, memoryBytes: 1024 });
    await runtime.stopContainer(id);
    expect((await runtime.exec(id, ['true'], { maxOutputBytes: 100 })).exitCode).toBe(1);
  });

  it('follows logs with its one configured line, or none', async () => {
    const clock = new ManualClock();
    const chatty = new SimRuntime({ clock, logLine: 'hello' });
    const quiet = new SimRuntime({ clock });
    const lines: string[] = [];
    await chatty.followLogs(await created(chatty), 0, (stream, chunk) => lines.push(`${stream}:${chunk.toString()}`));
    await quiet.followLogs(await created(quiet), 0, (stream, chunk) => lines.push(`${stream}:${chunk.toString()}`));
    await clock.advance(10);
    expect(lines).toEqual(['stdout:hello\n']);
  });

  it('answers ping until the engine is made to be down', async () => {
    const runtime = new SimRuntime({ clock: new ManualClock() });
    await expect(runtime.ping()).resolves.toBeUndefined();
    runtime.engineDown = new Error('engine down');
    await expect(runtime.ping()).rejects.toThrow('engine down');
  });
});

describe('SimChecker', () => {
  it('passes while the container runs and the fleet says healthy; fails a crashed container or an unhealthy fleet', async () => {
    const clock = new ManualClock();
    const runtime = new SimRuntime({ clock, startLatencyMs: 0 });
    const id = await created(runtime);
    let healthy = true;
    const checker = new SimChecker(runtime, () => healthy);
    expect((await checker.check(HTTP, { containerId: id, ports: {} }, 1_000)).healthy).toBe(false);
    const starting = runtime.startContainer(id);
    await clock.advance(0);
    await starting;
    expect(await checker.check(HTTP, { containerId: id, ports: {} }, 1_000)).toEqual({ healthy: true, message: '' });
    healthy = false;
    expect(await checker.check(HTTP, { containerId: id, ports: {} }, 1_000)).toEqual({ healthy: false, message: 'simulated HTTP check: unhealthy' });
    healthy = true;
    runtime.crash(id);
    expect((await checker.check(HTTP, { containerId: id, ports: {} }, 1_000)).message).toBe('simulated HTTP check: container is not running');
    expect((await checker.check(HTTP, { ports: {} }, 1_000)).healthy).toBe(false);
  });
});

describe('simHostTopology', () => {
  it('is one NUMA node of 8 cores and 16 GiB by default', () => {
    expect(simHostTopology()().nodes).toEqual(new Map([[0, { cores: [0, 1, 2, 3, 4, 5, 6, 7], memoryMB: 16_384 }]]));
  });
});

/** The real instance state machines, recovery and reaper on the simulated engine (what a hollow executor runs). */
describe('the executor code on SimRuntime', () => {
  function simDeps(runtime: SimRuntime, clock: ManualClock) {
    return instanceDeps({ runtime, checker: new SimChecker(runtime), clock, resources: testResources() });
  }
  const cores = (i: number) => [{ type: 'CPU' as const, cores: { '0': [i] } }, { type: 'MEMORY' as const, memoryInMB: { '0': 64 } }];
  const noLeader = { get: async () => undefined } as unknown as ControllerClient;

  it('takes instances to HEALTHY, and a failed start to START_FAILED', async () => {
    const clock = new ManualClock();
    // Two starts: the first fails its failure draw, the second passes.
    const runtime = new SimRuntime({ clock, startLatencyMs: 50, failStartRatio: 0.5, random: scripted(0, 0.1, 0, 0.9) });
    const engine = new InstanceEngine(simDeps(runtime, clock));
    const seen = new Map<string, string[]>();
    engine.onChange((info) => seen.set(info.instanceId, [...(seen.get(info.instanceId) ?? []), info.state]));
    const reached = (instanceId: string, state: string) => seen.get(instanceId)?.includes(state) ?? false;
    const failed = instanceSpec({ resources: cores(0) });
    const ok = instanceSpec({ resources: cores(1) });
    expect(engine.start(failed)).toEqual({ ok: true });
    await advanceUntil(clock, 'the first start to fail', () => reached(failed.instanceId, 'START_FAILED'));
    expect(engine.start(ok)).toEqual({ ok: true });
    await advanceUntil(clock, 'the second to be healthy', () => reached(ok.instanceId, 'HEALTHY'));
    expect(runtime.runningIds()).toHaveLength(1);
    expect(seen.get(failed.instanceId)).not.toContain('HEALTHY');
  });

  it('is re-adopted by the real recovery after an executor restart, without starting containers again', async () => {
    const clock = new ManualClock();
    const runtime = new SimRuntime({ clock, startLatencyMs: 50 });
    const first = new InstanceEngine(simDeps(runtime, clock));
    const specs = [instanceSpec({ resources: cores(0) }), instanceSpec({ resources: cores(1) })];
    for (const spec of specs) first.start(spec);
    await advanceUntil(clock, 'both healthy', () => first.list().every((i) => i.state === 'HEALTHY') && first.list().length === 2);
    const containers = runtime.runningIds().sort();
    first.detachAll();
    await first.drained();

    const restartedDeps = simDeps(runtime, clock);
    const engine = new InstanceEngine(restartedDeps);
    const reports: LocalServiceInstanceInfo[] = [];
    engine.onChange((i) => reports.push(i));
    const recovery = recoverInstances({ runtime, engine, client: noLeader, clock, logger: restartedDeps.logger, executorId: 'E1' }, 0);
    await clock.advance(0);
    const result = await recovery;
    expect(result.adopted.sort()).toEqual(specs.map((s) => s.instanceId).sort());
    await advanceUntil(clock, 'adopted instances healthy', () => engine.list().every((i) => i.state === 'HEALTHY'));
    expect(runtime.runningIds().sort()).toEqual(containers);
    expect(reports.filter((r) => r.state === 'LOST' || r.state === 'STOPPED')).toEqual([]);

    // A crashed container is found by the real zombie reaper, which stops its instance.
    runtime.crash(containers[0]!);
    const reaped = await reapZombies({ runtime, engine, client: noLeader, clock, logger: restartedDeps.logger, executorId: 'E1' });
    expect(reaped.stoppedInstances).toHaveLength(1);
  });
});
