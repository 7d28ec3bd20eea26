import { afterEach, describe, expect, it } from 'vitest';
import { WorkingSet } from '../../../src/controller/term/working-set.js';
import { SqliteStateStore } from '../../../src/controller/store/sqlite.js';
import { StoreUnavailableError } from '../../../src/controller/store/store.js';
import { countInstances, type DroveEventType, type LocalServiceInfo, type LocalServiceInstanceInfo, type LocalServiceInstanceState } from '../../../src/model/index.js';
import { testSpec } from '../../support/specs.js';
import { harness, type Harness } from '../../support/engine-harness.js';
import { instanceInfo } from '../../support/records.js';

const NOW = 1_700_000_000_000;

function info(serviceId = 'TEST_SPEC-00001'): LocalServiceInfo {
  return { serviceId, spec: testSpec(), instancesPerHost: 1, activationState: 'INACTIVE', created: NOW, updated: NOW };
}
function record(instanceId: string, state: LocalServiceInstanceState = 'HEALTHY', updated = NOW): LocalServiceInstanceInfo {
  return instanceInfo({ instanceId, executorId: 'E-1', state, created: NOW, updated });
}

describe('working set over the SQLite store (Drove\'s LocalServiceStateDBTest, adapted)', () => {
  const stores: SqliteStateStore[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
  });
  function setup() {
    const store = new SqliteStateStore(':memory:');
    stores.push(store);
    const events: Array<[DroveEventType, Record<string, string | number>]> = [];
    const ws = new WorkingSet(store, { emit: (type, metadata) => void events.push([type, metadata]) });
    return { store, ws, events };
  }

  it("keeps each service's records counted by state through reports, overwrites, deletes and a reload", async () => {
    const { store, ws } = setup();
    const S = 'TEST_SPEC-00001';
    const check = (w: WorkingSet = ws) => expect(w.instanceCounts(S)).toEqual(countInstances(w.instances(S)));
    await ws.putService(info());
    await ws.putService(info('OTHER-1'));
    check();
    await ws.applyReports([record('SI-1', 'PENDING'), record('SI-2', 'HEALTHY'), record('SI-3', 'UNREADY'), { ...record('SI-9', 'HEALTHY'), serviceId: 'OTHER-1' }]);
    check();
    expect(ws.instanceCounts(S)).toEqual({ healthy: 1, active: 3 });
    await ws.applyReports([record('SI-1', 'HEALTHY', NOW + 1), record('SI-3', 'STOPPED', NOW + 1), record('SI-2', 'READY', NOW - 1)]);
    check();
    expect(ws.instanceCounts(S)).toEqual({ healthy: 2, active: 2 });
    await ws.overwrite([{ ...ws.instance(S, 'SI-2')!, state: 'LOST', updated: NOW + 2 }]);
    check();
    expect(ws.instanceCounts(S)).toEqual({ healthy: 1, active: 1 });
    await ws.deleteInstances(S, ['SI-1', 'SI-404']);
    check();
    expect(ws.instanceCounts(S)).toEqual({ healthy: 0, active: 0 });
    await ws.applyReports([record('SI-4', 'HEALTHY', NOW + 3)]);
    const loaded = await store.load();
    const reloaded = new WorkingSet(store, { emit: () => undefined }, { ...loaded, loadedAt: NOW });
    check(reloaded);
    expect(reloaded.instanceCounts(S)).toEqual({ healthy: 1, active: 1 });
    expect(reloaded.instanceCounts('OTHER-1')).toEqual({ healthy: 1, active: 1 });
    await ws.deleteService(S);
    expect(ws.instanceCounts(S)).toEqual({ healthy: 0, active: 0 });
    expect(ws.instanceCounts('OTHER-1')).toEqual({ healthy: 1, active: 1 });
  });

  it('writes services through, and deleting a service removes its instances too', async () => {
    const { store, ws } = setup();
    await ws.putService(info());
    expect(ws.service('TEST_SPEC-00001')?.activationState).toBe('INACTIVE');
    await ws.putService({ ...info(), activationState: 'ACTIVE' });
    expect((await store.load()).services[0]!.activationState).toBe('ACTIVE');
    for (let i = 0; i < 9; i++) await ws.putService(info(`S-${i}`));
    expect(ws.services()).toHaveLength(10);
    await ws.applyReports([record('SI-1')]);
    await ws.deleteService('TEST_SPEC-00001');
    expect(ws.service('TEST_SPEC-00001')).toBeUndefined();
    expect(ws.instances('TEST_SPEC-00001')).toEqual([]);
    const stored = await store.load();
    expect(stored.services).toHaveLength(9);
    expect(stored.instances).toEqual([]);
  });

  it('keeps instance records, filters current ones by state and age, deletes some or all', async () => {
    const { store, ws } = setup();
    await ws.putService(info());
    await ws.applyReports(Array.from({ length: 10 }, (_, i) => record(`SI-${i}`)));
    const current = (now = NOW) => ws.currentInstances('TEST_SPEC-00001', now, 60_000);
    expect(current().filter((i) => i.state === 'HEALTHY')).toHaveLength(10);
    expect(current().filter((i) => i.state === 'UNHEALTHY')).toHaveLength(0);
    expect(ws.instance('TEST_SPEC-00001', 'SI-3')?.instanceId).toBe('SI-3');
    await ws.deleteInstances('TEST_SPEC-00001', ['SI-3']);
    expect(current()).toHaveLength(9);
    // A day later none of them is current any more, but all are still held.
    expect(current(NOW + 86_400_000)).toHaveLength(0);
    expect(ws.instances('TEST_SPEC-00001')).toHaveLength(9);
    await ws.deleteInstances('TEST_SPEC-00001', ws.instances('TEST_SPEC-00001').map((i) => i.instanceId));
    expect((await store.load()).instances).toEqual([]);
  });

  it('applies only newer reports, emits an event on a new record or a state change only, and drops unknown services', async () => {
    const { ws, events } = setup();
    await ws.putService(info());
    await ws.applyReports([record('SI-1', 'PENDING', NOW)]);
    await ws.applyReports([record('SI-1', 'HEALTHY', NOW + 2)]);
    await ws.applyReports([record('SI-1', 'PROVISIONING', NOW + 1)]);
    await ws.applyReports([record('SI-1', 'HEALTHY', NOW + 3)]);
    await ws.applyReports([{ ...record('SI-9'), serviceId: 'GONE-1' }]);
    expect(ws.instance('TEST_SPEC-00001', 'SI-1')).toMatchObject({ state: 'HEALTHY', updated: NOW + 3 });
    expect(events.map(([type, m]) => `${type}:${m.CURRENT_STATE}`)).toEqual([
      'LOCAL_SERVICE_INSTANCE_STATE_CHANGE:PENDING',
      'LOCAL_SERVICE_INSTANCE_STATE_CHANGE:HEALTHY',
    ]);
    expect(ws.instances('GONE-1')).toEqual([]);
  });

  it('orders two records of one millisecond by the lifecycle: a heartbeat saying READY after the report saying HEALTHY does not undo it', async () => {
    const { ws } = setup();
    await ws.putService(info());
    await ws.applyReports([record('SI-1', 'UNREADY', NOW), record('SI-1', 'READY', NOW), record('SI-1', 'HEALTHY', NOW)]);
    expect(ws.instance('TEST_SPEC-00001', 'SI-1')?.state).toBe('HEALTHY');
    // The heartbeat was built between READY and HEALTHY, in the same millisecond, and arrived last.
    await ws.applyReports([record('SI-1', 'READY', NOW)]);
    expect(ws.instance('TEST_SPEC-00001', 'SI-1')?.state).toBe('HEALTHY');
    // The same for a stop: STOPPING is not undone by a HEALTHY of its millisecond.
    await ws.applyReports([record('SI-1', 'STOPPING', NOW + 5)]);
    await ws.applyReports([record('SI-1', 'HEALTHY', NOW + 5)]);
    expect(ws.instance('TEST_SPEC-00001', 'SI-1')?.state).toBe('STOPPING');
    // A later millisecond still wins whatever its state (the controller's own LOST marking aside, the executor is the truth).
    await ws.applyReports([record('SI-1', 'HEALTHY', NOW + 6)]);
    expect(ws.instance('TEST_SPEC-00001', 'SI-1')?.state).toBe('HEALTHY');
  });

  it('keeps a heartbeat\'s refresh (only `updated` newer) in memory without a store write; any other change is written', async () => {
    const { store, ws } = setup();
    await ws.putService(info());
    await ws.applyReports([record('SI-1')]);
    let puts = 0;
    const put = store.putInstances.bind(store);
    store.putInstances = async (records) => {
      puts++;
      return put(records);
    };
    const changes = await ws.applyReports([record('SI-1', 'HEALTHY', NOW + 20_000)]);
    expect(changes).toHaveLength(1);
    expect(puts).toBe(0);
    expect(ws.instance('TEST_SPEC-00001', 'SI-1')?.updated).toBe(NOW + 20_000);
    expect((await store.load()).instances[0]!.updated).toBe(NOW);
    await ws.applyReports([{ ...record('SI-1', 'HEALTHY', NOW + 40_000), metadata: { zone: 'b' } }]);
    await ws.applyReports([record('SI-1', 'UNHEALTHY', NOW + 60_000)]);
    expect(puts).toBe(2);
    expect((await store.load()).instances[0]).toMatchObject({ state: 'UNHEALTHY', updated: NOW + 60_000 });
  });

  it('holds frozen records, loaded or reported: a change is a new record, which the API\'s per-record JSON relies on', async () => {
    const { store, ws } = setup();
    await ws.putService(info());
    await ws.applyReports([record('SI-1', 'PENDING')]);
    const held = ws.instance('TEST_SPEC-00001', 'SI-1')!;
    expect(Object.isFrozen(held)).toBe(true);
    expect(() => {
      (held as { state: string }).state = 'HEALTHY';
    }).toThrow(TypeError);
    await ws.applyReports([record('SI-1', 'HEALTHY', NOW + 1)]);
    const next = ws.instance('TEST_SPEC-00001', 'SI-1')!;
    expect(next).not.toBe(held);
    expect([held.state, next.state]).toEqual(['PENDING', 'HEALTHY']);
    const stored = await store.load();
    const loaded = new WorkingSet(store, { emit: () => {} }, { ...stored, loadedAt: NOW });
    expect(Object.isFrozen(loaded.instance('TEST_SPEC-00001', 'SI-1'))).toBe(true);
  });

  it('leaves memory untouched when the store refuses a write', async () => {
    const { store, ws } = setup();
    await ws.putService(info());
    await ws.applyReports([record('SI-1', 'PENDING')]);
    store.putInstances = async () => {
      throw new StoreUnavailableError('disk full');
    };
    await expect(ws.applyReports([record('SI-1', 'HEALTHY', NOW + 1)])).rejects.toThrow('disk full');
    expect(ws.instance('TEST_SPEC-00001', 'SI-1')?.state).toBe('PENDING');
    store.putService = async () => {
      throw new StoreUnavailableError('disk full');
    };
    await expect(ws.putService({ ...info(), activationState: 'ACTIVE' })).rejects.toThrow('disk full');
    expect(ws.service('TEST_SPEC-00001')?.activationState).toBe('INACTIVE');
  });
});

describe('store failures in the engine', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it('a CREATE whose record cannot be stored ends DESTROYED and leaves no state machine', async () => {
    h = await harness();
    h.store.putService = async () => {
      throw new StoreUnavailableError('disk full');
    };
    expect((await h.controller.submitOperation({ type: 'CREATE', spec: testSpec(), instancesPerHost: 1 })).ok).toBe(true);
    await h.until(() => h.controller.term!.engine.stateOf('TEST_SPEC-00001') === undefined);
    expect(h.controller.serviceSummary('TEST_SPEC-00001')).toBeUndefined();
  });

  it('an ACTIVATE whose write fails falls back to the stored state', async () => {
    h = await harness();
    await h.submit({ type: 'CREATE', spec: testSpec(), instancesPerHost: 1 });
    await h.until(() => h.controller.serviceSummary('TEST_SPEC-00001')?.state === 'INACTIVE');
    h.store.putService = async () => {
      throw new StoreUnavailableError('disk full');
    };
    await h.submit({ type: 'ACTIVATE', serviceId: 'TEST_SPEC-00001' });
    await h.until(() => h.states.filter(([, s]) => s === 'INACTIVE').length === 2);
    expect(h.controller.serviceSummary('TEST_SPEC-00001')).toMatchObject({ state: 'INACTIVE', activationState: 'INACTIVE' });
  });

  it('a report the store cannot take is accepted (queued, as in Drove) and repaired by the next heartbeat', async () => {
    h = await harness();
    await h.submit({ type: 'CREATE', spec: testSpec(), instancesPerHost: 1 });
    await h.until(() => h.controller.serviceSummary('TEST_SPEC-00001')?.state === 'INACTIVE');
    const executor = await h.fleet.add('ex1.local');
    const put = h.store.putInstances.bind(h.store);
    h.store.putInstances = async () => {
      throw new StoreUnavailableError('disk full');
    };
    const report = { ...record('SI-1'), executorId: executor.executorId, updated: h.clock.now() };
    const answer = await h.controller.handleControllerMessage({
      type: 'LOCAL_SERVICE_INSTANCE_STATE_REPORT',
      header: { id: 'x', senderType: 'EXECUTOR', direction: 'REQUEST', messageTime: 1 },
      resourceSnapshot: executor.snapshot(),
      instanceInfo: report,
    });
    expect(answer).toMatchObject({ status: 'ACCEPTED' });
    await h.clock.advance(0);
    expect(h.controller.serviceInstance('TEST_SPEC-00001', 'SI-1')).toBeUndefined();
    h.store.putInstances = put;
    await h.clock.advance(1_000);
    const answerHb = await h.controller.handleControllerMessage({
      type: 'EXECUTOR_SNAPSHOT',
      header: { id: 'y', senderType: 'EXECUTOR', direction: 'REQUEST', messageTime: 2 },
      nodeData: { ...executor.nodeData(h.clock.now()), serviceInstances: [{ ...report, updated: h.clock.now() }] },
    });
    expect(answerHb.status).toBe('ACCEPTED');
    expect(h.controller.serviceInstance('TEST_SPEC-00001', 'SI-1')?.state).toBe('HEALTHY');
    expect((await h.store.load()).instances.map((i) => i.instanceId)).toEqual(['SI-1']);
  });
});
