import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from '../../support/engine-harness.js';
import { testSpec } from '../../support/specs.js';

const ID = 'TEST_SPEC-00001';

describe('cancellation (docs/design/operations.md#cancellation)', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  const state = () => h.controller.serviceSummary(ID)?.state;

  async function activeService(instancesPerHost: number, answerDelayMs: number) {
    h = await harness({ reconcileInterval: '1 day' });
    await h.controller.term!.reconciler.stop();
    await h.fleet.add('ex1.local', { answerDelayMs, cores: 16 });
    await h.submit({ type: 'CREATE', spec: testSpec(), instancesPerHost: 1 });
    await h.until(() => state() === 'INACTIVE');
    await h.submit({ type: 'ACTIVATE', serviceId: ID });
    await h.until(() => state() === 'ACTIVE');
    await h.submit({ type: 'UPDATE_INSTANCE_COUNT', serviceId: ID, instancesPerHost });
    await h.until(() => state() === 'ACTIVE' && h.controller.serviceSummary(ID)?.instancesPerHost === instancesPerHost);
  }

  it('cancelling ADJUST_INSTANCES of an ACTIVE service ends in an emergency deactivation to INACTIVE', async () => {
    await activeService(5, 5_000);
    await h.submit({ type: 'ADJUST_INSTANCES', serviceId: ID });
    await h.until(() => state() === 'ADJUSTING_INSTANCES', 1_000, 1);
    expect(h.controller.cancelOperation(ID)).toBe(true);
    await h.until(() => state() === 'INACTIVE', 60_000);
    expect(h.controller.serviceSummary(ID)?.activationState).toBe('INACTIVE');
    // Starts the executor accepted after the cancel are stopped again (docs/design/operations.md#failed-starts).
    await h.controller.term!.engine.idle();
    await h.until(() => h.fleet.running().length === 0, 60_000);

    await h.submit({ type: 'DESTROY', serviceId: ID });
    await h.until(() => h.controller.serviceSummary(ID) === undefined);
    expect(new Set(h.states.map(([, s]) => s))).toEqual(
      new Set([
        'INACTIVE',
        'ACTIVE',
        'ACTIVATION_REQUESTED',
        'DEACTIVATION_REQUESTED',
        'ADJUSTING_INSTANCES',
        'EMERGENCY_DEACTIVATION_REQUESTED',
        'UPDATING_INSTANCES_COUNT',
        'DESTROY_REQUESTED',
        'DESTROYED',
      ]),
    );
    const order = h.states.map(([, s]) => s);
    const emergency = order.indexOf('EMERGENCY_DEACTIVATION_REQUESTED');
    expect(order.slice(emergency, emergency + 3)).toEqual(['EMERGENCY_DEACTIVATION_REQUESTED', 'DEACTIVATION_REQUESTED', 'INACTIVE']);
  });

  it('cancelling a RESTART of an ACTIVE service also deactivates it (as Drove\'s documentation, not its code, says)', async () => {
    await activeService(2, 0);
    await h.submit({ type: 'ADJUST_INSTANCES', serviceId: ID });
    await h.until(() => state() === 'ACTIVE' && h.controller.serviceInstances(ID, ['HEALTHY']).length === 2);
    h.fleet.get([...h.fleet.executors.keys()][0]!).options.answerDelayMs = 5_000;
    await h.submit({ type: 'RESTART', serviceId: ID, stopFirst: false });
    await h.until(() => state() === 'REPLACING_INSTANCES', 1_000, 1);
    expect(h.controller.cancelOperation(ID)).toBe(true);
    await h.until(() => state() === 'INACTIVE', 60_000);
    expect(h.states.map(([, s]) => s)).toContain('EMERGENCY_DEACTIVATION_REQUESTED');
  });

  it('only DEACTIVATE is accepted while an emergency deactivation is pending', async () => {
    await activeService(3, 5_000);
    await h.submit({ type: 'ADJUST_INSTANCES', serviceId: ID });
    await h.until(() => state() === 'ADJUSTING_INSTANCES', 1_000, 1);
    let seen = false;
    const off = h.controller.onEvent((e) => {
      if (e.metadata.CURRENT_STATE !== 'EMERGENCY_DEACTIVATION_REQUESTED' || seen) return;
      seen = true;
      // Synchronously inside the transition: the engine's own DEACTIVATE is already in the slot.
      expect(h.controller.term!.engine.validate({ type: 'ACTIVATE', serviceId: ID })).toEqual([
        `Only [DEACTIVATE] allowed for local service ${ID} as it is in EMERGENCY_DEACTIVATION_REQUESTED state`,
      ]);
    });
    h.controller.cancelOperation(ID);
    await h.until(() => state() === 'INACTIVE', 60_000);
    off();
    expect(seen).toBe(true);
  });

  it('cancel is refused when nothing cancellable runs (no spurious success)', async () => {
    await activeService(1, 0);
    expect(h.controller.cancelOperation(ID)).toBe(false);
    await h.submit({ type: 'ADJUST_INSTANCES', serviceId: ID });
    await h.until(() => state() === 'ACTIVE' && h.controller.serviceInstances(ID, ['HEALTHY']).length === 1);
    expect(h.controller.cancelOperation(ID)).toBe(false);
    expect(h.controller.cancelOperation('NO_SUCH-1')).toBe(false);
  });

  it('cancelling an ADJUST of an INACTIVE service just returns to INACTIVE', async () => {
    await activeService(2, 0);
    await h.submit({ type: 'ADJUST_INSTANCES', serviceId: ID });
    await h.until(() => state() === 'ACTIVE' && h.controller.serviceInstances(ID, ['HEALTHY']).length === 2);
    await h.submit({ type: 'DEACTIVATE', serviceId: ID });
    await h.until(() => state() === 'INACTIVE');
    const stopsBefore = h.fleet.sent.length;
    const opSpec = { timeout: '5 minutes', parallelism: 2, failureStrategy: 'STOP' as const };
    await h.submit({ type: 'ADJUST_INSTANCES', serviceId: ID, opSpec });
    await h.until(() => state() === 'ADJUSTING_INSTANCES', 1_000, 1);
    expect(h.controller.cancelOperation(ID)).toBe(true);
    await h.until(() => state() === 'INACTIVE');
    expect(h.states.map(([, s]) => s)).not.toContain('EMERGENCY_DEACTIVATION_REQUESTED');
    // Running stop jobs are not interrupted by a cancel: both (parallelism 2) finished.
    expect(h.fleet.sent.slice(stopsBefore).filter((m) => m.type === 'STOP_LOCAL_SERVICE_INSTANCE')).toHaveLength(2);
    expect(h.fleet.running()).toHaveLength(0);
  });
});

describe('one operation at a time', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it('rejects a second operation while one is pending instead of dropping it', async () => {
    h = await harness({ reconcileInterval: '1 day' });
    await h.submit({ type: 'CREATE', spec: testSpec(), instancesPerHost: 1 });
    await h.until(() => h.controller.serviceSummary(ID)?.state === 'INACTIVE');
    const first = await h.controller.submitOperation({ type: 'ACTIVATE', serviceId: ID });
    const second = await h.controller.submitOperation({ type: 'UPDATE_INSTANCE_COUNT', serviceId: ID, instancesPerHost: 3 });
    expect(first).toEqual({ ok: true, serviceId: ID });
    expect(second).toEqual({
      ok: false,
      errors: [`Another operation is already pending for local service ${ID}. Try again once it has started`],
    });
    await h.until(() => h.controller.serviceSummary(ID)?.state === 'ACTIVE');
    expect(h.controller.serviceSummary(ID)?.instancesPerHost).toBe(1);
  });

  it('a rejected operation or spec never changes the store', async () => {
    h = await harness({ reconcileInterval: '1 day' });
    const before = await h.store.load();
    const bad = await h.controller.submitOperation({ type: 'CREATE', spec: testSpec({ resources: [] }), instancesPerHost: 1 });
    expect(bad.ok).toBe(false);
    const unknown = await h.controller.submitOperation({ type: 'ACTIVATE', serviceId: 'NOPE-1' });
    expect(unknown).toEqual({ ok: false, errors: ['No state found for local service: NOPE-1'] });
    await h.clock.advance(1_000);
    expect(await h.store.load()).toEqual(before);
    expect(h.controller.listServices(0, 100)).toEqual({});
  });
});
