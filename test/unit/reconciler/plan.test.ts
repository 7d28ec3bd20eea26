import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  plan,
  planIsEmpty,
  type PlanExecutor,
  type PlanService,
} from '../../../src/controller/reconcile/plan.js';
import {
  EXECUTOR_BLACKLISTED_STATES,
  EXECUTOR_ELIGIBLE_STATES,
  EXECUTOR_STATES,
  INSTANCE_ACTIVE_STATES,
  INSTANCE_RUNNING_STATES as RUNNING_STATES,
  INSTANCE_STARTING_STATES as STARTING_STATES,
  requiredInstanceCount,
  type ActivationState,
  type ExecutorState,
  type LocalServiceInstanceInfo,
  type LocalServiceInstanceState,
  type PlacementPolicy,
} from '../../../src/model/index.js';
import { instanceInfo } from '../../support/records.js';

let seq = 0;
function instance(executorId: string, state: LocalServiceInstanceState = 'HEALTHY', created = seq): LocalServiceInstanceInfo {
  seq++;
  return instanceInfo({ serviceId: 'S-1', instanceId: `SI-${seq}`, executorId, state, created, updated: created });
}
const LOCAL: PlacementPolicy = { type: 'LOCAL', hostLevel: false };
const service = (activationState: ActivationState, instancesPerHost = 2, placementPolicy: PlacementPolicy = LOCAL): PlanService => ({
  serviceId: 'S-1',
  activationState,
  instancesPerHost,
  spec: { placementPolicy },
});
const executor = (i: number, state: ExecutorState, tags: string[] = []): PlanExecutor => ({
  executorId: `E${i}`,
  state,
  nodeData: { hostname: `host${i}`, tags: [`host${i}`, ...tags] },
});
const executors = (...states: ExecutorState[]): PlanExecutor[] => states.map((state, i) => executor(i, state));
const matchTag = (tag: string): PlacementPolicy => ({ type: 'COMPOSITE', combiner: 'AND', policies: [LOCAL, { type: 'MATCH_TAG', tag }] });

describe('adjust planning (Drove\'s AdjustInstancesLocalServiceActionTest)', () => {
  it('starts instances on ACTIVE and UNREADY executors only', () => {
    const p = plan(service('ACTIVE'), executors('ACTIVE', 'UNREADY', 'BLACKLISTED', 'REMOVED'), []);
    expect(p).toEqual({ start: [{ executorId: 'E0', count: 2 }, { executorId: 'E1', count: 2 }], stop: [] });
    expect(planIsEmpty(plan(service('ACTIVE'), executors('ACTIVE', 'ACTIVE', 'UNREADY', 'BLACKLISTED'), []))).toBe(false);
  });

  it('starts nothing on an executor that has not reported to this leader yet, but still stops its extras', () => {
    const restored: PlanExecutor[] = [
      { ...executor(0, 'ACTIVE'), reported: false },
      { ...executor(1, 'ACTIVE'), reported: true },
    ];
    expect(plan(service('ACTIVE'), restored, [])).toEqual({ start: [{ executorId: 'E1', count: 2 }], stop: [] });
    const extra = [instance('E0'), instance('E0'), instance('E0'), instance('E1'), instance('E1')];
    expect(plan(service('ACTIVE'), restored, extra).stop).toHaveLength(1);
  });

  it('does not start the test instance while an executor that may run it has not reported', () => {
    const restored: PlanExecutor[] = [
      { ...executor(0, 'ACTIVE'), reported: false },
      { ...executor(1, 'ACTIVE'), reported: true },
    ];
    expect(planIsEmpty(plan(service('CONFIG_TESTING'), restored, []))).toBe(true);
    expect(plan(service('CONFIG_TESTING'), [{ ...restored[0]!, reported: true }, restored[1]!], []).start).toHaveLength(1);
  });

  it('plans nothing with only blacklisted or removed executors', () => {
    expect(planIsEmpty(plan(service('ACTIVE'), executors('BLACKLISTED', 'REMOVED'), []))).toBe(true);
    expect(planIsEmpty(plan(service('ACTIVE'), executors('BLACKLISTED'), []))).toBe(true);
    expect(planIsEmpty(plan(service('CONFIG_TESTING'), executors('BLACKLISTED'), []))).toBe(true);
  });

  it('places on a lone UNREADY executor (that is how it becomes ACTIVE)', () => {
    expect(plan(service('ACTIVE', 1), executors('UNREADY'), [])).toEqual({ start: [{ executorId: 'E0', count: 1 }], stop: [] });
  });

  it('stops extras, keeping healthy and older ones', () => {
    const old = instance('E0', 'HEALTHY', 1);
    const newer = instance('E0', 'HEALTHY', 5);
    const unready = instance('E0', 'UNREADY', 0);
    const p = plan(service('ACTIVE', 1), executors('ACTIVE'), [newer, old, unready]);
    expect(p.start).toEqual([]);
    expect(new Set(p.stop)).toEqual(new Set([unready.instanceId, newer.instanceId]));
  });

  it('plans one test instance for CONFIG_TESTING', () => {
    const p = plan(service('CONFIG_TESTING'), executors('ACTIVE', 'UNREADY'), []);
    expect(p.start).toHaveLength(1);
    expect(p.start[0]!.count).toBe(1);
  });

  it('needs no adjustment when every executor has its instances', () => {
    const ex = executors('ACTIVE');
    expect(planIsEmpty(plan(service('ACTIVE', 2), ex, [instance('E0'), instance('E0')]))).toBe(true);
  });

  it('stops running instances on blacklisted executors (Drove leaves that to a STOP_INSTANCES that fails)', () => {
    const onBlacklisted = instance('E1');
    const p = plan(service('ACTIVE', 1), executors('ACTIVE', 'BLACKLISTED'), [instance('E0'), onBlacklisted]);
    expect(p).toEqual({ start: [], stop: [onBlacklisted.instanceId] });
  });

  it('replaces leaving instances at once and never stops ones still starting', () => {
    const p = plan(service('ACTIVE', 1), executors('ACTIVE'), [instance('E0', 'UNHEALTHY')]);
    expect(p).toEqual({ start: [{ executorId: 'E0', count: 1 }], stop: [] });
    const starting = [instance('E0', 'PENDING'), instance('E0', 'PROVISIONING')];
    expect(plan(service('ACTIVE', 1), executors('ACTIVE'), starting)).toEqual({ start: [], stop: [] });
  });

  it('stops every running instance of an INACTIVE service', () => {
    const running = [instance('E0'), instance('E1', 'READY')];
    const p = plan(service('INACTIVE'), executors('ACTIVE', 'BLACKLISTED'), [...running, instance('E0', 'PENDING')]);
    expect(new Set(p.stop)).toEqual(new Set(running.map((i) => i.instanceId)));
    expect(p.start).toEqual([]);
  });
});

describe('adjust planning with tag constraints (docs/design/placement.md#tag-constraints)', () => {
  const gpu = matchTag('gpu');
  const fleet = () => [executor(0, 'ACTIVE', ['gpu']), executor(1, 'UNREADY', ['gpu', 'ssd']), executor(2, 'ACTIVE', ['ssd'])];

  it('starts instances only on eligible executors whose tags satisfy the constraint', () => {
    expect(plan(service('ACTIVE', 2, gpu), fleet(), [])).toEqual({
      start: [{ executorId: 'E0', count: 2 }, { executorId: 'E1', count: 2 }],
      stop: [],
    });
  });

  it('stops running instances on an executor that no longer has the tag, as if it had left', () => {
    const kept = instance('E0');
    const untagged = [instance('E2', 'HEALTHY'), instance('E2', 'READY')];
    const starting = instance('E2', 'PENDING');
    const p = plan(service('ACTIVE', 1, gpu), fleet(), [kept, ...untagged, starting]);
    expect(p.start).toEqual([{ executorId: 'E1', count: 1 }]);
    expect(new Set(p.stop)).toEqual(new Set(untagged.map((i) => i.instanceId)));
  });

  it('an instance on a non-matching executor does not count: the matching ones still get theirs', () => {
    const p = plan(service('ACTIVE', 1, matchTag('ssd')), fleet(), [instance('E0')]);
    expect(p).toEqual({ start: [{ executorId: 'E1', count: 1 }, { executorId: 'E2', count: 1 }], stop: [expect.any(String)] });
  });

  it('places the CONFIG_TESTING instance on a matching executor, and moves it when its executor stops matching', () => {
    const onlySsd = [executor(0, 'ACTIVE', ['gpu']), executor(1, 'ACTIVE', ['ssd'])];
    expect(plan(service('CONFIG_TESTING', 1, matchTag('ssd')), onlySsd, [])).toEqual({ start: [{ executorId: 'E1', count: 1 }], stop: [] });
    const onE0 = instance('E0');
    expect(plan(service('CONFIG_TESTING', 1, matchTag('ssd')), onlySsd, [onE0])).toEqual({
      start: [{ executorId: 'E1', count: 1 }],
      stop: [onE0.instanceId],
    });
  });

  it('stops nothing on an executor that has not reported to this leader yet: its tags may be older than it', () => {
    const restored: PlanExecutor[] = [{ ...executor(0, 'ACTIVE', ['ssd']), reported: false }, executor(1, 'ACTIVE', ['gpu'])];
    const onRestored = instance('E0');
    expect(plan(service('ACTIVE', 1, gpu), restored, [onRestored, instance('E1')])).toEqual({ start: [], stop: [] });
    expect(plan(service('ACTIVE', 1, gpu), [{ ...restored[0]!, reported: true }, restored[1]!], [onRestored, instance('E1')]).stop).toEqual([
      onRestored.instanceId,
    ]);
  });

  it('plans nothing when no executor matches', () => {
    expect(planIsEmpty(plan(service('ACTIVE', 2, matchTag('tpu')), fleet(), []))).toBe(true);
    expect(planIsEmpty(plan(service('CONFIG_TESTING', 2, matchTag('tpu')), fleet(), []))).toBe(true);
  });

  it('evaluates OR, NO_TAG and the hostname tag', () => {
    const either: PlacementPolicy = {
      type: 'COMPOSITE',
      policies: [LOCAL, { type: 'COMPOSITE', combiner: 'OR', policies: [{ type: 'MATCH_TAG', tag: 'host2' }, { type: 'NO_TAG' }] }],
    };
    const ex = [executor(0, 'ACTIVE', ['gpu']), executor(1, 'ACTIVE'), executor(2, 'ACTIVE', ['ssd'])];
    expect(plan(service('ACTIVE', 1, either), ex, []).start.map((s) => s.executorId)).toEqual(['E1', 'E2']);
  });
});

describe('adjust planning with crash-loop backoff (docs/design/crash-loop-backoff.md)', () => {
  it('starts nothing on a held executor, and still stops what must stop there', () => {
    const extra = [instance('E1', 'HEALTHY', 1), instance('E1', 'HEALTHY', 2)];
    const p = plan(service('ACTIVE', 1), executors('ACTIVE', 'ACTIVE', 'ACTIVE'), extra, new Set(['E0', 'E1']));
    expect(p.start).toEqual([{ executorId: 'E2', count: 1 }]);
    expect(p.stop).toEqual([extra[1]!.instanceId]);
  });

  it('places the CONFIG_TESTING instance on an executor that is not held, or nowhere while all are', () => {
    for (const held of ['E0', 'E1', 'E2']) {
      const p = plan(service('CONFIG_TESTING'), executors('ACTIVE', 'ACTIVE', 'ACTIVE'), [], new Set([held]));
      expect(p.start).toHaveLength(1);
      expect(p.start[0]!.executorId).not.toBe(held);
    }
    expect(planIsEmpty(plan(service('CONFIG_TESTING'), executors('ACTIVE', 'ACTIVE'), [], new Set(['E0', 'E1'])))).toBe(true);
  });
});

describe('adjust planning where a tag constraint meets crash-loop backoff', () => {
  // E0 and E1 have the tag; E0's instance crash-loops, so E0 is held. E2 has no tag.
  const gpu = matchTag('gpu');
  const fleet = () => [executor(0, 'ACTIVE', ['gpu']), executor(1, 'ACTIVE', ['gpu']), executor(2, 'ACTIVE', ['ssd'])];
  const heldE0 = new Set(['E0']);

  it('holds the matching host in backoff, places nothing on the host without the tag, and still requires the held one', () => {
    const onE1 = instance('E1');
    // E0's failed instance is gone from the plannable records: nothing counts there.
    const p = plan(service('ACTIVE', 1, gpu), fleet(), [onE1], heldE0);
    expect(p).toEqual({ start: [], stop: [] });
    // Held, not excluded: E0 is still one of the hosts the service needs (the count the summary shows).
    expect(requiredInstanceCount(service('ACTIVE', 1, gpu), fleet())).toBe(2);
    // Once the backoff is over, E0 gets its start; E2 never does.
    expect(plan(service('ACTIVE', 1, gpu), fleet(), [onE1])).toEqual({ start: [{ executorId: 'E0', count: 1 }], stop: [] });
  });

  it('a loop left on a host that lost the tag neither places nor keeps anything there', () => {
    // E2 was in a loop from before its tag went; held or not, the constraint decides.
    const onE2 = instance('E2');
    for (const held of [new Set(['E2']), new Set(['E0', 'E2'])]) {
      const p = plan(service('ACTIVE', 1, gpu), fleet(), [instance('E1'), onE2], held);
      expect(p.start.map((x) => x.executorId)).toEqual(held.has('E0') ? [] : ['E0']);
      expect(p.stop).toEqual([onE2.instanceId]);
    }
    expect(requiredInstanceCount(service('ACTIVE', 1, gpu), fleet())).toBe(2);
  });

  it('places the CONFIG_TESTING instance on the other matching host while one is held, never on the untagged one', () => {
    expect(plan(service('CONFIG_TESTING', 1, gpu), fleet(), [], heldE0)).toEqual({ start: [{ executorId: 'E1', count: 1 }], stop: [] });
    expect(planIsEmpty(plan(service('CONFIG_TESTING', 1, gpu), fleet(), [], new Set(['E0', 'E1'])))).toBe(true);
    expect(requiredInstanceCount(service('CONFIG_TESTING', 1, gpu), fleet())).toBe(1);
  });
});

// ---- properties ----

const ACTIVE_INSTANCE_STATES: LocalServiceInstanceState[] = [...INSTANCE_ACTIVE_STATES, 'UNKNOWN'];

/** Tags executors may carry; `absent` is never carried, so constraints that name it match nothing. */
const TAGS = ['a', 'b', 'c'] as const;
const ABSENT = 'absent';

/** Tag constraints as Drove spells them: MATCH_TAG, NO_TAG and COMPOSITEs (AND, OR, or no combiner = AND) of them. */
const constraint: fc.Arbitrary<PlacementPolicy> = fc.letrec<{ policy: PlacementPolicy }>((tie) => ({
  policy: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(...TAGS, ABSENT).map((tag): PlacementPolicy => ({ type: 'MATCH_TAG', tag })),
    fc.constant<PlacementPolicy>({ type: 'NO_TAG' }),
    fc
      .record({
        combiner: fc.constantFrom<'AND' | 'OR' | undefined>('AND', 'OR', undefined),
        policies: fc.array(tie('policy'), { minLength: 1, maxLength: 3 }),
      })
      .map(({ combiner, policies }): PlacementPolicy => ({ type: 'COMPOSITE', policies, ...(combiner ? { combiner } : {}) })),
  ),
})).policy;

/** A local service's placement: plain LOCAL, or Drove's COMPOSITE (AND) of LOCAL and constraints. */
const placement: fc.Arbitrary<PlacementPolicy> = fc.oneof(
  fc.constant(LOCAL),
  fc.array(constraint, { minLength: 0, maxLength: 2 }).map((constraints): PlacementPolicy => ({
    type: 'COMPOSITE',
    combiner: 'AND',
    policies: [LOCAL, ...constraints],
  })),
);

/** The test's own reading of a constraint (not the implementation's), to check the plan against. */
function satisfies(policy: PlacementPolicy, tags: readonly string[], hostname: string): boolean {
  switch (policy.type) {
    case 'LOCAL':
      return true;
    case 'MATCH_TAG':
      return tags.includes(policy.tag!);
    case 'NO_TAG':
      return tags.filter((t) => t !== hostname).length === 0;
    case 'COMPOSITE': {
      const results = policy.policies!.map((p) => satisfies(p, tags, hostname));
      return policy.combiner === 'OR' ? results.includes(true) : !results.includes(false);
    }
    default:
      throw new Error(`not generated: ${policy.type}`);
  }
}

const world = fc
  .record({
    executors: fc.array(fc.tuple(fc.constantFrom(...EXECUTOR_STATES), fc.subarray([...TAGS])), { minLength: 0, maxLength: 12 }),
    instancesPerHost: fc.integer({ min: 1, max: 8 }),
    activation: fc.constantFrom<ActivationState>('ACTIVE', 'CONFIG_TESTING', 'INACTIVE'),
    placementPolicy: placement,
    // executor index (may point past the list: an executor the registry no longer knows), state, age
    instances: fc.array(
      fc.tuple(fc.nat({ max: 14 }), fc.constantFrom(...ACTIVE_INSTANCE_STATES), fc.nat({ max: 1000 })),
      { maxLength: 60 },
    ),
  })
  .map(({ executors: shape, instancesPerHost, activation, placementPolicy, instances }) => {
    const execs = shape.map(([state, tags], i) => executor(i, state, tags));
    return {
      svc: service(activation, instancesPerHost, placementPolicy),
      execs,
      records: instances.map(([e, state, created]) => instance(`E${e}`, state, created)),
      /** Executors the service may run on, by the test's own reading: eligible state and tags that satisfy the policy. */
      taking: new Set(
        execs
          .filter((e) => EXECUTOR_ELIGIBLE_STATES.has(e.state) && satisfies(placementPolicy, e.nodeData.tags, e.nodeData.hostname))
          .map((e) => e.executorId),
      ),
    };
  });

/** Executes a plan the way jobs do: starts become HEALTHY records, stops go away, leaving instances finish. */
function apply(p: ReturnType<typeof plan>, records: LocalServiceInstanceInfo[]): LocalServiceInstanceInfo[] {
  const stopped = new Set(p.stop);
  const after = records.filter((r) => !stopped.has(r.instanceId) && (STARTING_STATES.has(r.state) || RUNNING_STATES.has(r.state)));
  for (const s of p.start) for (let i = 0; i < s.count; i++) after.push(instance(s.executorId, 'HEALTHY', 2000));
  return after;
}

const counted = (r: LocalServiceInstanceInfo) => STARTING_STATES.has(r.state) || RUNNING_STATES.has(r.state);
/** Blacklisted, or eligible but not matching: STOP reaches it, and nothing of the service may run there. */
const reachable = (e: PlanExecutor) => EXECUTOR_ELIGIBLE_STATES.has(e.state) || EXECUTOR_BLACKLISTED_STATES.has(e.state);

describe('adjust planning properties (random executor tags and constraints)', () => {
  it('ACTIVE: exactly instancesPerHost on every executor that takes the service (unless more are still starting), none running or started elsewhere', () => {
    fc.assert(
      fc.property(world, ({ svc, execs, records, taking }) => {
        const s = { ...svc, activationState: 'ACTIVE' as const };
        const p = plan(s, execs, records);
        for (const start of p.start) expect(taking.has(start.executorId)).toBe(true);
        const after = apply(p, records);
        for (const e of execs) {
          const here = after.filter((r) => r.executorId === e.executorId);
          if (taking.has(e.executorId)) {
            const starting = records.filter((r) => r.executorId === e.executorId && STARTING_STATES.has(r.state)).length;
            expect(here.filter(counted).length).toBe(Math.max(s.instancesPerHost, starting));
          } else if (reachable(e)) {
            // Blacklisted, or eligible without the tags: nothing of the service keeps running there.
            expect(here.filter((r) => RUNNING_STATES.has(r.state))).toEqual([]);
          } else {
            // Removed executors: nothing is placed there.
            expect(here.filter((r) => r.created === 2000)).toEqual([]);
          }
        }
        // Level-based: once executed, the same plan has nothing left to do (when nothing was over-starting), and
        // the instances counted on the executors that take the service are the summary's requiredInstances.
        const overStarting = execs.some(
          (e) => records.filter((r) => r.executorId === e.executorId && STARTING_STATES.has(r.state)).length > s.instancesPerHost,
        );
        if (!overStarting) {
          expect(planIsEmpty(plan(s, execs, after))).toBe(true);
          expect(after.filter((r) => taking.has(r.executorId) && counted(r)).length).toBe(requiredInstanceCount(s, execs));
        }
        expect(requiredInstanceCount(s, execs)).toBe(s.instancesPerHost * taking.size);
      }),
      { numRuns: 500 },
    );
  });

  it('CONFIG_TESTING: exactly one instance cluster-wide when any executor takes the service, on one that does', () => {
    fc.assert(
      fc.property(world, ({ svc, execs, records, taking }) => {
        const s = { ...svc, activationState: 'CONFIG_TESTING' as const };
        const p = plan(s, execs, records);
        for (const start of p.start) expect(taking.has(start.executorId)).toBe(true);
        const after = apply(p, records);
        const startingOnTaking = records.filter((r) => taking.has(r.executorId) && STARTING_STATES.has(r.state)).length;
        const onTaking = after.filter((r) => taking.has(r.executorId) && counted(r)).length;
        if (taking.size === 0) expect(onTaking).toBe(0);
        else expect(onTaking).toBe(Math.max(1, startingOnTaking));
        const elsewhere = new Set(execs.filter((e) => reachable(e) && !taking.has(e.executorId)).map((e) => e.executorId));
        expect(after.filter((r) => elsewhere.has(r.executorId) && RUNNING_STATES.has(r.state))).toEqual([]);
        expect(requiredInstanceCount(s, execs)).toBe(taking.size > 0 ? 1 : 0);
        if (startingOnTaking <= 1) expect(onTaking).toBe(requiredInstanceCount(s, execs));
      }),
      { numRuns: 500 },
    );
  });

  it('held executors: the plan is the unheld one without its starts there, whatever the state', () => {
    fc.assert(
      fc.property(world, fc.array(fc.nat({ max: 14 }), { maxLength: 6 }), ({ svc, execs, records, taking }, heldIndexes) => {
        const held = new Set(heldIndexes.map((i) => `E${i}`));
        const free = plan(svc, execs, records);
        const p = plan(svc, execs, records, held);
        expect(p.stop).toEqual(free.stop);
        for (const s of p.start) expect(held.has(s.executorId)).toBe(false);
        // Backoff never widens where the service runs: starts stay on executors that take it.
        for (const s of p.start) expect(taking.has(s.executorId)).toBe(true);
        if (svc.activationState !== 'CONFIG_TESTING') expect(p.start).toEqual(free.start.filter((s) => !held.has(s.executorId)));
        else expect(p.start.length).toBeLessThanOrEqual(free.start.length);
      }),
      { numRuns: 500 },
    );
  });

  it('INACTIVE: nothing left running on known executors, nothing started', () => {
    fc.assert(
      fc.property(world, ({ svc, execs, records }) => {
        const s = { ...svc, activationState: 'INACTIVE' as const };
        const p = plan(s, execs, records);
        expect(p.start).toEqual([]);
        const after = apply(p, records);
        const known = new Set(execs.filter(reachable).map((e) => e.executorId));
        expect(after.filter((r) => known.has(r.executorId) && RUNNING_STATES.has(r.state))).toEqual([]);
        expect(requiredInstanceCount(s, execs)).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});
