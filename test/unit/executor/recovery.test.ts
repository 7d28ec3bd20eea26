import { describe, expect, it } from 'vitest';
import type { ControllerClient } from '../../../src/executor/controller-client.js';
import { InstanceEngine } from '../../../src/executor/instances/instance-engine.js';
import { reapZombies, recoverInstances } from '../../../src/executor/recovery.js';
import type { KnownInstancesData } from '../../../src/model/executor.js';
import type { LocalServiceInstanceInfo } from '../../../src/model/instance.js';
import { TEST_IMAGE, instanceDeps, instanceSpec } from './fakes.js';

function known(ids: string[], stale: string[]): KnownInstancesData {
  return {
    appInstanceIds: [], staleAppInstanceIds: [], taskInstanceIds: [], staleTaskInstanceIds: [],
    localServiceInstanceIds: ids, staleLocalServiceInstanceIds: stale,
  };
}

async function runningInstances(count: number) {
  const deps = instanceDeps();
  deps.runtime.images.add(TEST_IMAGE);
  const first = new InstanceEngine(deps);
  const specs = Array.from({ length: count }, (_, i) => instanceSpec({ resources: [{ type: 'CPU', cores: { '0': [i] } }] }));
  for (const spec of specs) first.start(spec);
  for (let i = 0; i < 50; i++) await deps.clock.advance(100);
  expect(first.list().map((i) => i.state)).toEqual(specs.map(() => 'HEALTHY'));
  first.detachAll();
  await first.drained();
  // A "restarted" executor: fresh engine and resources, same runtime (the containers survived).
  const restarted = instanceDeps({ runtime: deps.runtime, clock: deps.clock });
  const engine = new InstanceEngine(restarted);
  const reports: LocalServiceInstanceInfo[] = [];
  engine.onChange((i) => reports.push(i));
  return { deps: restarted, engine, specs, reports };
}

const client = (answer: KnownInstancesData | undefined) => ({ get: async () => answer }) as unknown as ControllerClient;

describe('recovery (InstanceRecoveryTest)', () => {
  it('re-adopts every labelled container when the leader knows none, with resources locked again', async () => {
    const { deps, engine, specs, reports } = await runningInstances(2);
    const run = recoverInstances({ runtime: deps.runtime, engine, client: client(undefined), clock: deps.clock, logger: deps.logger, executorId: 'E1' }, 2_000);
    await deps.clock.advance(3_000);
    const result = await run;
    expect(result.adopted.sort()).toEqual(specs.map((s) => s.instanceId).sort());
    await deps.clock.advance(500);
    expect(engine.list().map((i) => i.state)).toEqual(['HEALTHY', 'HEALTHY']);
    expect(reports.filter((r) => r.state === 'LOST')).toEqual([]);
    expect(deps.resources.snapshot().cpus.usedCores['0']).toEqual([0, 1]);
    expect(deps.runtime.calls.filter((c) => c.startsWith('start '))).toHaveLength(2);
  });

  it('waits for a container runtime that does not answer yet instead of starting with no instances', async () => {
    const { deps, engine, specs } = await runningInstances(2);
    // dockerd still starting (a booting host) or restarting: the first listings fail.
    const list = deps.runtime.listContainers.bind(deps.runtime);
    let failures = 3;
    deps.runtime.listContainers = async (labels) => {
      if (failures-- > 0) throw new Error('connect ENOENT /var/run/docker.sock');
      return list(labels);
    };
    let result: Awaited<ReturnType<typeof recoverInstances>> | undefined;
    const run = recoverInstances({ runtime: deps.runtime, engine, client: client(undefined), clock: deps.clock, logger: deps.logger, executorId: 'E1' }, 0).then((r) => (result = r));
    await deps.clock.advance(2_500);
    expect(result).toBeUndefined();
    await deps.clock.advance(5_000);
    await run;
    expect(result!.adopted.sort()).toEqual(specs.map((s) => s.instanceId).sort());
    expect(deps.runtime.containers.size).toBe(2);
  });

  it('removes containers the leader lists as stale or does not know', async () => {
    const { deps, engine, specs } = await runningInstances(3);
    const result = await recoverInstances(
      { runtime: deps.runtime, engine, client: client(known([specs[0]!.instanceId], [specs[1]!.instanceId])), clock: deps.clock, logger: deps.logger, executorId: 'E1' },
      2_000,
    );
    expect(result.adopted).toEqual([specs[0]!.instanceId]);
    expect(result.removed).toHaveLength(2);
    expect(deps.runtime.containers.size).toBe(1);
  });
});

describe('zombie reaper (ZombieInstanceReaperTest)', () => {
  it('removes labelled containers no instance tracks and stops instances whose container vanished', async () => {
    const { deps, engine, specs, reports } = await runningInstances(2);
    await recoverInstances({ runtime: deps.runtime, engine, client: client(known([specs[0]!.instanceId, specs[1]!.instanceId], [])), clock: deps.clock, logger: deps.logger, executorId: 'E1' }, 0);
    await deps.clock.advance(500);
    // A leftover container of an instance nobody tracks, and a tracked instance whose container vanished.
    const zombie = await deps.runtime.createContainer({ ...deps.runtime.containers.values().next().value!.spec, labels: { ...deps.runtime.containers.values().next().value!.spec.labels, 'drove.instance.id': 'SI-zombie' } });
    const vanished = engine.get(specs[1]!.instanceId)!.container!;
    deps.runtime.containers.delete(vanished);
    const result = await reapZombies({ runtime: deps.runtime, engine, client: client(undefined), clock: deps.clock, logger: deps.logger, executorId: 'E1' });
    expect(result).toEqual({ removedContainers: [zombie], stoppedInstances: [specs[1]!.instanceId] });
    await deps.clock.advance(1_000);
    const last = reports.filter((r) => r.instanceId === specs[1]!.instanceId).at(-1)!;
    expect(last.state).toBe('STOPPED');
    expect(last.errorMessage).toBe(`Container ${vanished} vanished`);
    expect(engine.get(specs[0]!.instanceId)!.state).toBe('HEALTHY');
  });
});
