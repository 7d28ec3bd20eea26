import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ManualClock, executorIdOf, type ExecutorState, type PlacementPolicy, type ResourceAllocation } from '../../../src/model/index.js';
import { EventLog } from '../../../src/controller/events.js';
import { ExecutorRegistry } from '../../../src/controller/cluster/registry.js';
import { Scheduler } from '../../../src/controller/cluster/scheduler.js';
import { SqliteStateStore } from '../../../src/controller/store/sqlite.js';
import { instanceInfo, nodeData, resourceSnapshot, type ExecutorShape } from '../../support/records.js';

const E1 = executorIdOf('ex1.local', 3000);
const stores: SqliteStateStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

async function setup(shape: ExecutorShape = {}, ttlMs = 60_000) {
  const clock = new ManualClock();
  const events = new EventLog(clock, { maxEventsStorageMs: 60 * 60_000 });
  const store = new SqliteStateStore(':memory:');
  stores.push(store);
  const registry = new ExecutorRegistry({ clock, store, events, options: { staleExecutorAgeMs: 45_000 } });
  await registry.heartbeat(nodeData(shape));
  const scheduler = new Scheduler({ registry, clock, options: { unreportedReservationTtlMs: ttlMs } });
  return { clock, registry, scheduler };
}

function coresOf(resources: ResourceAllocation[]): Record<string, number[]> {
  const cpu = resources.find((r) => r.type === 'CPU');
  return cpu && cpu.type === 'CPU' ? cpu.cores : {};
}

function allocated(result: ReturnType<ReturnType<Scheduler['openSession']>['allocate']>) {
  if (!result.ok) throw new Error(`expected an allocation, got: ${result.reason}`);
  return result.resources;
}

const TWO_NODES: ExecutorShape = { freeCores: { '0': [0, 1, 2], '1': [4, 5, 6] }, freeMemory: { '0': 4096, '1': 4096 } };

describe('Scheduler', () => {
  it('allocates cores and memory on one NUMA node, in Drove resource-allocation shape', async () => {
    const { scheduler } = await setup(TWO_NODES);
    const session = scheduler.openSession();
    expect(session.allocate(E1, 'SI-1', 2, 512)).toEqual({
      ok: true,
      resources: [
        { type: 'CPU', cores: { '0': [0, 1] } },
        { type: 'MEMORY', memoryInMB: { '0': 512 } },
      ],
    });
  });

  it('a request that fits only split across NUMA nodes fails, naming executor, request and availability', async () => {
    const { scheduler } = await setup(TWO_NODES);
    const result = scheduler.openSession().allocate(E1, 'SI-1', 4, 512);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toContain(E1);
      expect(result.reason).toContain('4 free cores');
      expect(result.reason).toContain('512 MB');
      expect(result.reason).toContain('node 0: 3 cores, 4096 MB; node 1: 3 cores, 4096 MB');
    }
  });

  it('best fit: a small request goes to the node with the fewest free cores, keeping a whole node for big ones', async () => {
    const { scheduler } = await setup({ freeCores: { '0': [0, 1, 2, 3], '1': [4, 5] } });
    const session = scheduler.openSession();
    expect(coresOf(allocated(session.allocate(E1, 'SI-1', 1, 100)))).toEqual({ '1': [4] });
    expect(coresOf(allocated(session.allocate(E1, 'SI-2', 4, 100)))).toEqual({ '0': [0, 1, 2, 3] });
  });

  it('memory must fit on the same node as the cores', async () => {
    const { scheduler } = await setup({ freeCores: { '0': [0, 1], '1': [2] }, freeMemory: { '0': 100, '1': 2000 } });
    const session = scheduler.openSession();
    expect(coresOf(allocated(session.allocate(E1, 'SI-1', 1, 1000)))).toEqual({ '1': [2] });
    const noRoom = session.allocate(E1, 'SI-2', 1, 1000);
    expect(noRoom.ok).toBe(false);
    if (!noRoom.ok) expect(noRoom.reason).toContain('node 1: 0 cores, 1000 MB');
  });

  it('concurrent sessions never double-book cores or memory', async () => {
    const { scheduler } = await setup({ freeCores: { '0': [0, 1, 2, 3] }, freeMemory: { '0': 1000 } });
    const a = scheduler.openSession();
    const b = scheduler.openSession();
    const first = coresOf(allocated(a.allocate(E1, 'SI-a', 2, 400)))['0']!;
    const second = coresOf(allocated(b.allocate(E1, 'SI-b', 2, 400)))['0']!;
    expect(new Set([...first, ...second]).size).toBe(4);
    expect(b.allocate(E1, 'SI-c', 1, 100).ok).toBe(false);
    expect(a.allocate(E1, 'SI-d', 0, 300).ok).toBe(false);
    expect(scheduler.available(E1)?.get('0')).toEqual({ cores: [], memoryMb: 200 });
  });

  it('release gives the reservation back', async () => {
    const { scheduler } = await setup({ freeCores: { '0': [0, 1] } });
    const session = scheduler.openSession();
    allocated(session.allocate(E1, 'SI-1', 2, 100));
    expect(session.allocate(E1, 'SI-2', 1, 100).ok).toBe(false);
    session.release('SI-1');
    expect(coresOf(allocated(session.allocate(E1, 'SI-2', 2, 100)))).toEqual({ '0': [0, 1] });
  });

  it('drops a reservation once a snapshot of its executor accounts for the instance (no double counting)', async () => {
    const { scheduler, registry } = await setup({ freeCores: { '0': [0, 1, 2, 3] }, freeMemory: { '0': 1000 } });
    const session = scheduler.openSession();
    const cores = coresOf(allocated(session.allocate(E1, 'SI-1', 2, 400)))['0']!;
    // The executor locked them and reports the instance with a snapshot that shows them used.
    const after = resourceSnapshot(E1, {
      freeCores: { '0': [0, 1, 2, 3].filter((c) => !cores.includes(c)) },
      freeMemory: { '0': 600 },
    });
    registry.resourceSnapshot(after, [instanceInfo({ executorId: E1, instanceId: 'SI-1', state: 'PENDING', updated: 1_700_000_001_000 })]);
    expect(scheduler.reservationCount()).toBe(0);
    expect(scheduler.available(E1)?.get('0')).toEqual({ cores: after.cpus.freeCores['0'], memoryMb: 600 });
    expect(allocated(session.allocate(E1, 'SI-2', 2, 600))).toBeDefined();
  });

  it('keeps a reservation while snapshots that do not include its instance arrive', async () => {
    const { scheduler, registry } = await setup({ freeCores: { '0': [0, 1] } });
    const session = scheduler.openSession();
    allocated(session.allocate(E1, 'SI-1', 2, 100));
    await registry.heartbeat(nodeData({ freeCores: { '0': [0, 1] }, updated: 1_700_000_001_000 }));
    registry.resourceSnapshot(resourceSnapshot(E1, { freeCores: { '0': [0, 1] } }), [instanceInfo({ executorId: E1, instanceId: 'SI-other', state: 'PENDING', updated: 1_700_000_002_000 })]);
    expect(session.allocate(E1, 'SI-2', 1, 100).ok).toBe(false);
    // A heartbeat listing the instance accounts for it.
    await registry.heartbeat(
      nodeData({ freeCores: { '0': [] }, updated: 1_700_000_003_000, serviceInstances: [instanceInfo({ executorId: E1, instanceId: 'SI-1', state: 'PENDING', updated: 1_700_000_003_000 })] }),
    );
    expect(scheduler.reservationCount()).toBe(0);
  });

  it('reservations of a closed session expire when never reported; open sessions keep theirs', async () => {
    const { clock, scheduler } = await setup({ freeCores: { '0': [0, 1] } }, 60_000);
    const closed = scheduler.openSession();
    const open = scheduler.openSession();
    allocated(closed.allocate(E1, 'SI-1', 1, 100));
    allocated(open.allocate(E1, 'SI-2', 1, 100));
    closed.close();
    expect(() => closed.allocate(E1, 'SI-3', 1, 1)).toThrow(/closed/);
    await clock.advance(60_000);
    expect(scheduler.reservationCount()).toBe(2);
    await clock.advance(1);
    expect(scheduler.reservationCount()).toBe(1);
    await clock.advance(10 * 60_000);
    expect(open.allocate(E1, 'SI-4', 1, 100).ok).toBe(true);
    expect(open.allocate(E1, 'SI-5', 1, 100).ok).toBe(false);
  });

  it('only ACTIVE and UNREADY executors can be allocated on; unknown ones are refused', async () => {
    const { scheduler, registry } = await setup();
    const session = scheduler.openSession();
    for (const [i, state] of (['UNREADY', 'BLACKLISTED', 'BLACKLIST_REQUESTED'] as ExecutorState[]).entries()) {
      await registry.heartbeat(nodeData({ executorState: state, updated: 1_700_000_001_000 + i }));
      const result = session.allocate(E1, `SI-${state}`, 1, 100);
      expect(result.ok).toBe(state === 'UNREADY');
      if (!result.ok) expect(result.reason).toContain(`is ${state}`);
    }
    const unknown = session.allocate('nope', 'SI-x', 1, 1);
    expect(unknown).toEqual({ ok: false, reason: 'Executor nope is not known' });
  });

  it('refuses an executor whose current tags do not satisfy the placement constraint (docs/design/placement.md#tag-constraints)', async () => {
    const { scheduler, registry } = await setup({ tags: ['gpu'] });
    const gpu: PlacementPolicy = { type: 'COMPOSITE', policies: [{ type: 'LOCAL' }, { type: 'MATCH_TAG', tag: 'gpu' }] };
    const session = scheduler.openSession();
    allocated(session.allocate(E1, 'SI-1', 1, 100, gpu));
    // The executor restarted without the tag after the plan was made.
    await registry.heartbeat(nodeData({ tags: ['ssd'], updated: 1_700_000_001_000 }));
    expect(session.allocate(E1, 'SI-2', 1, 100, gpu)).toEqual({
      ok: false,
      reason: `Executor ${E1} (ex1.local) has tags [ex1.local, ssd], which do not satisfy the placement constraint: tag gpu`,
    });
    expect(session.allocate(E1, 'SI-3', 1, 100, { type: 'LOCAL' }).ok).toBe(true);
    expect(session.allocate(E1, 'SI-4', 1, 100).ok).toBe(true);
  });

  it('refuses a second reservation for the same instance and invalid amounts', async () => {
    const { scheduler } = await setup();
    const session = scheduler.openSession();
    allocated(session.allocate(E1, 'SI-1', 1, 100));
    expect(session.allocate(E1, 'SI-1', 1, 100)).toEqual({ ok: false, reason: 'Instance SI-1 already has resources reserved' });
    expect(session.allocate(E1, 'SI-2', 1.5, 100).ok).toBe(false);
    expect(session.allocate(E1, 'SI-2', 1, -1).ok).toBe(false);
  });

  it('drops the reservations of an executor that is removed', async () => {
    const { clock, scheduler, registry } = await setup();
    allocated(scheduler.openSession().allocate(E1, 'SI-1', 1, 100));
    await clock.advance(45_001);
    await registry.sweepStale();
    expect(scheduler.reservationCount()).toBe(0);
  });

  it('property: allocations never overlap and never exceed any node capacity', async () => {
    const shapeArb = fc
      .array(fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 4096 })), { minLength: 1, maxLength: 3 })
      .map((nodes) => {
        const freeCores: Record<string, number[]> = {};
        const freeMemory: Record<string, number> = {};
        let next = 0;
        nodes.forEach(([cores, memory], node) => {
          freeCores[String(node)] = Array.from({ length: cores }, () => next++);
          freeMemory[String(node)] = memory;
        });
        return { freeCores, freeMemory };
      });
    const stepArb = fc.oneof(
      fc.record({
        kind: fc.constant('allocate' as const),
        session: fc.integer({ min: 0, max: 2 }),
        cpus: fc.integer({ min: 0, max: 4 }),
        memory: fc.integer({ min: 0, max: 2048 }),
      }),
      fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }),
    );
    await fc.assert(
      fc.asyncProperty(shapeArb, fc.array(stepArb, { maxLength: 40 }), async (shape, steps) => {
        const { scheduler } = await setup(shape);
        const sessions = [scheduler.openSession(), scheduler.openSession(), scheduler.openSession()];
        const live = new Map<string, ResourceAllocation[]>();
        let n = 0;
        for (const step of steps) {
          if (step.kind === 'allocate') {
            const id = `SI-${n++}`;
            const result = sessions[step.session]!.allocate(E1, id, step.cpus, step.memory);
            if (result.ok) live.set(id, result.resources);
          } else if (live.size > 0) {
            const id = [...live.keys()][step.pick % live.size]!;
            sessions[0]!.release(id);
            live.delete(id);
          }
          const usedCores = new Set<number>();
          const usedMemory: Record<string, number> = {};
          for (const resources of live.values()) {
            const cores = Object.entries(coresOf(resources));
            expect(cores.length).toBe(1);
            const [node, ids] = cores[0]!;
            for (const core of ids) {
              expect(usedCores.has(core)).toBe(false);
              expect(shape.freeCores[node]).toContain(core);
              usedCores.add(core);
            }
            const memory = resources.find((r) => r.type === 'MEMORY');
            if (memory?.type === 'MEMORY') {
              expect(Object.keys(memory.memoryInMB)).toEqual([node]);
              usedMemory[node] = (usedMemory[node] ?? 0) + memory.memoryInMB[node]!;
            }
          }
          for (const [node, mb] of Object.entries(usedMemory)) expect(mb).toBeLessThanOrEqual(shape.freeMemory[node]!);
        }
        await stores.pop()?.close();
      }),
      { numRuns: 150 },
    );
  });
});
