import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, executorIdOf, requiredInstanceCount, type LocalServiceInfo } from '../../../src/model/index.js';
import { EventLog } from '../../../src/controller/events.js';
import { ExecutorRegistry } from '../../../src/controller/cluster/registry.js';
import { resourceTotals } from '../../../src/controller/cluster/fleet-totals.js';
import { SqliteStateStore } from '../../../src/controller/store/sqlite.js';
import { nodeData, resourceSnapshot } from '../../support/records.js';
import { testSpec } from '../../support/specs.js';

const STALE_MS = 45_000;
const stores: SqliteStateStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

function setup() {
  const clock = new ManualClock();
  const store = new SqliteStateStore(':memory:');
  stores.push(store);
  const registry = new ExecutorRegistry({ clock, store, events: new EventLog(clock, { maxEventsStorageMs: 60_000 }), options: { staleExecutorAgeMs: STALE_MS } });
  return { clock, store, registry };
}

/** What the cluster summary used to add up on every read: the ACTIVE executors' snapshots. */
function walked(registry: ExecutorRegistry) {
  const sums = { numExecutors: 0, freeCores: 0, usedCores: 0, freeMemory: 0, usedMemory: 0 };
  for (const record of registry.all()) {
    if (record.state !== 'ACTIVE') continue;
    const part = resourceTotals(record.nodeData.state);
    sums.numExecutors++;
    sums.freeCores += part.freeCores;
    sums.usedCores += part.usedCores;
    sums.freeMemory += part.freeMemory;
    sums.usedMemory += part.usedMemory;
  }
  return sums;
}

describe('the ACTIVE executors resources the registry keeps (activeResources)', () => {
  it('equal the walk over the fleet through joins, snapshots, state changes, blacklisting, removal and a reload', async () => {
    const { clock, store, registry } = setup();
    const check = () => expect(registry.activeResources()).toEqual(walked(registry));
    let updated = 1_700_000_000_000;
    const beat = (hostname: string, shape: Parameters<typeof nodeData>[0] = {}) => registry.heartbeat(nodeData({ hostname, updated: ++updated, ...shape }));
    await beat('ex1.local');
    await beat('ex2.local', { freeCores: { '0': [0, 1], '1': [2] } });
    await beat('ex3.local', { executorState: 'UNREADY' });
    check();
    expect(registry.activeResources()).toMatchObject({ numExecutors: 2, freeCores: 11 });
    // A report's snapshot, then a heartbeat whose snapshot is older than it (kept), then a newer one.
    const e1 = executorIdOf('ex1.local', 3000);
    registry.resourceSnapshot(resourceSnapshot(e1, { freeCores: { '0': [0] } }), [{ updated: updated + 10 } as never]);
    check();
    expect(registry.activeResources().freeCores).toBe(4);
    await beat('ex1.local', { freeCores: { '0': [0, 1, 2] } });
    check();
    await registry.heartbeat(nodeData({ hostname: 'ex1.local', updated: updated + 20, freeCores: { '0': [0, 1, 2] } }));
    check();
    await beat('ex3.local');
    check();
    expect(registry.activeResources().numExecutors).toBe(3);
    registry.requestBlacklist(executorIdOf('ex2.local', 3000));
    check();
    registry.cancelBlacklistRequest(executorIdOf('ex2.local', 3000));
    check();
    await beat('ex2.local', { executorState: 'BLACKLISTED' });
    check();
    expect(registry.activeResources().numExecutors).toBe(2);
    await clock.advance(30_000);
    await beat('ex1.local');
    await clock.advance(STALE_MS - 29_000);
    expect(await registry.sweepStale()).toHaveLength(2);
    check();
    // ex1's last heartbeat was older than its held node data (updated + 20): only its liveness counted.
    expect(registry.activeResources()).toMatchObject({ numExecutors: 1, freeCores: 3 });
    await registry.flush();

    const reloaded = new ExecutorRegistry({ clock, store, events: new EventLog(clock, { maxEventsStorageMs: 60_000 }), options: { staleExecutorAgeMs: STALE_MS }, stored: (await store.load()).executors });
    expect(reloaded.activeResources()).toEqual(walked(reloaded));
    expect(reloaded.activeResources().numExecutors).toBe(1);
  });
});

describe('requiredInstances', () => {
  const service = (overrides: Partial<LocalServiceInfo> = {}): LocalServiceInfo => ({
    serviceId: 'TEST_SPEC-00001',
    spec: testSpec(),
    instancesPerHost: 2,
    activationState: 'ACTIVE',
    created: 1,
    updated: 1,
    ...overrides,
  });

  it('is requiredInstanceCount over the live executors, again after every change placement reads', async () => {
    const { clock, registry } = setup();
    const info = service();
    const tagged = service({ spec: { ...testSpec(), placementPolicy: { type: 'MATCH_TAG', tag: 'gpu' } } });
    const untagged = service({ spec: { ...testSpec(), placementPolicy: { type: 'NO_TAG' } } });
    const expectAll = () => {
      for (const s of [info, tagged, untagged]) expect(registry.requiredInstances(s)).toBe(requiredInstanceCount(s, registry.all()));
    };
    let updated = 1_700_000_000_000;
    const beat = (hostname: string, shape: Parameters<typeof nodeData>[0] = {}) => registry.heartbeat(nodeData({ hostname, updated: ++updated, ...shape }));
    await beat('ex1.local');
    expect(registry.requiredInstances(info)).toBe(2);
    await beat('ex2.local');
    expect(registry.requiredInstances(info)).toBe(4);
    expectAll();
    await beat('ex2.local', { tags: ['gpu'] });
    expect(registry.requiredInstances(tagged)).toBe(2);
    expectAll();
    await beat('ex2.local', { executorState: 'BLACKLISTED', tags: ['gpu'] });
    expect(registry.requiredInstances(tagged)).toBe(0);
    expectAll();
    // NO_TAG reads the hostname: an executor that reports another hostname with the same tags.
    const e1Moved = nodeData({ hostname: 'ex1.local', updated: ++updated });
    e1Moved.hostname = 'renamed.local';
    await registry.heartbeat(e1Moved);
    expect(registry.requiredInstances(untagged)).toBe(0);
    expectAll();
    // Another record of the service (its count changed) is counted afresh.
    expect(registry.requiredInstances({ ...info, instancesPerHost: 3 })).toBe(3);
    await clock.advance(STALE_MS + 1);
    await registry.sweepStale();
    expect(registry.requiredInstances(info)).toBe(0);
    expectAll();
  });
});
