import { afterEach, describe, expect, it } from 'vitest';
import type { DroveEvent, LocalServiceOperation, PlacementPolicy } from '../../../src/model/index.js';
import { electedController, type ElectedController } from '../../support/elected-controller.js';
import { harness, type Harness } from '../../support/engine-harness.js';
import type { FakeExecutor, StartBehaviour } from '../../support/fake-executors.js';
import { testSpec } from '../../support/specs.js';

/**
 * Crash-loop backoff per (service, executor) on a ManualClock (docs/design/crash-loop-backoff.md): the reconciler restarts
 * a crash-looping instance at the backoff times and never sooner, each executor on its own schedule; a
 * replacement HEALTHY for 10 minutes ends the loop; an operator's operation is never held back; a new leader
 * carries the loop on.
 */

const ID = 'TEST_SPEC-00001';
const SECOND = 1_000;
const MINUTE = 60 * SECOND;

describe('crash-loop backoff (reconciler and start jobs)', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  /** Start messages per executor, with the virtual time each was sent at. */
  const startTimes = new Map<string, number[]>();
  const startsOn = (executor: FakeExecutor) => startTimes.get(executor.executorId) ?? [];
  const gapsOn = (executor: FakeExecutor) => startsOn(executor).slice(1).map((t, i) => (t - startsOn(executor)[i]!) / SECOND);
  const loopOn = (executor: FakeExecutor) => h.controller.serviceSummary(ID)?.crashLoops?.find((l) => l.executorId === executor.executorId);
  const crashLoopEvents = (): DroveEvent[] => h.controller.latestEvents(0, 10_000).events.filter((e) => e.type === 'LOCAL_SERVICE_CRASH_LOOP').reverse();
  const healthyOn = (executor: FakeExecutor) => h.controller.serviceInstances(ID, ['HEALTHY']).filter((i) => i.executorId === executor.executorId);

  async function activeService(
    behaviours: Array<() => StartBehaviour>,
    options: Record<string, unknown> = {},
    placement: { tags?: string[][]; policy?: PlacementPolicy } = {},
  ): Promise<FakeExecutor[]> {
    startTimes.clear();
    h = await harness(options);
    const executors: FakeExecutor[] = [];
    for (const [i, behaviour] of behaviours.entries()) {
      executors.push(await h.fleet.add(`ex${i}.local`, { onStart: behaviour, tags: placement.tags?.[i] ?? [] }));
    }
    h.fleet.onMessage((m) => {
      if (m.type !== 'START_LOCAL_SERVICE_INSTANCE') return;
      const list = startTimes.get(m.address.executorId) ?? [];
      list.push(h.clock.now());
      startTimes.set(m.address.executorId, list);
    });
    h.fleet.startHeartbeats(20 * SECOND);
    await h.submit({ type: 'CREATE', spec: testSpec(placement.policy ? { placementPolicy: placement.policy } : {}), instancesPerHost: 1 });
    await h.until(() => h.controller.serviceSummary(ID)?.state === 'INACTIVE');
    await h.submit({ type: 'ACTIVATE', serviceId: ID });
    return executors;
  }

  const fail: () => StartBehaviour = () => ({ kind: 'fail', state: 'READINESS_CHECK_FAILED' });
  const healthy: () => StartBehaviour = () => ({ kind: 'healthy' });

  it('restarts a crash-looping instance at once, then 10, 20, 40, 80, 160 s and 300 s apart, never sooner', async () => {
    const [looping] = await activeService([fail]);
    await h.until(() => loopOn(looping!)?.restartCount === 10, 30 * MINUTE, 100);
    // The first failure is retried by the start job itself (jobRetryInterval, 1 s); from the second on, the
    // executor is held and the reconciler starts the next instance when the backoff is over.
    const [retry, ...backoff] = gapsOn(looping!);
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThan(1.2);
    expect(backoff).toEqual([10, 20, 40, 80, 160, 300, 300, 300]);
    const loop = loopOn(looping!)!;
    expect(loop).toMatchObject({ executorId: looping!.executorId, hostname: 'ex0.local', restartCount: 10 });
    expect(loop.lastFailure).toMatchObject({ reason: 'READINESS_CHECK_FAILED by test' });
    expect(loop.nextAttemptAt).toBe(startsOn(looping!).at(-1)! + 300 * SECOND);
    // Nothing more until then, periodic passes (5 s) included.
    await h.clock.advance(299 * SECOND);
    expect(startsOn(looping!)).toHaveLength(10);
    const events = crashLoopEvents();
    expect(events.map((e) => e.metadata.RESTART_COUNT)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(events.at(-1)!.metadata).toMatchObject({
      SERVICE_ID: ID,
      SERVICE_NAME: 'TEST_SPEC',
      EXECUTOR_ID: looping!.executorId,
      CRASH_LOOP_STATE: 'BACKING_OFF',
      ERROR: 'READINESS_CHECK_FAILED by test',
      NEXT_ATTEMPT_AT: loop.nextAttemptAt,
    });
  });

  it('keeps each executor on its own schedule: a healthy neighbour is neither held nor counted', async () => {
    const [looping, fine] = await activeService([fail, healthy]);
    await h.until(() => loopOn(looping!)?.restartCount === 4 && healthyOn(fine!).length === 1 && h.controller.serviceSummary(ID)?.state === 'ACTIVE', 10 * MINUTE, 100);
    expect(h.controller.serviceSummary(ID)?.crashLoops?.map((l) => l.executorId)).toEqual([looping!.executorId]);
    // The neighbour's instance crashes once: replaced at once, while the other executor is held for 40 s.
    const victim = healthyOn(fine!)[0]!;
    const at = h.clock.now();
    await h.fleet.setState(victim.instanceId, 'STOPPED', 'Crashed');
    await h.untilNow(() => healthyOn(fine!).some((i) => i.instanceId !== victim.instanceId));
    expect(startsOn(fine!).at(-1)).toBe(at);
    expect(loopOn(fine!)).toMatchObject({ restartCount: 1, nextAttemptAt: at, lastFailure: { instanceId: victim.instanceId, reason: 'Crashed' } });
    expect(loopOn(looping!)).toMatchObject({ restartCount: 4 });
    expect(gapsOn(looping!).slice(1)).toEqual([10, 20]);
  });

  it('with a tag constraint: backs off on the matching host that crash-loops, places nothing on the untagged one, and still requires the held host', async () => {
    const gpuOnly: PlacementPolicy = { type: 'COMPOSITE', combiner: 'AND', policies: [{ type: 'LOCAL', hostLevel: false }, { type: 'MATCH_TAG', tag: 'gpu' }] };
    const [looping, fine, untagged] = await activeService([fail, healthy, healthy], {}, { tags: [['gpu'], ['gpu'], ['ssd']], policy: gpuOnly });
    await h.until(() => loopOn(looping!)?.restartCount === 4 && healthyOn(fine!).length === 1 && h.controller.serviceSummary(ID)?.state === 'ACTIVE', 10 * MINUTE, 100);
    // The backoff schedule on the looping gpu host, as without a constraint.
    expect(gapsOn(looping!).slice(1)).toEqual([10, 20]);
    const summary = h.controller.serviceSummary(ID)!;
    // Required: one per gpu host, the held one included; the untagged host is neither required nor started on.
    expect(summary).toMatchObject({ requiredInstances: 2, healthyInstances: 1 });
    expect(summary.crashLoops?.map((l) => l.executorId)).toEqual([looping!.executorId]);
    expect(startsOn(untagged!)).toEqual([]);
    // Until the next attempt (40 s after the last), periodic passes start nothing, on either side.
    const next = loopOn(looping!)!.nextAttemptAt;
    await h.clock.advance(next - 1 - h.clock.now());
    expect(startsOn(looping!)).toHaveLength(4);
    await h.until(() => startsOn(looping!).length === 5, 2 * SECOND, 10);
    expect(startsOn(looping!).at(-1)).toBe(next);
    expect(startsOn(untagged!)).toEqual([]);
    expect(h.controller.serviceSummary(ID)).toMatchObject({ requiredInstances: 2 });
  });

  it('ends the loop once a replacement has been HEALTHY for 10 minutes, and not a moment before', async () => {
    let failures = 3;
    const [executor] = await activeService([() => (failures-- > 0 ? fail() : healthy())]);
    let healthySince = 0;
    h.controller.onEvent((e) => {
      if (e.type === 'LOCAL_SERVICE_INSTANCE_STATE_CHANGE' && e.metadata.CURRENT_STATE === 'HEALTHY') healthySince = h.clock.now();
    });
    await h.until(() => healthyOn(executor!).length === 1, 10 * MINUTE, 100);
    expect(loopOn(executor!)).toMatchObject({ restartCount: 3 });
    await h.clock.advance(healthySince + 10 * MINUTE - 1 - h.clock.now());
    expect(loopOn(executor!)).toMatchObject({ restartCount: 3 });
    await h.clock.advance(1);
    expect(loopOn(executor!)).toBeUndefined();
    expect(crashLoopEvents().at(-1)!.metadata).toMatchObject({ CRASH_LOOP_STATE: 'RESET', RESTART_COUNT: 0, EXECUTOR_ID: executor!.executorId });
    expect(String(crashLoopEvents().at(-1)!.metadata.REASON)).toMatch(/HEALTHY for 600 seconds/);
    // A crash after that is the first of a new loop: replaced at once.
    const victim = healthyOn(executor!)[0]!;
    const at = h.clock.now();
    await h.fleet.setState(victim.instanceId, 'UNHEALTHY', 'Healthcheck failed:refused');
    await h.untilNow(() => startsOn(executor!).at(-1) === at);
    expect(loopOn(executor!)).toMatchObject({ restartCount: 1 });
  });

  it('goes on with the loop when the replacement dies before its 10 minutes are up', async () => {
    let failures = 3;
    const [executor] = await activeService([() => (failures-- > 0 ? fail() : healthy())]);
    await h.until(() => healthyOn(executor!).length === 1, 10 * MINUTE, 100);
    await h.clock.advance(9 * MINUTE);
    const victim = healthyOn(executor!)[0]!;
    failures = 1;
    const at = h.clock.now();
    await h.fleet.setState(victim.instanceId, 'UNHEALTHY', 'Healthcheck failed:refused');
    await h.until(() => loopOn(executor!)?.restartCount === 4, 1_000, 10);
    expect(loopOn(executor!)!.nextAttemptAt).toBe(at + 40 * SECOND);
    await h.until(() => startsOn(executor!).length === 5, 2 * MINUTE, 100);
    expect(startsOn(executor!).at(-1)).toBe(at + 40 * SECOND);
  });

  it.each<[string, LocalServiceOperation]>([
    ['RESTART', { type: 'RESTART', serviceId: ID, stopFirst: false }],
    ['ADJUST_INSTANCES', { type: 'ADJUST_INSTANCES', serviceId: ID }],
    ['UPDATE_INSTANCE_COUNT', { type: 'UPDATE_INSTANCE_COUNT', serviceId: ID, instancesPerHost: 1 }],
  ])('is never in the way of an operator: %s starts at once and clears the loop', async (_name, op) => {
    const [executor] = await activeService([fail]);
    await h.until(() => loopOn(executor!)?.restartCount === 5 && h.controller.serviceSummary(ID)?.state === 'ACTIVE', 10 * MINUTE, 100);
    const at = h.clock.now();
    await h.submit(op);
    await h.untilNow(() => startsOn(executor!).length === 6);
    expect(startsOn(executor!).at(-1)).toBe(at);
    // Its failure is the first of a fresh loop.
    await h.untilNow(() => loopOn(executor!) !== undefined);
    expect(loopOn(executor!)).toMatchObject({ restartCount: 1 });
    expect(crashLoopEvents().find((e) => e.metadata.CRASH_LOOP_STATE === 'RESET')!.metadata.REASON).toBe(`${op.type} requested by an operator`);
  });

  it('deactivating keeps the loop (nothing starts), activating again clears it and starts at once', async () => {
    const [executor] = await activeService([fail]);
    await h.until(() => loopOn(executor!)?.restartCount === 4 && h.controller.serviceSummary(ID)?.state === 'ACTIVE', 10 * MINUTE, 100);
    await h.submit({ type: 'DEACTIVATE', serviceId: ID });
    await h.until(() => h.controller.serviceSummary(ID)?.state === 'INACTIVE', 1_000, 10);
    expect(loopOn(executor!)).toMatchObject({ restartCount: 4 });
    await h.clock.advance(2 * MINUTE);
    expect(startsOn(executor!)).toHaveLength(4);
    const at = h.clock.now();
    await h.submit({ type: 'ACTIVATE', serviceId: ID });
    await h.untilNow(() => startsOn(executor!).length === 5);
    expect(startsOn(executor!).at(-1)).toBe(at);
  });
});

describe('crash-loop backoff across a leader change', () => {
  let elected: ElectedController | undefined;
  afterEach(async () => {
    await elected?.close();
    elected = undefined;
  });

  it('a new leader carries the loop on where the old one left it: same count, same next attempt', async () => {
    elected = await electedController({ untilMaxMs: 10 * MINUTE, untilStepMs: 100 });
    const { controller, clock, elector, fleet, until } = elected;
    await elector.gain();
    const starts: number[] = [];
    fleet.onMessage((m) => {
      if (m.type === 'START_LOCAL_SERVICE_INSTANCE') starts.push(clock.now());
    });
    await fleet.add('ex0.local', { onStart: () => ({ kind: 'fail', state: 'START_FAILED' }) });
    fleet.startHeartbeats(20 * SECOND);
    expect((await controller.submitOperation({ type: 'CREATE', spec: testSpec(), instancesPerHost: 1 })).ok).toBe(true);
    await until(() => controller.serviceSummary(ID)?.state === 'INACTIVE');
    expect((await controller.submitOperation({ type: 'ACTIVATE', serviceId: ID })).ok).toBe(true);
    await until(() => starts.length === 5);
    await until(() => controller.serviceSummary(ID)?.crashLoops?.[0]?.restartCount === 5, 1_000);
    const before = controller.serviceSummary(ID)!.crashLoops![0]!;
    expect(before.nextAttemptAt).toBe(starts.at(-1)! + 80 * SECOND);

    await elector.lose();
    await clock.advance(10 * SECOND);
    await elector.gain();
    expect(controller.serviceSummary(ID)?.crashLoops).toEqual([before]);
    await until(() => starts.length === 6, 2 * MINUTE);
    expect(starts.at(-1)).toBe(before.nextAttemptAt);
    await until(() => controller.serviceSummary(ID)?.crashLoops?.[0]?.restartCount === 6, 1_000);
    expect(controller.serviceSummary(ID)!.crashLoops![0]!.nextAttemptAt).toBe(starts.at(-1)! + 160 * SECOND);
  });
});
