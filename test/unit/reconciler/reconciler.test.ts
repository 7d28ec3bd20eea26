import { NO_METRICS } from '../../../src/controller/metrics/hooks.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { harness, type Harness } from '../../support/engine-harness.js';
import { testSpec } from '../../support/specs.js';
import { Reconciler, VANISHED_INSTANCE_GRACE_MS } from '../../../src/controller/reconcile/reconciler.js';
import { StoreUnavailableError } from '../../../src/controller/store/store.js';
import { resolveOptions, ControllerOptionsSchema } from '../../../src/controller/config.js';
import { ManualClock, type LocalServiceState } from '../../../src/model/index.js';
import type { LocalServiceEngine } from '../../../src/controller/engine/local-service-engine.js';
import type { WorkingSet } from '../../../src/controller/term/working-set.js';

const ID = 'TEST_SPEC-00001';

describe('reconciler (Drove\'s LocalServiceMonitorTest, adapted)', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  const state = () => h.controller.serviceSummary(ID)?.state;
  const adjustCount = () => h.states.filter(([, s]) => s === 'ADJUSTING_INSTANCES').length;
  const healthy = () => h.controller.serviceInstances(ID, ['HEALTHY']);

  async function service(activation: 'ACTIVE' | 'CONFIG_TESTING' | 'INACTIVE', instancesPerHost: number, executors: number) {
    h = await harness();
    for (let i = 0; i < executors; i++) await h.fleet.add(`ex${i}.local`);
    h.fleet.startHeartbeats(20_000);
    await h.submit({ type: 'CREATE', spec: testSpec(), instancesPerHost });
    await h.until(() => state() === 'INACTIVE');
    if (activation === 'ACTIVE') await h.submit({ type: 'ACTIVATE', serviceId: ID });
    if (activation === 'CONFIG_TESTING') await h.submit({ type: 'DEPLOY_TEST_INSTANCE', serviceId: ID });
    await h.until(() => state() === activation);
  }

  it('scales an ACTIVE service up to instancesPerHost on every executor with one ADJUST, then stays quiet', async () => {
    await service('ACTIVE', 3, 5);
    await h.until(() => state() === 'ACTIVE' && healthy().length === 15);
    await h.clock.advance(30_000);
    expect(adjustCount()).toBe(1);
    for (const executor of h.fleet.executors.values()) expect(executor.running()).toHaveLength(3);
  });

  it('runs exactly one test instance for a CONFIG_TESTING service', async () => {
    await service('CONFIG_TESTING', 3, 5);
    await h.until(() => state() === 'CONFIG_TESTING' && healthy().length === 1);
    await h.clock.advance(30_000);
    expect(adjustCount()).toBe(1);
    expect(h.fleet.running()).toHaveLength(1);
  });

  it('removes extra CONFIG_TESTING instances instead of adding more', async () => {
    await service('ACTIVE', 1, 3);
    await h.until(() => state() === 'ACTIVE' && healthy().length === 3);
    await h.submit({ type: 'DEACTIVATE', serviceId: ID });
    await h.until(() => state() === 'INACTIVE' && h.fleet.running().length === 0);
    // Three running instances appear while testing (e.g. left over from before a leader change).
    await h.submit({ type: 'DEPLOY_TEST_INSTANCE', serviceId: ID });
    await h.until(() => state() === 'CONFIG_TESTING' && healthy().length === 1);
    expect(h.fleet.running()).toHaveLength(1);
  });

  it('stops every instance of an INACTIVE service with one ADJUST', async () => {
    await service('ACTIVE', 3, 5);
    await h.until(() => state() === 'ACTIVE' && healthy().length === 15);
    await h.submit({ type: 'DEACTIVATE', serviceId: ID });
    await h.until(() => state() === 'INACTIVE' && h.fleet.running().length === 0);
    await h.clock.advance(30_000);
    expect(adjustCount()).toBe(2);
    expect(h.controller.serviceInstances(ID)).toEqual([]);
  });

  it('stops instances on blacklisted executors through the reconciler (not a STOP_INSTANCES that fails)', async () => {
    await service('ACTIVE', 1, 5);
    await h.until(() => state() === 'ACTIVE' && healthy().length === 5);
    for (const executor of h.fleet.executors.values()) executor.state = 'BLACKLISTED';
    await h.fleet.heartbeatAll();
    await h.until(() => h.fleet.running().length === 0);
    await h.clock.advance(30_000);
    expect(adjustCount()).toBe(2);
    expect(h.fleet.sent.filter((m) => m.type === 'START_LOCAL_SERVICE_INSTANCE')).toHaveLength(5);
  });

  it('starts instances on a joining executor at once, without waiting for the periodic pass', async () => {
    await service('ACTIVE', 2, 1);
    await h.until(() => state() === 'ACTIVE' && healthy().length === 2);
    const sentBefore = h.fleet.sent.length;
    const joined = await h.fleet.add('late.local');
    const t0 = h.clock.now();
    await h.untilNow(() => h.fleet.sent.slice(sentBefore).some((m) => m.type === 'START_LOCAL_SERVICE_INSTANCE' && m.address.executorId === joined.executorId));
    expect(h.clock.now()).toBe(t0);
    await h.untilNow(() => joined.running().filter((i) => i.state === 'HEALTHY').length === 2);
  });

  it('replaces an instance that stopped at once (trigger), on the same executor', async () => {
    await service('ACTIVE', 1, 2);
    await h.until(() => state() === 'ACTIVE' && healthy().length === 2);
    const victim = healthy()[0]!;
    const t0 = h.clock.now();
    await h.fleet.setState(victim.instanceId, 'STOPPED', 'Crashed');
    await h.untilNow(() => healthy().length === 2 && !healthy().some((i) => i.instanceId === victim.instanceId));
    expect(h.clock.now()).toBe(t0);
    expect(healthy().filter((i) => i.executorId === victim.executorId)).toHaveLength(1);
  });

  it('does not start a second instance while a restarted executor recovers one (UNKNOWN)', async () => {
    await service('ACTIVE', 1, 1);
    await h.until(() => state() === 'ACTIVE' && healthy().length === 1);
    const instanceId = healthy()[0]!.instanceId;
    const starts = () => h.fleet.sent.filter((m) => m.type === 'START_LOCAL_SERVICE_INSTANCE').length;
    await h.fleet.setState(instanceId, 'UNKNOWN');
    await h.untilNow(() => h.controller.serviceInstance(ID, instanceId)?.state === 'UNKNOWN');
    await h.clock.advance(10_000);
    expect(starts()).toBe(1);
    await h.fleet.setState(instanceId, 'UNREADY');
    await h.fleet.setState(instanceId, 'HEALTHY');
    await h.clock.advance(10_000);
    expect(healthy().map((i) => i.instanceId)).toEqual([instanceId]);
    expect(starts()).toBe(1);
  });

  it('acts at once on activation and count changes', async () => {
    await service('INACTIVE', 1, 2);
    const t0 = h.clock.now();
    await h.submit({ type: 'ACTIVATE', serviceId: ID });
    await h.untilNow(() => state() === 'ACTIVE' && healthy().length === 2);
    await h.submit({ type: 'UPDATE_INSTANCE_COUNT', serviceId: ID, instancesPerHost: 3 });
    await h.untilNow(() => state() === 'ACTIVE' && healthy().length === 6);
    expect(h.clock.now()).toBe(t0);
  });

  it('marks instances that stopped reporting LOST with an instance event, and replaces them', async () => {
    h = await harness();
    const quiet = await h.fleet.add('quiet.local');
    await h.submit({ type: 'CREATE', spec: testSpec(), instancesPerHost: 1 });
    await h.until(() => state() === 'INACTIVE');
    await h.submit({ type: 'ACTIVATE', serviceId: ID });
    await h.until(() => state() === 'ACTIVE' && healthy().length === 1);
    const instanceId = healthy()[0]!.instanceId;
    const lostEvents: string[] = [];
    h.controller.onEvent((e) => {
      if (e.type === 'LOCAL_SERVICE_INSTANCE_STATE_CHANGE' && e.metadata.CURRENT_STATE === 'LOST') lostEvents.push(String(e.metadata.INSTANCE_ID));
    });
    // The executor keeps heart-beating its node (so it stays a member) but this instance's record goes stale.
    const ex = h.fleet.get(quiet.executorId);
    ex.instances.delete(instanceId);
    h.fleet.startHeartbeats(20_000);
    await h.until(() => h.controller.serviceInstance(ID, instanceId)?.state === 'LOST', 120_000, 1_000);
    expect(h.controller.serviceInstance(ID, instanceId)?.errorMessage).toBe('Instance lost');
    expect(lostEvents).toEqual([instanceId]);
    await h.until(() => healthy().length === 1 && healthy()[0]!.instanceId !== instanceId, 10_000, 100);
  });

  it('marks a record LOST once its live executor has left it out of its heartbeats for a while: its final report was lost', async () => {
    h = await harness();
    const executor = await h.fleet.add('ex.local');
    await h.submit({ type: 'CREATE', spec: testSpec(), instancesPerHost: 1 });
    await h.until(() => state() === 'INACTIVE');
    await h.submit({ type: 'ACTIVATE', serviceId: ID });
    await h.until(() => state() === 'ACTIVE' && healthy().length === 1);
    const instanceId = healthy()[0]!.instanceId;
    // The instance stops; the leader answers ACCEPTED (queued) but cannot store the report (etcd lost quorum).
    const put = h.store.putInstances.bind(h.store);
    h.store.putInstances = async () => {
      throw new StoreUnavailableError('no quorum');
    };
    await h.fleet.setState(instanceId, 'STOPPED');
    await h.clock.advance(0);
    h.store.putInstances = put;
    expect(h.controller.serviceInstance(ID, instanceId)?.state).toBe('HEALTHY');
    expect(executor.running()).toEqual([]);
    // Heartbeats go on without the instance; no report will ever mention it again.
    const stoppedAt = h.clock.now();
    h.fleet.startHeartbeats(2_000);
    await h.clock.advance(VANISHED_INSTANCE_GRACE_MS - 2_000);
    expect(h.controller.serviceInstance(ID, instanceId)?.state).toBe('HEALTHY');
    // Within the grace plus two reconciler passes (5 s here): well before it would go stale (instanceStaleAge, 60 s).
    await h.until(() => h.controller.serviceInstance(ID, instanceId)?.state === 'LOST', 12_000, 500);
    expect(h.clock.now() - stoppedAt).toBeLessThan(30_000);
    expect(h.controller.serviceInstance(ID, instanceId)?.errorMessage).toBe('Instance lost');
    await h.until(() => healthy().length === 1 && healthy()[0]!.instanceId !== instanceId, 10_000, 100);
  });

  it('does not mark a record whose instance its executor still lists, however long it has not changed', async () => {
    await service('ACTIVE', 1, 1);
    await h.until(() => state() === 'ACTIVE' && healthy().length === 1);
    const instanceId = healthy()[0]!.instanceId;
    h.fleet.startHeartbeats(2_000);
    await h.clock.advance(5 * 60_000);
    expect(h.controller.serviceInstance(ID, instanceId)?.state).toBe('HEALTHY');
  });

  it('marks the instances of a removed executor LOST and keeps them as history', async () => {
    await service('ACTIVE', 1, 2);
    await h.until(() => state() === 'ACTIVE' && healthy().length === 2);
    const [dead] = [...h.fleet.executors.values()];
    const deadInstance = dead!.running()[0]!.instanceId;
    h.fleet.kill(dead!.executorId);
    await h.until(() => h.controller.serviceInstance(ID, deadInstance)?.state === 'LOST', 120_000, 1_000);
    expect(h.controller.oldServiceInstances(ID).map((i) => i.instanceId)).toContain(deadInstance);
    expect(h.controller.executorSummaries().find((e) => e.executorId === dead!.executorId)?.state).toBe('REMOVED');
    expect(healthy()).toHaveLength(1);
  });

  it('disruption mode: when most executors go silent at once (a starved controller), nothing is marked LOST or re-placed', async () => {
    await service('ACTIVE', 1, 10);
    await h.until(() => state() === 'ACTIVE' && healthy().length === 10);
    const before = healthy().map((i) => i.instanceId).sort();
    const passes: Array<string | undefined> = [];
    h.controller.term!.reconciler.onPass((report) => passes.push(report.skipped));
    // No heartbeat gets through for longer than both staleness ages (executor 45 s, instance 60 s).
    h.fleet.stopHeartbeats();
    await h.clock.advance(70_000);
    expect(passes).toContain('disruption');
    expect(h.controller.serviceInstances(ID, ['LOST'])).toEqual([]);
    expect(h.controller.executorSummaries().filter((e) => e.state === 'REMOVED')).toEqual([]);
    expect(adjustCount()).toBe(1);
    // The backlog drains: every executor is heard again and the same instances are still the running ones.
    await h.fleet.heartbeatAll();
    h.fleet.startHeartbeats(20_000);
    await h.clock.advance(30_000);
    expect(passes.at(-1)).toBeUndefined();
    expect(healthy().map((i) => i.instanceId).sort()).toEqual(before);
    expect(h.controller.serviceInstances(ID, ['LOST'])).toEqual([]);
  });

  it('outside disruption mode a real 10% loss is detected: the dead executor\'s instance is LOST', async () => {
    await service('ACTIVE', 1, 10);
    await h.until(() => state() === 'ACTIVE' && healthy().length === 10);
    const [dead] = [...h.fleet.executors.values()];
    const deadInstance = dead!.running()[0]!.instanceId;
    h.fleet.kill(dead!.executorId);
    await h.until(() => h.controller.serviceInstance(ID, deadInstance)?.state === 'LOST', 120_000, 1_000);
    expect(h.controller.executorSummaries().find((e) => e.executorId === dead!.executorId)?.state).toBe('REMOVED');
    expect(healthy()).toHaveLength(9);
  });

  it('replaces the test instance of an executor that left in the pass that removes it, not a period later', async () => {
    await service('CONFIG_TESTING', 1, 2);
    await h.until(() => state() === 'CONFIG_TESTING' && healthy().length === 1);
    const [first] = healthy();
    const survivor = [...h.fleet.executors.values()].find((e) => e.executorId !== first!.executorId)!;
    const removedAt: number[] = [];
    const startedAt: number[] = [];
    h.controller.onEvent((e) => {
      if (e.type === 'EXECUTOR_REMOVED') removedAt.push(h.clock.now());
    });
    h.fleet.onMessage((m) => {
      if (m.type === 'START_LOCAL_SERVICE_INSTANCE' && m.address.executorId === survivor.executorId) startedAt.push(h.clock.now());
    });
    // The executor dies: its heartbeats stop; the survivor keeps heart-beating and stays a member.
    h.fleet.kill(first!.executorId);
    await h.until(() => removedAt.length === 1, 120_000, 1_000);
    await h.untilNow(() => startedAt.length === 1);
    // Removal is noticed by a reconciler pass (the staleness sweep runs in it); that pass already plans without
    // the executor, so the new test instance is asked for well before the next periodic pass (5 s later).
    expect(startedAt[0]! - removedAt[0]!).toBeLessThan(1_000);
    await h.untilNow(() => healthy().length === 1 && healthy()[0]!.executorId === survivor.executorId);
    expect(h.controller.serviceInstance(ID, first!.instanceId)?.state).toBe('LOST');
  });

  it('acts on work that arose during an operation as soon as the operation finishes, without the periodic pass', async () => {
    // The periodic pass can not be what acts: it would only run an hour from now.
    h = await harness({ reconcileInterval: '1 hour' });
    let hangStarts = false;
    const slow = await h.fleet.add('slow.local', { onStart: () => (hangStarts ? { kind: 'hang' } : { kind: 'healthy' }) });
    const other = await h.fleet.add('other.local');
    h.fleet.startHeartbeats(20_000);
    await h.submit({ type: 'CREATE', spec: testSpec(), instancesPerHost: 1 });
    await h.until(() => state() === 'INACTIVE');
    await h.submit({ type: 'ACTIVATE', serviceId: ID });
    await h.until(() => state() === 'ACTIVE' && healthy().length === 2);
    const startsOnOther = () => h.fleet.sent.filter((m) => m.type === 'START_LOCAL_SERVICE_INSTANCE' && m.address.executorId === other.executorId).length;
    expect(startsOnOther()).toBe(1);

    // A replacement on `slow` hangs while starting, so the operation stays in flight...
    hangStarts = true;
    const old = slow.running()[0]!.instanceId;
    await h.submit({ type: 'REPLACE_INSTANCES', serviceId: ID, instanceIds: [old], stopFirst: false });
    await h.untilNow(() => state() === 'REPLACING_INSTANCES' && slow.running().some((i) => i.instanceId !== old && i.state === 'PROVISIONING'));
    const replacement = slow.running().find((i) => i.instanceId !== old)!.instanceId;
    // ...and meanwhile the instance on `other` crashes. A service busy with an operation is not reconciled.
    const crashed = other.running()[0]!.instanceId;
    await h.fleet.setState(crashed, 'STOPPED', 'Crashed');
    await h.until(() => h.controller.serviceInstance(ID, crashed)?.state === 'STOPPED', 5_000);
    await h.clock.advance(5_000);
    expect(startsOnOther()).toBe(1);
    expect(state()).toBe('REPLACING_INSTANCES');

    // The replacement comes up, the operation finishes, and the reconciler starts the missing instance at once.
    const steadyAt: number[] = [];
    const adjustAt: number[] = [];
    h.controller.onEvent((e) => {
      if (e.type !== 'LOCAL_SERVICE_STATE_CHANGE') return;
      if (e.metadata.CURRENT_STATE === 'ACTIVE' && steadyAt.length === 0) steadyAt.push(h.clock.now());
      if (e.metadata.CURRENT_STATE === 'ADJUSTING_INSTANCES') adjustAt.push(h.clock.now());
    });
    h.fleet.release(replacement);
    await h.until(() => steadyAt.length > 0, 60_000);
    await h.untilNow(() => adjustAt.length > 0 && startsOnOther() === 2);
    expect(adjustAt[0]).toBe(steadyAt[0]);
    await h.until(() => state() === 'ACTIVE' && healthy().length === 2, 60_000);
    expect(healthy().map((i) => i.executorId).sort()).toEqual([other.executorId, slow.executorId].sort());
  });

  it('pauses in the maintenance window', async () => {
    await service('INACTIVE', 1, 2);
    await h.controller.setMaintenance(true);
    expect(await h.controller.submitOperation({ type: 'DEPLOY_TEST_INSTANCE', serviceId: ID })).toEqual({
      ok: false,
      errors: ['Cluster is in maintenance mode'],
    });
    const report = await h.controller.term!.reconciler.pass();
    expect(report.skipped).toBe('maintenance');
    await h.controller.setMaintenance(false);
    // Still inside the 40 s grace window after the change.
    expect((await h.controller.term!.reconciler.pass()).skipped).toBe('maintenance');
    await h.clock.advance(41_000);
    expect((await h.controller.term!.reconciler.pass()).skipped).toBeUndefined();
  });
});

describe('reconciler guards (not leading, maintenance)', () => {
  function bare(maintenance: boolean, clock = new ManualClock()) {
    let reads = 0;
    const workingSet = {
      services: () => {
        reads++;
        return [];
      },
      allInstances: function* () {
        reads++;
        yield* [];
      },
    } as unknown as WorkingSet;
    const engine = { stateOf: (): LocalServiceState | undefined => undefined } as unknown as LocalServiceEngine;
    const reconciler = new Reconciler({
      engine,
      workingSet,
      executors: { all: () => [], byId: () => undefined, onChange: () => () => {} },
      crashLoops: { heldExecutors: () => new Set() },
      sweepExecutors: async () => [],
      heldStaleExecutors: () => new Set(),
      inMaintenanceWindow: () => maintenance,
      clock,
      options: resolveOptions(ControllerOptionsSchema.parse({})),
      logger: pino({ level: 'silent' }),
      metrics: NO_METRICS,
    });
    return { reconciler, reads: () => reads };
  }

  it('passes only between start and stop: triggers and the period do nothing before or after', async () => {
    const clock = new ManualClock();
    const { reconciler, reads } = bare(false, clock);
    reconciler.trigger();
    await clock.advance(60_000);
    expect(reads()).toBe(0);
    reconciler.start();
    await clock.advance(0);
    const afterFirst = reads();
    expect(afterFirst).toBeGreaterThan(0);
    await clock.advance(5_000);
    expect(reads()).toBeGreaterThan(afterFirst);
    await reconciler.stop();
    const stopped = reads();
    reconciler.trigger();
    await clock.advance(60_000);
    expect(reads()).toBe(stopped);
    expect(reconciler.runState).toBe('STOPPED');
    expect(() => reconciler.start()).toThrow('reconciler: start() called while STOPPED');
  });

  it('does not read services in maintenance', async () => {
    const { reconciler, reads } = bare(true);
    expect((await reconciler.pass()).skipped).toBe('maintenance');
    expect(reads()).toBe(0);
  });

  it('reads them otherwise', async () => {
    const { reconciler, reads } = bare(false);
    expect((await reconciler.pass()).skipped).toBeUndefined();
    expect(reads()).toBeGreaterThan(0);
  });
});

describe('reconciler pacing', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  // The passes a rollout's new records trigger come by the hundred a second at 5,000 executors.
  it('reads the executor list only in a pass that has a steady service to plan', async () => {
    h = await harness({ reconcileInterval: '1 day' });
    await h.fleet.add('ex0.local', { onStart: () => ({ kind: 'hang' }) });
    await h.submit({ type: 'CREATE', spec: testSpec(), instancesPerHost: 1 });
    await h.until(() => h.controller.serviceSummary(ID)?.state === 'INACTIVE');
    const term = h.controller.term!;
    const all = vi.spyOn(term.registry, 'all');
    await term.reconciler.pass();
    expect(all).toHaveBeenCalledTimes(1);
    await h.submit({ type: 'ACTIVATE', serviceId: ID });
    await h.until(() => h.controller.serviceSummary(ID)?.state === 'ADJUSTING_INSTANCES');
    all.mockClear();
    await term.reconciler.pass();
    expect(all).not.toHaveBeenCalled();
  });

  it('does not spin on a plan it cannot complete: the same plan waits for the periodic pass', async () => {
    h = await harness({ jobRetryCount: 0 });
    await h.fleet.add('full.local', { cores: 0 });
    h.fleet.startHeartbeats(20_000);
    await h.submit({ type: 'CREATE', spec: testSpec(), instancesPerHost: 1 });
    await h.until(() => h.controller.serviceSummary(ID)?.state === 'INACTIVE');
    await h.submit({ type: 'ACTIVATE', serviceId: ID });
    await h.clock.advance(30_000);
    const adjusts = h.states.filter(([, s]) => s === 'ADJUSTING_INSTANCES').length;
    // One immediately, then at most one per 5 s period.
    expect(adjusts).toBeGreaterThanOrEqual(2);
    expect(adjusts).toBeLessThanOrEqual(7);
    // A new executor changes the plan: it is served at once.
    const joined = await h.fleet.add('roomy.local');
    await h.untilNow(() => joined.running().length === 1);
  });
});
