import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from '../../support/engine-harness.js';
import { testSpec } from '../../support/specs.js';

const ID = 'TEST_SPEC-00001';

describe('local service lifecycle against one simulated executor (Drove\'s LocalServiceLifecycleManagementEngineTest)', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  const state = () => h.controller.serviceSummary(ID)?.state;
  const active = () => h.controller.serviceInstances(ID);

  it('goes through create, conftest, activate, restart, replace, stop, scale, deactivate and destroy', async () => {
    // A long reconcile interval: this test drives ADJUST itself, as Drove's test does without a monitor.
    h = await harness({ reconcileInterval: '1 day' });
    await h.controller.term!.reconciler.stop();
    await h.fleet.add('ex1.local');

    await h.submit({ type: 'CREATE', spec: testSpec(), instancesPerHost: 1 });
    await h.until(() => state() === 'INACTIVE');
    expect(h.controller.serviceSummary(ID)?.activationState).toBe('INACTIVE');

    await h.submit({ type: 'DEPLOY_TEST_INSTANCE', serviceId: ID });
    await h.until(() => state() === 'CONFIG_TESTING');
    await h.submit({ type: 'ADJUST_INSTANCES', serviceId: ID });
    await h.until(() => state() === 'CONFIG_TESTING' && active().length === 1 && active()[0]!.state === 'HEALTHY');

    await h.submit({ type: 'ACTIVATE', serviceId: ID });
    await h.until(() => state() === 'ACTIVE');
    await h.submit({ type: 'ADJUST_INSTANCES', serviceId: ID });
    await h.until(() => state() === 'ACTIVE' && h.states.filter(([, s]) => s === 'ADJUSTING_INSTANCES').length === 2);
    expect(active()).toHaveLength(1);

    const before = active().map((i) => i.instanceId);
    await h.submit({ type: 'RESTART', serviceId: ID, stopFirst: false });
    await h.until(() => state() === 'ACTIVE' && h.states.some(([, s]) => s === 'REPLACING_INSTANCES'));
    await h.until(() => active().length === 1 && !before.includes(active()[0]!.instanceId) && active()[0]!.state === 'HEALTHY');

    const restarted = active().map((i) => i.instanceId);
    await h.submit({ type: 'REPLACE_INSTANCES', serviceId: ID, instanceIds: restarted, stopFirst: true });
    await h.until(() => state() === 'ACTIVE' && active().length === 1 && active()[0]!.instanceId !== restarted[0] && active()[0]!.state === 'HEALTHY');

    const replaced = active().map((i) => i.instanceId);
    await h.submit({ type: 'STOP_INSTANCES', serviceId: ID, instanceIds: replaced });
    await h.until(() => state() === 'ACTIVE' && active().length === 0);
    expect(h.states.some(([, s]) => s === 'STOPPING_INSTANCES')).toBe(true);

    await h.submit({ type: 'UPDATE_INSTANCE_COUNT', serviceId: ID, instancesPerHost: 2 });
    await h.until(() => state() === 'ACTIVE' && h.controller.serviceSummary(ID)?.instancesPerHost === 2);
    await h.submit({ type: 'ADJUST_INSTANCES', serviceId: ID });
    await h.until(() => state() === 'ACTIVE' && active().filter((i) => i.state === 'HEALTHY').length === 2);
    expect(active()).toHaveLength(2);

    await h.submit({ type: 'UPDATE_INSTANCE_COUNT', serviceId: ID, instancesPerHost: 1 });
    await h.until(() => state() === 'ACTIVE' && h.controller.serviceSummary(ID)?.instancesPerHost === 1);
    await h.submit({ type: 'ADJUST_INSTANCES', serviceId: ID });
    await h.until(() => state() === 'ACTIVE' && active().length === 1);

    await h.submit({ type: 'DEACTIVATE', serviceId: ID });
    await h.until(() => state() === 'INACTIVE');
    await h.submit({ type: 'ADJUST_INSTANCES', serviceId: ID });
    await h.until(() => state() === 'INACTIVE' && active().length === 0);
    expect(h.fleet.running()).toHaveLength(0);

    await h.submit({ type: 'DESTROY', serviceId: ID });
    await h.until(() => h.controller.serviceSummary(ID) === undefined);
    expect(h.controller.term!.engine.stateOf(ID)).toBeUndefined();
    expect((await h.store.load()).services).toHaveLength(0);

    expect(new Set(h.states.map(([, s]) => s))).toEqual(
      new Set([
        'INACTIVE',
        'DEACTIVATION_REQUESTED',
        'ACTIVATION_REQUESTED',
        'ACTIVE',
        'CONFIG_TESTING',
        'CONFIG_TESTING_REQUESTED',
        'ADJUSTING_INSTANCES',
        'REPLACING_INSTANCES',
        'STOPPING_INSTANCES',
        'UPDATING_INSTANCES_COUNT',
        'DESTROY_REQUESTED',
        'DESTROYED',
      ]),
    );
  });
});
