import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from '../../support/engine-harness.js';
import type { FakeExecutor } from '../../support/fake-executors.js';
import { testSpec } from '../../support/specs.js';
import type { ExecutorMessage, PlacementPolicy } from '../../../src/model/index.js';

/**
 * Tag constraints through the whole leader (docs/design/placement.md#tag-constraints): engine, reconciler, scheduler, registry and queries
 * on a ManualClock with in-process executors. An executor "restarted with other tags" is one whose next heartbeat
 * carries them.
 */

const ID = 'TEST_SPEC-00001';
const PLAIN = 'PLAIN-1';
const GPU_ONLY: PlacementPolicy = {
  type: 'COMPOSITE',
  combiner: 'AND',
  policies: [
    { type: 'LOCAL', hostLevel: false },
    { type: 'MATCH_TAG', tag: 'gpu' },
  ],
};

describe('tag-constrained local services on the leader', () => {
  let h: Harness;
  let ex: FakeExecutor[];
  afterEach(async () => h?.close());

  const state = () => h.controller.serviceSummary(ID)?.state;
  const healthyOn = (e: FakeExecutor) => e.running().filter((i) => i.serviceId === ID && i.state === 'HEALTHY').length;
  const startsTo = (e: FakeExecutor, messages: readonly ExecutorMessage[] = h.fleet.sent) =>
    messages.filter((m) => m.type === 'START_LOCAL_SERVICE_INSTANCE' && m.address.executorId === e.executorId).length;

  /** Three executors: two tagged gpu, one not; the service ACTIVE with `instancesPerHost` on each gpu one. */
  async function active(instancesPerHost: number) {
    h = await harness();
    ex = [
      await h.fleet.add('gpu0.local', { tags: ['gpu'] }),
      await h.fleet.add('gpu1.local', { tags: ['gpu', 'ssd'] }),
      await h.fleet.add('plain.local', { tags: ['ssd'] }),
    ];
    h.fleet.startHeartbeats(20_000);
    await h.submit({ type: 'CREATE', spec: testSpec({ placementPolicy: GPU_ONLY }), instancesPerHost });
    await h.until(() => state() === 'INACTIVE');
    await h.submit({ type: 'ACTIVATE', serviceId: ID });
    await h.until(() => state() === 'ACTIVE' && healthyOn(ex[0]!) + healthyOn(ex[1]!) === 2 * instancesPerHost);
  }

  it('runs only on the executors with the tag, and its summaries count what is required there', async () => {
    await active(2);
    await h.clock.advance(30_000);
    expect([healthyOn(ex[0]!), healthyOn(ex[1]!), healthyOn(ex[2]!)]).toEqual([2, 2, 0]);
    expect(startsTo(ex[2]!)).toBe(0);
    expect(h.controller.serviceSummary(ID)).toMatchObject({ healthyInstances: 4, requiredInstances: 4, state: 'ACTIVE' });
    expect(h.controller.listServices(0, 10)[ID]).toMatchObject({ requiredInstances: 4 });
    expect(h.controller.dashboard().serviceStats.topServices[0]).toMatchObject({ id: ID, healthyInstances: 4, requiredInstances: 4 });
    // One ADJUST: the untagged executor is no unfinished work for the reconciler.
    expect(h.states.filter(([, s]) => s === 'ADJUSTING_INSTANCES')).toHaveLength(1);
  });

  it('starts instances on an executor that gains the tag and stops them on one that loses it, at once', async () => {
    await active(1);
    const t0 = h.clock.now();
    // The untagged executor restarts with the tag: its next heartbeat says so.
    ex[2]!.tags = ['ssd', 'gpu'];
    await h.fleet.heartbeat(ex[2]!);
    await h.untilNow(() => healthyOn(ex[2]!) === 1 && state() === 'ACTIVE');
    expect(h.controller.serviceSummary(ID)).toMatchObject({ healthyInstances: 3, requiredInstances: 3 });
    // A tagged one restarts without it: its instance is stopped as if it had left, the others keep theirs.
    const leaving = ex[0]!.running()[0]!.instanceId;
    ex[0]!.tags = [];
    await h.fleet.heartbeat(ex[0]!);
    await h.untilNow(() => ex[0]!.running().length === 0 && state() === 'ACTIVE');
    expect(h.clock.now()).toBe(t0);
    expect(h.controller.serviceInstance(ID, leaving)?.state).toBe('STOPPED');
    expect([healthyOn(ex[0]!), healthyOn(ex[1]!), healthyOn(ex[2]!)]).toEqual([0, 1, 1]);
    expect(h.controller.serviceSummary(ID)).toMatchObject({ healthyInstances: 2, requiredInstances: 2, state: 'ACTIVE' });
    // Settled: the periodic passes find nothing more to do.
    const adjusts = h.states.filter(([, s]) => s === 'ADJUSTING_INSTANCES').length;
    await h.clock.advance(30_000);
    expect(h.states.filter(([, s]) => s === 'ADJUSTING_INSTANCES')).toHaveLength(adjusts);
    expect(startsTo(ex[0]!)).toBe(1);
  });

  it('tells an UNREADY executor the constraint, and counts no instance as wanted on an executor without the tag', async () => {
    await active(1);
    await h.submit({ type: 'CREATE', spec: testSpec({ name: 'PLAIN', version: '1' }), instancesPerHost: 1 });
    await h.until(() => h.controller.serviceSummary(PLAIN)?.state === 'INACTIVE');
    await h.submit({ type: 'ACTIVATE', serviceId: PLAIN });
    await h.until(() => h.controller.serviceSummary(PLAIN)?.state === 'ACTIVE' && h.controller.serviceSummary(PLAIN)?.healthyInstances === 3);
    expect(h.controller.reservedResources()).toEqual({
      cpus: 2,
      memory: 1024,
      requiredInstances: { [ID]: 1, [PLAIN]: 1 },
      // Only the constrained service's policy: an executor without the tag does not wait for its instance.
      placementPolicies: { [ID]: GPU_ONLY },
    });
    // The gpu executor restarts without the tag and re-adopts its instance: the leader no longer wants it there.
    const adopted = ex[0]!.running().find((i) => i.serviceId === ID)!.instanceId;
    const plain = ex[0]!.running().find((i) => i.serviceId === PLAIN)!.instanceId;
    ex[0]!.tags = [];
    await h.fleet.heartbeat(ex[0]!);
    const known = h.controller.knownInstances(ex[0]!.executorId, 'current')!;
    expect(known.staleLocalServiceInstanceIds).toEqual([adopted]);
    expect(known.localServiceInstanceIds).toEqual([plain]);
  });

  it('a replacement running when an executor loses the tag only stops the instance there, without retrying a start', async () => {
    await active(1);
    for (const e of ex) e.options.onStart = () => ({ kind: 'hang' });
    const sentBefore = h.fleet.sent.length;
    await h.submit({
      type: 'RESTART',
      serviceId: ID,
      stopFirst: false,
      opSpec: { parallelism: 1, timeout: '5 minutes', failureStrategy: 'STOP' },
    });
    // The first replacement hangs on its executor; the other executor restarts without the tag meanwhile.
    await h.untilNow(() => startsTo(ex[0]!, h.fleet.sent.slice(sentBefore)) + startsTo(ex[1]!, h.fleet.sent.slice(sentBefore)) === 1);
    const [first, other] = startsTo(ex[0]!, h.fleet.sent.slice(sentBefore)) === 1 ? [ex[0]!, ex[1]!] : [ex[1]!, ex[0]!];
    const old = other.running()[0]!.instanceId;
    other.tags = [];
    await h.fleet.heartbeat(other);
    const t0 = h.clock.now();
    h.fleet.finishStarting();
    await h.untilNow(() => state() === 'ACTIVE' && other.running().length === 0 && healthyOn(first) === 1);
    expect(h.clock.now()).toBe(t0);
    expect(startsTo(other, h.fleet.sent.slice(sentBefore))).toBe(0);
    expect(h.controller.serviceInstance(ID, old)?.state).toBe('STOPPED');
    expect(h.controller.serviceSummary(ID)).toMatchObject({ healthyInstances: 1, requiredInstances: 1 });
  });
});
