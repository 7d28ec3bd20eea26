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
  type ActivationState,
  type ExecutorState,
  type LocalServiceInstanceInfo,
  type LocalServiceInstanceState,
} from '../../../src/model/index.js';
import { instanceInfo } from '../../support/records.js';

let seq = 0;
function instance(executorId: string, state: LocalServiceInstanceState = 'HEALTHY', created = seq): LocalServiceInstanceInfo {
  seq++;
  return instanceInfo({ serviceId: 'S-1', instanceId: `SI-${seq}`, executorId, state, created, updated: created });
}
const service = (activationState: ActivationState, instancesPerHost = 2): PlanService => ({ serviceId: 'S-1', activationState, instancesPerHost });
const executors = (...states: ExecutorState[]): PlanExecutor[] => states.map((state, i) => ({ executorId: `E${i}`, state }));

describe('adjust planning (Drove\'s AdjustInstancesLocalServiceActionTest)', () => {
  it('starts instances on ACTIVE and UNREADY executors only', () => {
    const p = plan(service('ACTIVE'), executors('ACTIVE', 'UNREADY', 'BLACKLISTED', 'REMOVED'), []);
    expect(p).toEqual({ start: [{ executorId: 'E0', count: 2 }, { executorId: 'E1', count: 2 }], stop: [] });
    expect(planIsEmpty(plan(service('ACTIVE'), executors('ACTIVE', 'ACTIVE', 'UNREADY', 'BLACKLISTED'), []))).toBe(false);
  });

  it('starts nothing on an executor that has not reported to this leader yet, but still stops its extras', () => {
    const restored: PlanExecutor[] = [
      { executorId: 'E0', state: 'ACTIVE', reported: false },
      { executorId: 'E1', state: 'ACTIVE', reported: true },
    ];
    expect(plan(service('ACTIVE'), restored, [])).toEqual({ start: [{ executorId: 'E1', count: 2 }], stop: [] });
    const extra = [instance('E0'), instance('E0'), instance('E0'), instance('E1'), instance('E1')];
    expect(plan(service('ACTIVE'), restored, extra).stop).toHaveLength(1);
  });

  it('does not start the test instance while an executor that may run it has not reported', () => {
    const restored: PlanExecutor[] = [
      { executorId: 'E0', state: 'ACTIVE', reported: false },
      { executorId: 'E1', state: 'ACTIVE', reported: true },
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

// ---- properties ----

const ACTIVE_INSTANCE_STATES: LocalServiceInstanceState[] = [...INSTANCE_ACTIVE_STATES, 'UNKNOWN'];

const world = fc
  .record({
    executorStates: fc.array(fc.constantFrom(...EXECUTOR_STATES), { minLength: 0, maxLength: 12 }),
    instancesPerHost: fc.integer({ min: 1, max: 8 }),
    activation: fc.constantFrom<ActivationState>('ACTIVE', 'CONFIG_TESTING', 'INACTIVE'),
    // executor index (may point past the list: an executor the registry no longer knows), state, age
    instances: fc.array(
      fc.tuple(fc.nat({ max: 14 }), fc.constantFrom(...ACTIVE_INSTANCE_STATES), fc.nat({ max: 1000 })),
      { maxLength: 60 },
    ),
  })
  .map(({ executorStates, instancesPerHost, activation, instances }) => ({
    svc: service(activation, instancesPerHost),
    execs: executorStates.map((state, i) => ({ executorId: `E${i}`, state })),
    records: instances.map(([e, state, created]) => instance(`E${e}`, state, created)),
  }));

/** Executes a plan the way jobs do: starts become HEALTHY records, stops go away, leaving instances finish. */
function apply(p: ReturnType<typeof plan>, records: LocalServiceInstanceInfo[]): LocalServiceInstanceInfo[] {
  const stopped = new Set(p.stop);
  const after = records.filter((r) => !stopped.has(r.instanceId) && (STARTING_STATES.has(r.state) || RUNNING_STATES.has(r.state)));
  for (const s of p.start) for (let i = 0; i < s.count; i++) after.push(instance(s.executorId, 'HEALTHY', 2000));
  return after;
}

const counted = (r: LocalServiceInstanceInfo) => STARTING_STATES.has(r.state) || RUNNING_STATES.has(r.state);

describe('adjust planning properties', () => {
  it('ACTIVE: exactly instancesPerHost on every eligible executor (unless more are still starting), none running on blacklisted ones', () => {
    fc.assert(
      fc.property(world, ({ svc, execs, records }) => {
        const s = { ...svc, activationState: 'ACTIVE' as const };
        const after = apply(plan(s, execs, records), records);
        for (const e of execs) {
          const here = after.filter((r) => r.executorId === e.executorId);
          if (EXECUTOR_ELIGIBLE_STATES.has(e.state)) {
            const starting = records.filter((r) => r.executorId === e.executorId && STARTING_STATES.has(r.state)).length;
            expect(here.filter(counted).length).toBe(Math.max(s.instancesPerHost, starting));
          } else if (EXECUTOR_BLACKLISTED_STATES.has(e.state)) {
            expect(here.filter((r) => RUNNING_STATES.has(r.state))).toEqual([]);
          } else {
            // Removed executors: nothing is placed there.
            expect(here.filter((r) => r.created === 2000)).toEqual([]);
          }
        }
        // Level-based: once executed, the same plan has nothing left to do (when nothing was over-starting).
        const overStarting = execs.some(
          (e) => records.filter((r) => r.executorId === e.executorId && STARTING_STATES.has(r.state)).length > s.instancesPerHost,
        );
        if (!overStarting) expect(planIsEmpty(plan(s, execs, after))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('CONFIG_TESTING: exactly one instance cluster-wide when any executor is eligible', () => {
    fc.assert(
      fc.property(world, ({ svc, execs, records }) => {
        const s = { ...svc, activationState: 'CONFIG_TESTING' as const };
        const after = apply(plan(s, execs, records), records);
        const eligible = new Set(execs.filter((e) => EXECUTOR_ELIGIBLE_STATES.has(e.state)).map((e) => e.executorId));
        const startingOnEligible = records.filter((r) => eligible.has(r.executorId) && STARTING_STATES.has(r.state)).length;
        const onEligible = after.filter((r) => eligible.has(r.executorId) && counted(r)).length;
        if (eligible.size === 0) expect(onEligible).toBe(0);
        else expect(onEligible).toBe(Math.max(1, startingOnEligible));
        const blacklisted = new Set(execs.filter((e) => EXECUTOR_BLACKLISTED_STATES.has(e.state)).map((e) => e.executorId));
        expect(after.filter((r) => blacklisted.has(r.executorId) && RUNNING_STATES.has(r.state))).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('held executors: the plan is the unheld one without its starts there, whatever the state', () => {
    fc.assert(
      fc.property(world, fc.array(fc.nat({ max: 14 }), { maxLength: 6 }), ({ svc, execs, records }, heldIndexes) => {
        const held = new Set(heldIndexes.map((i) => `E${i}`));
        const free = plan(svc, execs, records);
        const p = plan(svc, execs, records, held);
        expect(p.stop).toEqual(free.stop);
        for (const s of p.start) expect(held.has(s.executorId)).toBe(false);
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
        const reachable = new Set(execs.filter((e) => EXECUTOR_ELIGIBLE_STATES.has(e.state) || EXECUTOR_BLACKLISTED_STATES.has(e.state)).map((e) => e.executorId));
        expect(after.filter((r) => reachable.has(r.executorId) && RUNNING_STATES.has(r.state))).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});
