import { describe, expect, it } from 'vitest';
import type {
  DroveEvent,
  LocalServiceInstanceInfo,
  LocalServiceInstanceState,
  LocalServiceState,
  LocalServiceSummary,
} from '../../../src/model/index.js';
import { InvariantChecker, type Violation } from '../../support/soak/invariants.js';
import type { OperationRecord } from '../../support/soak/records.js';
import type { ContainerFact, LeaderView, Sample } from '../../support/soak/sample.js';
import type { PlannedOperation } from '../../support/soak/schedule.js';
import { SOAK_SERVICES } from '../../support/soak/services.js';
import { TermTracker } from '../../support/soak/terms.js';

/**
 * The checker on synthetic samples: each rule is broken once (a violation must come) and bent the way faults
 * legitimately bend it (no violation may come).
 */

const SERVICE = SOAK_SERVICES[0]!.id;
const EXECUTORS = ['E0', 'E1', 'E2'];
const T0 = 1_800_000_000_000;

function instance(instanceId: string, host: number, state: LocalServiceInstanceState): LocalServiceInstanceInfo {
  return {
    serviceId: SERVICE,
    serviceName: 'SOAK_PAIR',
    instanceId,
    executorId: EXECUTORS[host]!,
    resources: [],
    state,
    metadata: {},
    errorMessage: '',
    created: T0,
    updated: T0,
  };
}

function summary(
  activationState: LocalServiceSummary['activationState'],
  instancesPerHost: number,
  state: LocalServiceState = activationState,
  created = T0,
): LocalServiceSummary {
  return {
    id: SERVICE,
    name: 'SOAK_PAIR',
    instancesPerHost,
    healthyInstances: 0,
    totalCPUs: 0,
    totalMemory: 0,
    tags: {},
    activationState,
    state,
    created,
    updated: created,
  };
}

interface World {
  services?: LocalServiceSummary[];
  instances?: LocalServiceInstanceInfo[];
  /** Running containers: [instanceId, host]. */
  containers?: Array<[string, number]>;
  leaders?: number[];
  excludeView?: boolean;
}

function sample(at: number, world: World, tracker: TermTracker): Sample {
  const services = world.services ?? [summary('ACTIVE', 2)];
  const records = world.instances ?? [];
  const active = (s: LocalServiceInstanceState) => !['STOPPED', 'LOST', 'PROVISIONING_FAILED', 'START_FAILED', 'READINESS_CHECK_FAILED', 'UNKNOWN'].includes(s);
  const view: LeaderView = {
    controller: 0,
    term: tracker.currentTerm(0),
    services: new Map(services.map((s) => [s.id, s])),
    instances: new Map(services.map((s) => [s.id, records.filter((i) => i.serviceId === s.id && active(i.state))])),
    oldInstances: new Map(services.map((s) => [s.id, records.filter((i) => i.serviceId === s.id && !active(i.state))])),
    executors: EXECUTORS.map((executorId) => ({ executorId, hostname: executorId, state: 'ACTIVE' })),
  };
  const containers = (world.containers ?? []).map(([instanceId, host]): ContainerFact => ({ host, containerId: `c-${instanceId}`, serviceId: SERVICE, instanceId }));
  return {
    wall: at,
    hosts: [0, 1, 2].map((host) => ({ host, ok: true, containers: containers.filter((c) => c.host === host) })),
    leaders: world.leaders ?? [0],
    view: world.excludeView ? undefined : view,
  };
}

function setup() {
  const tracker = new TermTracker();
  const violations: Violation[] = [];
  const checker = new InvariantChecker({ services: SOAK_SERVICES, executorIds: EXECUTORS, tracker, onViolation: (v) => violations.push(v) });
  const acquire = (controller: number, at: number, id = `term-${controller}-${at}`) =>
    tracker.add(controller, [{ type: 'LEADERSHIP_ACQUIRED', id, time: at, metadata: { HOSTNAME: 'c' } }], at, at + 1);
  acquire(0, T0 - 10_000);
  return { tracker, checker, violations, acquire };
}

const stateEvent = (time: number, state: LocalServiceState, id = `e-${time}-${state}`): DroveEvent => ({
  type: 'LOCAL_SERVICE_STATE_CHANGE',
  id,
  time,
  metadata: { LOCAL_SERVICE_ID: SERVICE, CURRENT_STATE: state },
});

function accepted(planned: Partial<PlannedOperation> & Pick<PlannedOperation, 'kind'>, at: number, controller = 0): OperationRecord {
  return {
    planned: { atMs: 0, serviceId: SERVICE, expectRefusal: false, ...planned },
    sentAt: at,
    repliedAt: at + 10,
    controller,
    outcome: 'accepted',
    status: 200,
    message: undefined,
  };
}

const rules = (violations: Violation[]) => violations.map((v) => v.rule);

describe('invariant checker: instances per host', () => {
  const healthyPair = [instance('A', 0, 'HEALTHY'), instance('B', 0, 'HEALTHY')];

  it('flags a third running container of an instancesPerHost 2 service on a host, once per episode', () => {
    const { checker, violations, tracker } = setup();
    const extra = instance('C', 0, 'HEALTHY');
    checker.sample(sample(T0, { instances: healthyPair, containers: [['A', 0], ['B', 0]] }, tracker));
    expect(violations).toEqual([]);
    for (let i = 1; i <= 3; i++) {
      checker.sample(sample(T0 + i * 1_000, { instances: [...healthyPair, extra], containers: [['A', 0], ['B', 0], ['C', 0]] }, tracker));
    }
    expect(rules(violations)).toEqual(['instances-per-host']);
    expect(violations[0]!.message).toContain('3 running containers');
    expect(violations[0]!.evidence).toContain('C container');
  });

  it('does not count a container on its way out, unless it stays longer than the leaving window', () => {
    const { checker, violations, tracker } = setup();
    const world = (at: number) =>
      sample(at, { instances: [...healthyPair, instance('OLD', 0, 'STOPPING')], containers: [['A', 0], ['B', 0], ['OLD', 0]] }, tracker);
    checker.sample(world(T0));
    checker.sample(world(T0 + 29_000));
    expect(violations).toEqual([]);
    checker.sample(world(T0 + 31_000));
    expect(rules(violations)).toEqual(['instances-per-host']);
  });

  it('counts a running container whose record is LOST (an orphan or a duplicate)', () => {
    const { checker, violations, tracker } = setup();
    const world = (at: number) =>
      sample(at, { instances: [...healthyPair, instance('GONE', 0, 'LOST')], containers: [['A', 0], ['B', 0], ['GONE', 0]] }, tracker);
    checker.sample(world(T0));
    expect(violations).toEqual([]);
    checker.sample(world(T0 + 31_000));
    expect(rules(violations)).toEqual(['instances-per-host']);
  });

  it('leaves out a host while its executor is down or cut off, and for the recovery window after', () => {
    const { checker, violations, tracker } = setup();
    const world = (at: number) =>
      sample(at, { instances: healthyPair, containers: [['A', 0], ['B', 0], ['X', 0], ['Y', 0]] }, tracker);
    checker.hostFaultStarted(0);
    checker.sample(world(T0));
    checker.hostFaultEnded(0, T0 + 1_000);
    checker.sample(world(T0 + 20_000));
    expect(violations).toEqual([]);
    checker.sample(world(T0 + 21_500));
    expect(rules(violations)).toEqual(['instances-per-host']);
  });

  it('keeps the old count as the cap for a while after instancesPerHost went down', () => {
    const { checker, violations, tracker } = setup();
    const three = [...healthyPair, instance('C', 0, 'HEALTHY')];
    const containers: Array<[string, number]> = [['A', 0], ['B', 0], ['C', 0]];
    checker.sample(sample(T0, { services: [summary('ACTIVE', 3)], instances: three, containers }, tracker));
    checker.sample(sample(T0 + 1_000, { services: [summary('ACTIVE', 1)], instances: three, containers }, tracker));
    checker.sample(sample(T0 + 30_000, { services: [summary('ACTIVE', 1)], instances: three, containers }, tracker));
    expect(violations).toEqual([]);
    checker.sample(sample(T0 + 32_000, { services: [summary('ACTIVE', 1)], instances: three, containers }, tracker));
    expect(rules(violations)).toEqual(['instances-per-host']);
  });

  it('allows a start-first restart its parallelism in extra instances while it runs', () => {
    const { checker, violations, tracker } = setup();
    checker.operation(accepted({ kind: 'RESTART', stopFirst: false, opSpec: { timeout: '20 seconds', parallelism: 1 } }, T0));
    const world = (at: number, containers: Array<[string, number]>) =>
      sample(at, { services: [summary('ACTIVE', 2, 'REPLACING_INSTANCES')], instances: [...healthyPair, instance('N', 0, 'UNREADY')], containers }, tracker);
    checker.sample(world(T0 + 1_000, [['A', 0], ['B', 0], ['N', 0]]));
    expect(violations).toEqual([]);
    checker.sample(world(T0 + 2_000, [['A', 0], ['B', 0], ['N', 0], ['M', 0]]));
    expect(rules(violations)).toEqual(['instances-per-host']);
  });

  it('keeps the surplus of an interrupted start-first restart allowed while further operations keep the reconciler off', () => {
    const { checker, violations, tracker, acquire } = setup();
    checker.operation(accepted({ kind: 'RESTART', stopFirst: false, opSpec: { timeout: '20 seconds', parallelism: 1 } }, T0));
    const three: Array<[string, number]> = [['A', 0], ['B', 0], ['N', 0]];
    const records = [...healthyPair, instance('N', 0, 'HEALTHY')];
    // Its leader loses leadership; the next one runs another (stop-first) restart for a minute.
    acquire(1, T0 + 2_000);
    for (let t = 3_000; t <= 63_000; t += 5_000) {
      checker.sample(sample(T0 + t, { leaders: [1], services: [summary('ACTIVE', 2, 'REPLACING_INSTANCES')], instances: records, containers: three }, tracker));
    }
    expect(checker.operationTally().interrupted).toBe(1);
    // Steady again: the reconciler has its window to stop the surplus.
    checker.sample(sample(T0 + 64_000, { leaders: [1], instances: records, containers: three }, tracker));
    checker.sample(sample(T0 + 93_000, { leaders: [1], instances: records, containers: three }, tracker));
    expect(violations).toEqual([]);
    checker.sample(sample(T0 + 95_000, { leaders: [1], instances: records, containers: three }, tracker));
    expect(rules(violations)).toEqual(['instances-per-host']);
  });

  it('keeps the old count as the cap while operations follow a decrease, and for the window once steady', () => {
    const { checker, violations, tracker } = setup();
    const three = [...healthyPair, instance('C', 0, 'HEALTHY')];
    const containers: Array<[string, number]> = [['A', 0], ['B', 0], ['C', 0]];
    checker.sample(sample(T0, { services: [summary('ACTIVE', 3)], instances: three, containers }, tracker));
    checker.sample(sample(T0 + 1_000, { services: [summary('ACTIVE', 2, 'REPLACING_INSTANCES')], instances: three, containers }, tracker));
    checker.sample(sample(T0 + 50_000, { services: [summary('ACTIVE', 2, 'REPLACING_INSTANCES')], instances: three, containers }, tracker));
    checker.sample(sample(T0 + 51_000, { services: [summary('ACTIVE', 2)], instances: three, containers }, tracker));
    checker.sample(sample(T0 + 80_000, { services: [summary('ACTIVE', 2)], instances: three, containers }, tracker));
    expect(violations).toEqual([]);
    checker.sample(sample(T0 + 82_000, { services: [summary('ACTIVE', 2)], instances: three, containers }, tracker));
    expect(rules(violations)).toEqual(['instances-per-host']);
  });

  it('takes the count an accepted operation asked for into the cap, though no sample saw it in force', () => {
    const { checker, violations, tracker } = setup();
    // Activated and deactivated again across a failover: every view shows the service INACTIVE.
    checker.operation(accepted({ kind: 'ACTIVATE' }, T0));
    const world = (at: number) =>
      sample(at, { services: [summary('INACTIVE', 2, 'ADJUSTING_INSTANCES')], instances: healthyPair, containers: [['A', 0], ['B', 0]] }, tracker);
    checker.sample(world(T0 + 5_000));
    checker.sample(world(T0 + 20_000));
    expect(violations).toEqual([]);
    checker.sample(sample(T0 + 21_000, { services: [summary('INACTIVE', 2)], instances: healthyPair, containers: [['A', 0], ['B', 0]] }, tracker));
    checker.sample(sample(T0 + 52_000, { services: [summary('INACTIVE', 2)], instances: healthyPair, containers: [['A', 0], ['B', 0]] }, tracker));
    expect(rules(violations)).toEqual(['instances-per-host']);
  });

  it('allows no extra instance to a stop-first restart', () => {
    const { checker, violations, tracker } = setup();
    checker.operation(accepted({ kind: 'RESTART', stopFirst: true }, T0));
    checker.sample(
      sample(T0 + 1_000, { services: [summary('ACTIVE', 2, 'REPLACING_INSTANCES')], instances: [...healthyPair, instance('N', 0, 'UNREADY')], containers: [['A', 0], ['B', 0], ['N', 0]] }, tracker),
    );
    expect(rules(violations)).toEqual(['instances-per-host']);
  });

  it('flags two running instances of a service that has been config testing throughout', () => {
    const { checker, violations, tracker } = setup();
    const world = (at: number) =>
      sample(at, { services: [summary('CONFIG_TESTING', 2)], instances: [instance('A', 0, 'HEALTHY'), instance('B', 1, 'HEALTHY')], containers: [['A', 0], ['B', 1]] }, tracker);
    checker.sample(world(T0));
    checker.sample(world(T0 + 20_000));
    expect(violations).toEqual([]);
    checker.sample(world(T0 + 31_000));
    expect(rules(violations)).toEqual(['config-test-instances']);
  });
});

describe('invariant checker: records', () => {
  it('flags an instance record that stays unlisted, but not the short gap before a stale record is swept', () => {
    const { checker, violations, tracker } = setup();
    const a = instance('A', 0, 'HEALTHY');
    checker.sample(sample(T0, { instances: [a, instance('B', 1, 'HEALTHY')] }, tracker));
    checker.sample(sample(T0 + 5_000, { instances: [instance('B', 1, 'HEALTHY')] }, tracker));
    checker.sample(sample(T0 + 6_000, { instances: [{ ...a, state: 'LOST' }, instance('B', 1, 'HEALTHY')] }, tracker));
    expect(violations).toEqual([]);
    checker.sample(sample(T0 + 7_000, { instances: [{ ...a, state: 'LOST' }] }, tracker));
    checker.sample(sample(T0 + 18_000, { instances: [{ ...a, state: 'LOST' }] }, tracker));
    expect(rules(violations)).toEqual(['instance-record-lost']);
    expect(violations[0]!.message).toContain('instance B');
  });

  it('lets a service go after an accepted DESTROY and flags one that vanished without', () => {
    const { checker, violations, tracker } = setup();
    checker.sample(sample(T0, { instances: [instance('A', 0, 'HEALTHY')] }, tracker));
    checker.operation(accepted({ kind: 'DESTROY' }, T0 + 1_000));
    checker.sample(sample(T0 + 3_000, { services: [] }, tracker));
    // Created again: a new incarnation whose records start afresh.
    checker.sample(sample(T0 + 5_000, { services: [summary('INACTIVE', 1, 'INACTIVE', T0 + 4_000)] }, tracker));
    expect(violations).toEqual([]);
    checker.sample(sample(T0 + 7_000, { services: [] }, tracker));
    expect(rules(violations)).toEqual(['service-lost']);
  });

  it('flags a service created again (new created time) without an accepted DESTROY', () => {
    const { checker, violations, tracker } = setup();
    checker.sample(sample(T0, {}, tracker));
    checker.sample(sample(T0 + 2_000, { services: [summary('INACTIVE', 2, 'INACTIVE', T0 + 1_500)] }, tracker));
    expect(rules(violations)).toEqual(['service-lost']);
  });
});

describe('invariant checker: operations', () => {
  it('counts an operation finished when its working state and then a steady state show in its term', () => {
    const { checker, violations, tracker } = setup();
    const op = accepted({ kind: 'ACTIVATE' }, T0);
    checker.operation(op);
    tracker.add(0, [stateEvent(T0 + 20, 'ACTIVATION_REQUESTED'), stateEvent(T0 + 40, 'ACTIVE')], T0 + 40, T0 + 500);
    checker.sample(sample(T0 + 1_000, {}, tracker));
    checker.finish(T0 + 2_000);
    expect(violations).toEqual([]);
    expect(checker.operationTally()).toEqual({ finished: 1, interrupted: 0, pending: 0 });
  });

  it('does not take a steady event from before the working state as the end of the operation', () => {
    const { checker, violations, tracker } = setup();
    checker.operation(accepted({ kind: 'RESTART' }, T0));
    // The reconciler's ADJUST ended just after the request went out; the restart itself never ran.
    tracker.add(0, [stateEvent(T0 + 5, 'ACTIVE')], T0 + 5, T0 + 500);
    checker.sample(sample(T0 + 1_000, {}, tracker));
    checker.finish(T0 + 2_000);
    expect(rules(violations)).toEqual(['operation-unfinished']);
  });

  it('lets an operation go with its leader term, and flags one whose term is still current at the end', () => {
    const { checker, violations, tracker, acquire } = setup();
    checker.operation(accepted({ kind: 'DEACTIVATE' }, T0));
    checker.operation(accepted({ kind: 'ACTIVATE', serviceId: SOAK_SERVICES[1]!.id }, T0 + 100, 0));
    checker.sample(sample(T0 + 1_000, {}, tracker));
    expect(checker.operationTally().pending).toBe(2);
    acquire(1, T0 + 5_000);
    checker.sample(sample(T0 + 6_000, { leaders: [1] }, tracker));
    expect(checker.operationTally()).toEqual({ finished: 0, interrupted: 2, pending: 0 });
    checker.operation(accepted({ kind: 'DEACTIVATE' }, T0 + 7_000, 1));
    checker.finish(T0 + 9_000);
    expect(rules(violations)).toEqual(['operation-unfinished']);
  });

  it('waits for the acceptor\'s log to be read before judging, and lets go an operation whose unseen term ended', () => {
    const { checker, violations, tracker, acquire } = setup();
    // Controller 2 led briefly between two samples, accepted, and died: its term was never read.
    checker.operation(accepted({ kind: 'ACTIVATE' }, T0, 2));
    checker.sample(sample(T0 + 1_000, {}, tracker));
    expect(checker.operationTally()).toEqual({ finished: 0, interrupted: 0, pending: 1 });
    acquire(1, T0 + 4_000);
    checker.sample(sample(T0 + 5_000, { leaders: [1] }, tracker));
    checker.finish(T0 + 6_000);
    expect(violations).toEqual([]);
    expect(checker.operationTally()).toEqual({ finished: 0, interrupted: 1, pending: 0 });
  });

  it('flags a service that stays in a working state past its bound within one term', () => {
    const { checker, violations, tracker } = setup();
    const busy = { services: [summary('ACTIVE', 2, 'ACTIVATION_REQUESTED')] };
    checker.sample(sample(T0, busy, tracker));
    checker.sample(sample(T0 + 59_000, busy, tracker));
    expect(violations).toEqual([]);
    checker.sample(sample(T0 + 61_000, busy, tracker));
    expect(rules(violations)).toEqual(['operation-stuck']);
  });

  it('starts the working-state clock again when the service was steady in between', () => {
    const { checker, violations, tracker } = setup();
    const busy = { services: [summary('ACTIVE', 2, 'ACTIVATION_REQUESTED')] };
    checker.sample(sample(T0, busy, tracker));
    checker.sample(sample(T0 + 40_000, { services: [summary('ACTIVE', 2)] }, tracker));
    checker.sample(sample(T0 + 41_000, busy, tracker));
    checker.sample(sample(T0 + 75_000, busy, tracker));
    expect(violations).toEqual([]);
  });
});

describe('invariant checker: leaders, errors, convergence', () => {
  it('tolerates two leaders for a moment but not past the window', () => {
    const { checker, violations, tracker } = setup();
    checker.sample(sample(T0, { leaders: [0, 1], excludeView: true }, tracker));
    checker.sample(sample(T0 + 4_000, { leaders: [0, 1], excludeView: true }, tracker));
    checker.sample(sample(T0 + 5_000, { leaders: [0] }, tracker));
    checker.sample(sample(T0 + 6_000, { leaders: [0, 1], excludeView: true }, tracker));
    expect(violations).toEqual([]);
    checker.sample(sample(T0 + 11_500, { leaders: [0, 1], excludeView: true }, tracker));
    expect(rules(violations)).toEqual(['dual-leader']);
  });

  it('flags every 5xx answer', () => {
    const { checker, violations } = setup();
    checker.serverError('GET /apis/v1/ping on controller-1', { status: 500, body: { message: 'boom' } }, T0);
    expect(rules(violations)).toEqual(['server-error']);
  });

  it('reports what still differs from the desired state, and nothing once converged', () => {
    const { checker, tracker } = setup();
    const healthyEverywhere = [0, 1, 2].flatMap((h) => [instance(`A${h}`, h, 'HEALTHY'), instance(`B${h}`, h, 'HEALTHY')]);
    const all: Array<[string, number]> = healthyEverywhere.map((i) => [i.instanceId, Number(i.executorId.slice(1))]);
    expect(checker.convergenceGaps(sample(T0, { instances: healthyEverywhere, containers: all }, tracker))).toEqual([]);
    const gaps = checker.convergenceGaps(sample(T0, { instances: healthyEverywhere.slice(1), containers: [...all.slice(1), ['Z', 2]] }, tracker));
    expect(gaps).toEqual([
      `${SERVICE}: 1 HEALTHY on host 1, want 2`,
      `${SERVICE}: 1 containers on host 1, want 2`,
      `${SERVICE}: 3 containers on host 3, want 2`,
    ]);
    expect(checker.convergenceGaps(sample(T0, { leaders: [], excludeView: true }, tracker))[0]).toContain('no single leader');
  });
});
