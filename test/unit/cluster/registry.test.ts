import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock, executorIdOf } from '../../../src/model/index.js';
import { EventLog } from '../../../src/controller/events.js';
import { ExecutorRegistry, type ExecutorChange, type ExecutorRegistryOptions } from '../../../src/controller/cluster/registry.js';
import { SqliteStateStore } from '../../../src/controller/store/sqlite.js';
import type { StoredExecutor } from '../../../src/controller/store/store.js';
import { instanceInfo, nodeData, resourceSnapshot } from '../../support/records.js';

const STALE_MS = 45_000;
const TWO_DAYS = 2 * 24 * 60 * 60 * 1000;
const E1 = executorIdOf('ex1.local', 3000);
const E2 = executorIdOf('ex2.local', 3000);

const stores: SqliteStateStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

function setup(options: Partial<ExecutorRegistryOptions> = {}, stored?: readonly StoredExecutor[]) {
  const clock = new ManualClock();
  const events = new EventLog(clock, { maxEventsStorageMs: 60 * 60_000 });
  const store = new SqliteStateStore(':memory:');
  stores.push(store);
  const registry = new ExecutorRegistry({
    clock,
    store,
    events,
    options: { staleExecutorAgeMs: STALE_MS, ...options },
    ...(stored ? { stored } : {}),
  });
  const changes: ExecutorChange[] = [];
  registry.onChange((c) => changes.push(c));
  const eventTypes = () => events.latest(0, 1000).events.map((e) => e.type).reverse();
  return { clock, events, store, registry, changes, eventTypes };
}

describe('ExecutorRegistry', () => {
  it('a first heartbeat adds the executor: EXECUTOR_ADDED, a joined change, and the node data persisted', async () => {
    const { registry, store, changes, events } = setup();
    const data = nodeData();
    await registry.heartbeat(data);
    expect(registry.byId(E1)).toMatchObject({ executorId: E1, state: 'ACTIVE', nodeData: data });
    expect(events.latest(0, 10).events[0]).toMatchObject({
      type: 'EXECUTOR_ADDED',
      metadata: { EXECUTOR_ID: E1, HOSTNAME: 'ex1.local', PORT: 3000 },
    });
    expect(changes).toEqual([{ kind: 'joined', executorId: E1, state: 'ACTIVE' }]);
    expect((await store.load()).executors).toEqual([{ executorId: E1, nodeData: data }]);
  });

  it('hands out the same record while an executor is unchanged, and a new one after each change of it', async () => {
    const { clock, registry } = setup();
    await registry.heartbeat(nodeData());
    await registry.heartbeat(nodeData({ hostname: 'ex2.local' }));
    const [first, second] = registry.all();
    expect(registry.all()[0]).toBe(first);
    expect(registry.byId(E1)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    await clock.advance(1_000);
    await registry.heartbeat(nodeData({ updated: 1_700_000_001_000 }));
    const seen = registry.byId(E1)!;
    expect(seen).not.toBe(first);
    expect(seen.lastSeen).toBe(first!.lastSeen + 1_000);
    expect(registry.byId(E2)).toBe(second);
    registry.markReported(E1);
    expect(registry.byId(E1)).toMatchObject({ reported: true });
    expect(registry.requestBlacklist(E2)).toBe(true);
    expect(registry.byId(E2)!.state).not.toBe(second!.state);
  });

  it('removes an executor silent for longer than staleExecutorAge and remembers it as last known', async () => {
    const { clock, registry, store, changes, eventTypes } = setup();
    await registry.heartbeat(nodeData());
    await registry.heartbeat(nodeData({ hostname: 'ex2.local' }));
    await clock.advance(30_000);
    await registry.heartbeat(nodeData({ hostname: 'ex2.local', updated: 1_700_000_030_000 }));
    await clock.advance(STALE_MS - 30_000);
    expect(await registry.sweepStale()).toEqual([]);
    await clock.advance(1);
    expect(await registry.sweepStale()).toEqual([E1]);
    expect(registry.byId(E1)).toBeUndefined();
    expect(registry.lastKnown(E1)).toMatchObject({ executorId: E1, removedAt: clock.now() });
    expect(eventTypes()).toEqual(['EXECUTOR_ADDED', 'EXECUTOR_ADDED', 'EXECUTOR_REMOVED']);
    expect(changes.at(-1)).toEqual({ kind: 'left', executorId: E1 });
    const stored = (await store.load()).executors;
    expect(stored.find((e) => e.executorId === E1)?.removedAt).toBe(clock.now());
    expect(stored.find((e) => e.executorId === E2)?.removedAt).toBeUndefined();
  });

  it('forgets last-known executors after two days, also in the store', async () => {
    const { clock, registry, store } = setup();
    await registry.heartbeat(nodeData());
    await clock.advance(STALE_MS + 1);
    await registry.sweepStale();
    await clock.advance(TWO_DAYS);
    await registry.sweepStale();
    expect(registry.lastKnown(E1)).toBeDefined();
    await clock.advance(1);
    await registry.sweepStale();
    expect(registry.lastKnown(E1)).toBeUndefined();
    expect((await store.load()).executors).toEqual([]);
  });

  it('a removed executor that heartbeats again is added again', async () => {
    const { clock, registry, eventTypes } = setup();
    await registry.heartbeat(nodeData());
    await clock.advance(STALE_MS + 1);
    await registry.sweepStale();
    await registry.heartbeat(nodeData({ updated: 1_700_000_100_000 }));
    expect(registry.lastKnown(E1)).toBeUndefined();
    expect(registry.byId(E1)?.state).toBe('ACTIVE');
    expect(eventTypes()).toEqual(['EXECUTOR_ADDED', 'EXECUTOR_REMOVED', 'EXECUTOR_ADDED']);
  });

  it('built from the store, it gives stored executors a full staleness period and keeps removed ones as last known', async () => {
    const now = new ManualClock().now();
    const { clock, registry, changes, eventTypes } = setup({}, [
      { executorId: E1, nodeData: nodeData({ updated: now - 10 * 60_000 }) },
      { executorId: E2, nodeData: nodeData({ hostname: 'ex2.local' }), removedAt: now - 60_000 },
      { executorId: 'ancient', nodeData: nodeData({ hostname: 'old.local' }), removedAt: now - TWO_DAYS - 1 },
    ]);
    expect(clock.now()).toBe(now);
    expect(registry.all().map((r) => r.executorId)).toEqual([E1]);
    expect(registry.lastKnown(E2)?.removedAt).toBe(now - 60_000);
    expect(registry.lastKnown('ancient')).toBeUndefined();
    expect(changes).toEqual([]);
    expect(eventTypes()).toEqual([]);
    await clock.advance(STALE_MS);
    expect(await registry.sweepStale()).toEqual([]);
    await clock.advance(1);
    expect(await registry.sweepStale()).toEqual([E1]);
  });

  it('summaries have Drove\'s shape (key order, counts, MB) with removed executors last as REMOVED', async () => {
    const { clock, registry } = setup();
    const busy = nodeData({ hostname: 'ex2.local', freeCores: { '0': [0, 1], '1': [4] }, freeMemory: { '0': 1000, '1': 24 } });
    busy.state.cpus.usedCores = { '0': [2, 3] };
    busy.state.memory.usedMemory = { '0': 128 };
    await registry.heartbeat(nodeData());
    await clock.advance(STALE_MS + 1);
    await registry.sweepStale();
    await registry.heartbeat(busy);
    const summaries = registry.summaries();
    expect(summaries.map((s) => Object.keys(s))).toEqual([
      ['executorId', 'hostname', 'port', 'transportType', 'freeCores', 'usedCores', 'freeMemory', 'usedMemory', 'tags', 'state'],
      ['executorId', 'hostname', 'port', 'transportType', 'freeCores', 'usedCores', 'freeMemory', 'usedMemory', 'tags', 'state'],
    ]);
    expect(summaries).toEqual([
      {
        executorId: E2,
        hostname: 'ex2.local',
        port: 3000,
        transportType: 'HTTP',
        freeCores: 3,
        usedCores: 2,
        freeMemory: 1024,
        usedMemory: 128,
        tags: ['ex2.local'],
        state: 'ACTIVE',
      },
      expect.objectContaining({ executorId: E1, freeCores: 8, usedCores: 0, freeMemory: 16384, state: 'REMOVED' }),
    ]);
  });

  it('overlays a controller blacklist request until the executor confirms, with events at each step', async () => {
    const { registry, changes, eventTypes } = setup();
    await registry.heartbeat(nodeData());
    expect(registry.requestBlacklist(E1)).toBe(true);
    expect(registry.byId(E1)?.state).toBe('BLACKLIST_REQUESTED');
    expect(registry.reportedState(E1)).toBe('ACTIVE');
    // A heartbeat built before the executor processed the message does not undo the request.
    await registry.heartbeat(nodeData({ updated: 1_700_000_001_000 }));
    expect(registry.byId(E1)?.state).toBe('BLACKLIST_REQUESTED');
    await registry.heartbeat(nodeData({ updated: 1_700_000_002_000, executorState: 'BLACKLISTED' }));
    expect(registry.byId(E1)?.state).toBe('BLACKLISTED');
    await registry.heartbeat(nodeData({ updated: 1_700_000_003_000, executorState: 'UNREADY' }));
    expect(registry.byId(E1)?.state).toBe('UNREADY');
    expect(eventTypes()).toEqual([
      'EXECUTOR_ADDED',
      'EXECUTOR_BLACKLIST_REQUESTED',
      'EXECUTOR_BLACKLISTED',
      'EXECUTOR_UN_BLACKLISTED',
    ]);
    expect(changes.slice(1)).toEqual([
      { kind: 'stateChanged', executorId: E1, previous: 'ACTIVE', state: 'BLACKLIST_REQUESTED' },
      { kind: 'stateChanged', executorId: E1, previous: 'BLACKLIST_REQUESTED', state: 'BLACKLISTED' },
      { kind: 'stateChanged', executorId: E1, previous: 'BLACKLISTED', state: 'UNREADY' },
    ]);
  });

  it('cancelling a blacklist request restores the executor state; unknown ids are refused', async () => {
    const { registry, eventTypes } = setup();
    await registry.heartbeat(nodeData());
    registry.requestBlacklist(E1);
    registry.cancelBlacklistRequest(E1);
    expect(registry.byId(E1)?.state).toBe('ACTIVE');
    expect(eventTypes()).toEqual(['EXECUTOR_ADDED', 'EXECUTOR_BLACKLIST_REQUESTED', 'EXECUTOR_UN_BLACKLISTED']);
    expect(registry.requestBlacklist('nope')).toBe(false);
  });

  it('UNREADY -> ACTIVE is a state change without a blacklist event', async () => {
    const { registry, changes, eventTypes } = setup();
    await registry.heartbeat(nodeData({ executorState: 'UNREADY' }));
    await registry.heartbeat(nodeData({ executorState: 'ACTIVE', updated: 1_700_000_001_000 }));
    expect(changes.at(-1)).toEqual({ kind: 'stateChanged', executorId: E1, previous: 'UNREADY', state: 'ACTIVE' });
    expect(eventTypes()).toEqual(['EXECUTOR_ADDED']);
  });

  it('ignores a heartbeat older than the one held, except for liveness', async () => {
    const { clock, registry } = setup();
    await registry.heartbeat(nodeData({ updated: 1_700_000_010_000, executorState: 'UNREADY' }));
    await clock.advance(40_000);
    await registry.heartbeat(nodeData({ updated: 1_700_000_005_000, executorState: 'ACTIVE' }));
    expect(registry.byId(E1)?.state).toBe('UNREADY');
    expect(registry.byId(E1)?.lastSeen).toBe(clock.now());
    await clock.advance(40_000);
    expect(await registry.sweepStale()).toEqual([]);
  });

  it('takes newer resource snapshots from instance reports and tells resource listeners which instances they cover', async () => {
    const { clock, registry } = setup();
    const seen: Array<[string, readonly string[]]> = [];
    registry.onResources((id, ids) => seen.push([id, ids]));
    await registry.heartbeat(nodeData({ updated: 1_700_000_000_000 }));
    await clock.advance(44_000);
    const smaller = resourceSnapshot(E1, { freeCores: { '0': [1, 2] } });
    expect(registry.resourceSnapshot(smaller, [instanceInfo({ executorId: E1, instanceId: 'SI-1', state: 'PENDING', updated: 1_700_000_001_000 })])).toBe(true);
    expect(registry.byId(E1)?.nodeData.state).toEqual(smaller);
    expect(registry.byId(E1)?.lastSeen).toBe(clock.now());
    // An older report arriving late does not roll the snapshot back.
    expect(registry.resourceSnapshot(resourceSnapshot(E1), [instanceInfo({ executorId: E1, instanceId: 'SI-0', state: 'PENDING', updated: 1_700_000_000_500 })])).toBe(false);
    expect(registry.byId(E1)?.nodeData.state).toEqual(smaller);
    // A heartbeat built before that report keeps the newer snapshot but takes the rest.
    await registry.heartbeat(nodeData({ updated: 1_700_000_000_800, executorState: 'UNREADY' }));
    expect(registry.byId(E1)?.nodeData.state).toEqual(smaller);
    expect(registry.byId(E1)?.state).toBe('UNREADY');
    expect(registry.resourceSnapshot(resourceSnapshot('unknown'), [instanceInfo({ executorId: 'unknown', instanceId: 'SI-2', state: 'PENDING', updated: 1 })])).toBe(false);
    expect(seen).toEqual([
      [E1, []],
      [E1, ['SI-1']],
    ]);
    await clock.advance(44_000);
    expect(await registry.sweepStale()).toEqual([]);
  });

  it('batches store writes: heartbeats of N executors in one event-loop turn cost one putExecutors', async () => {
    const { registry, store } = setup();
    const batch = vi.spyOn(store, 'putExecutors');
    const single = vi.spyOn(store, 'putExecutor');
    const hosts = Array.from({ length: 50 }, (_, i) => `h${i}`);
    await Promise.all(hosts.map((hostname) => registry.heartbeat(nodeData({ hostname }))));
    expect(batch).toHaveBeenCalledTimes(1);
    expect(batch.mock.calls[0]![0].map((r) => r.nodeData.hostname)).toEqual(hosts);
    expect(single).not.toHaveBeenCalled();
    expect((await store.load()).executors).toHaveLength(50);
  });

  it('a burst for one executor costs at most two writes, the last one wins, and writes never overlap', async () => {
    const { registry, store } = setup();
    let inFlight = 0;
    let overlapped = false;
    const put = store.putExecutors.bind(store);
    const spy = vi.spyOn(store, 'putExecutors').mockImplementation(async (records) => {
      overlapped ||= inFlight > 0;
      inFlight++;
      await new Promise<void>((resolve) => setImmediate(resolve));
      await put(records);
      inFlight--;
    });
    const first = registry.heartbeat(nodeData({ updated: 1_700_000_000_000, executorState: 'UNREADY' }));
    await new Promise<void>((resolve) => setImmediate(resolve));
    // The first write is in flight now; these wait for it and then share one write of the newest data.
    const rest = [];
    for (let i = 1; i < 10; i++) rest.push(registry.heartbeat(nodeData({ updated: 1_700_000_000_000 + i })));
    await Promise.all([first, ...rest]);
    expect(spy).toHaveBeenCalledTimes(2);
    expect(overlapped).toBe(false);
    expect((await store.load()).executors[0]?.nodeData.updated).toBe(1_700_000_000_009);
  });

  it('heartbeat() resolves only once its node data is persisted', async () => {
    const { registry, store } = setup();
    let resolved = false;
    const done = registry.heartbeat(nodeData()).then(() => (resolved = true));
    expect(resolved).toBe(false);
    expect((await store.load()).executors).toEqual([]);
    await done;
    expect((await store.load()).executors).toHaveLength(1);
  });

  it('a positive write window gathers heartbeats over that many ms on the injected clock', async () => {
    const { clock, registry, store } = setup({ storeWriteWindowMs: 5 });
    const batch = vi.spyOn(store, 'putExecutors');
    let resolved = 0;
    const first = registry.heartbeat(nodeData({ hostname: 'a' })).then(() => resolved++);
    await clock.advance(3);
    const second = registry.heartbeat(nodeData({ hostname: 'b' })).then(() => resolved++);
    await clock.advance(1);
    expect(batch).not.toHaveBeenCalled();
    expect(resolved).toBe(0);
    await clock.advance(1);
    await Promise.all([first, second]);
    expect(batch).toHaveBeenCalledTimes(1);
    expect(batch.mock.calls[0]![0].map((r) => r.nodeData.hostname)).toEqual(['a', 'b']);
  });

  it('flush() writes at once without waiting out the window (shutdown)', async () => {
    const { registry, store } = setup({ storeWriteWindowMs: 60_000 });
    const written = registry.heartbeat(nodeData());
    await registry.flush();
    await written;
    expect((await store.load()).executors).toHaveLength(1);
  });

  it('a heartbeat that changes nothing but timestamps is not written again; any other change is', async () => {
    const { registry, store } = setup();
    const served = instanceInfo({ executorId: E1, instanceId: 'SI-1', state: 'PENDING', updated: 1_700_000_000_000 });
    await registry.heartbeat(nodeData({ serviceInstances: [served] }));
    const batch = vi.spyOn(store, 'putExecutors');
    await registry.heartbeat(nodeData({ updated: 1_700_000_020_000, serviceInstances: [{ ...served, updated: 1_700_000_020_000 }] }));
    expect(batch).not.toHaveBeenCalled();
    const changes: Array<Parameters<typeof nodeData>[0]> = [
      { executorState: 'UNREADY' },
      { freeCores: { '0': [0, 1, 2] } },
      { serviceInstances: [{ ...served, state: 'HEALTHY' }] },
      { serviceInstances: [] },
      { port: 3001 },
    ];
    for (const [i, change] of changes.entries()) {
      await registry.heartbeat(nodeData({ updated: 1_700_000_040_000 + i, ...change }));
    }
    expect(batch).toHaveBeenCalledTimes(changes.length);
    const tagged = nodeData({ updated: 1_700_000_050_000 });
    tagged.tags = ['ex1.local', 'gpu'];
    await registry.heartbeat(tagged);
    expect(batch).toHaveBeenCalledTimes(changes.length + 1);
    expect((await store.load()).executors.find((e) => e.executorId === E1)?.nodeData.tags).toEqual(['ex1.local', 'gpu']);
  });

  it('a registry built from the store does not rewrite the records it holds until they change', async () => {
    const { registry: previous, store, clock, events } = setup();
    await previous.heartbeat(nodeData());
    const registry = new ExecutorRegistry({
      clock,
      store,
      events,
      options: { staleExecutorAgeMs: STALE_MS },
      stored: (await store.load()).executors,
    });
    const batch = vi.spyOn(store, 'putExecutors');
    await registry.heartbeat(nodeData({ updated: 1_700_000_020_000 }));
    expect(batch).not.toHaveBeenCalled();
    await registry.heartbeat(nodeData({ updated: 1_700_000_040_000, executorState: 'UNREADY' }));
    expect(batch).toHaveBeenCalledTimes(1);
  });

  it('a failing store write rejects every heartbeat of the batch but keeps the in-memory view, and is retried', async () => {
    const { registry, store } = setup();
    vi.spyOn(store, 'putExecutors').mockRejectedValueOnce(new Error('disk full'));
    const results = await Promise.allSettled([registry.heartbeat(nodeData()), registry.heartbeat(nodeData({ hostname: 'ex2.local' }))]);
    expect(results.map((r) => r.status === 'rejected' && (r.reason as Error).message)).toEqual(['disk full', 'disk full']);
    expect(registry.byId(E1)).toBeDefined();
    // Nothing changed but the timestamp, yet the failed copy is unknown, so it is written.
    await registry.heartbeat(nodeData({ updated: 1_700_000_000_001 }));
    expect((await store.load()).executors).toHaveLength(1);
  });

  it('a throwing change listener does not stop ingestion or other listeners', async () => {
    const { registry, changes } = setup();
    registry.onChange(() => {
      throw new Error('boom');
    });
    const seen: ExecutorChange[] = [];
    registry.onChange((c) => seen.push(c));
    await registry.heartbeat(nodeData());
    expect(registry.byId(E1)).toBeDefined();
    expect(seen).toEqual(changes);
    expect(seen).toHaveLength(1);
  });

  it('a live executor\'s record carries its message address', async () => {
    const { registry } = setup();
    await registry.heartbeat(nodeData());
    expect(registry.byId(E1)?.address).toEqual({ executorId: E1, hostname: 'ex1.local', port: 3000, transportType: 'HTTP' });
  });
});

describe('ExecutorRegistry in disruption mode (most of the fleet silent at once)', () => {
  const hosts = Array.from({ length: 10 }, (_, i) => `ex${i}.local`);
  const idOf = (host: string) => executorIdOf(host, 3000);

  async function fleetOf(setupResult: ReturnType<typeof setup>) {
    for (const hostname of hosts) await setupResult.registry.heartbeat(nodeData({ hostname }));
  }

  it('holds a mass of stale executors as members (no EXECUTOR_REMOVED) and lets them resume', async () => {
    const s = setup();
    await fleetOf(s);
    await s.clock.advance(STALE_MS - 10_000);
    // Only three got through before the controller stalled.
    for (const hostname of hosts.slice(0, 3)) await s.registry.heartbeat(nodeData({ hostname, updated: 1_700_000_035_000 }));
    await s.clock.advance(10_001);
    expect(await s.registry.sweepStale()).toEqual([]);
    expect([...s.registry.heldStale()].sort()).toEqual(hosts.slice(3).map(idOf).sort());
    expect(s.registry.all()).toHaveLength(10);
    expect(s.eventTypes()).not.toContain('EXECUTOR_REMOVED');
    // The backlog drains: their heartbeats arrive, nothing is held any more.
    for (const hostname of hosts.slice(3)) await s.registry.heartbeat(nodeData({ hostname, updated: 1_700_000_060_000 }));
    expect(await s.registry.sweepStale()).toEqual([]);
    expect(s.registry.heldStale().size).toBe(0);
  });

  it('still removes a single dead executor of a healthy fleet', async () => {
    const s = setup();
    await fleetOf(s);
    await s.clock.advance(STALE_MS - 10_000);
    for (const hostname of hosts.slice(1)) await s.registry.heartbeat(nodeData({ hostname, updated: 1_700_000_035_000 }));
    await s.clock.advance(10_001);
    expect(await s.registry.sweepStale()).toEqual([idOf(hosts[0]!)]);
    expect(s.registry.heldStale().size).toBe(0);
  });

  it('removes held executors that stay silent past the hold (most of the fleet really died)', async () => {
    const s = setup({ disruption: { massStaleShare: 0.5, minExecutors: 10, maxHoldMs: 60_000 } });
    await fleetOf(s);
    await s.clock.advance(STALE_MS + 60_000);
    expect(await s.registry.sweepStale()).toEqual([]);
    expect(s.registry.heldStale().size).toBe(10);
    await s.clock.advance(1);
    expect((await s.registry.sweepStale()).sort()).toEqual(hosts.map(idOf).sort());
    expect(s.registry.heldStale().size).toBe(0);
  });
});
