import { describe, expect, test } from 'vitest';
import type { DroveEvent, ExecutorSummary, LocalServiceInstanceInfo, LocalServiceSummary, PlacementPolicy } from '../../../src/model/index.js';
import { assess, newHistory, recordEvent, type Snapshot, type WaitGoal, type WaitHistory } from '../../../src/cli/wait/goal.js';
import { instanceInfo } from '../../support/records.js';

/** What --wait decides from one look at the read APIs and what it saw before (src/cli/wait/goal.ts). */

const SID = 'TEST_SPEC-00001';
const OPTIONS = { elapsedMs: 1_000, startGraceMs: 10_000, maxStartFailures: 3 };

function summary(overrides: Partial<LocalServiceSummary> = {}): LocalServiceSummary {
  return {
    id: SID, name: 'TEST_SPEC', instancesPerHost: 1, healthyInstances: 0, totalCPUs: 1, totalMemory: 64, tags: {},
    activationState: 'ACTIVE', state: 'ACTIVE', created: 1, updated: 1, ...overrides,
  };
}

function executor(id: string, state: ExecutorSummary['state'] = 'ACTIVE'): ExecutorSummary {
  return { executorId: id, hostname: `${id.toLowerCase()}.local`, port: 3000, transportType: 'HTTP', freeCores: 1, usedCores: 0, freeMemory: 1, usedMemory: 0, tags: [], state };
}

const E1 = executor('E1');
const E2 = executor('E2');

function look(s: LocalServiceSummary | undefined, instances: LocalServiceInstanceInfo[], executors = [E1, E2]): Snapshot {
  return { summary: s, instances, executors };
}

function verdict(goal: WaitGoal, snapshot: Snapshot, history: WaitHistory = newHistory([]), options = OPTIONS) {
  return assess(goal, snapshot, history, options);
}

function instanceEvent(instanceId: string, state: string, error = ''): DroveEvent {
  return {
    type: 'LOCAL_SERVICE_INSTANCE_STATE_CHANGE', id: instanceId + state, time: 2,
    metadata: { SERVICE_ID: SID, INSTANCE_ID: instanceId, EXECUTOR_ID: 'E1', EXECUTOR_HOST: 'e1.local', CURRENT_STATE: state, ...(error ? { ERROR: error } : {}) },
  };
}

function serviceEvent(state: string): DroveEvent {
  return { type: 'LOCAL_SERVICE_STATE_CHANGE', id: state, time: 2, metadata: { LOCAL_SERVICE_ID: SID, CURRENT_STATE: state } };
}

describe('activate: ACTIVE with instancesPerHost healthy on every eligible executor', () => {
  const goal: WaitGoal = { kind: 'running', activation: 'ACTIVE' };

  test('waits while a host lacks its instance, counting hosts and instances', () => {
    const r = verdict(goal, look(summary({ state: 'ADJUSTING_INSTANCES' }), [instanceInfo({ executorId: 'E1' })]));
    expect(r.verdict).toEqual({ status: 'waiting' });
    expect(r.progress.hosts).toEqual({ done: 1, total: 2, waitingOn: ['e2.local'] });
    expect(r.progress.healthy).toEqual({ count: 1, desired: 2 });
  });

  test('ACTIVE before the reconciler started anything is not done (and not failed)', () => {
    const history = newHistory([]);
    expect(verdict(goal, look(summary({ state: 'ACTIVATION_REQUESTED', activationState: 'INACTIVE' }), []), history).verdict.status).toBe('waiting');
    expect(verdict(goal, look(summary(), []), history).verdict.status).toBe('waiting');
  });

  test('done once every eligible executor runs its healthy instances; blacklisted ones do not count', () => {
    const executors = [E1, E2, executor('E3', 'BLACKLISTED')];
    const r = verdict(goal, look(summary({ instancesPerHost: 2 }), [
      instanceInfo({ executorId: 'E1' }), instanceInfo({ executorId: 'E1' }), instanceInfo({ executorId: 'E2' }), instanceInfo({ executorId: 'E2' }),
    ], executors));
    expect(r.verdict).toEqual({ status: 'done' });
    expect(r.progress.hosts).toMatchObject({ done: 2, total: 2 });
  });

  test('with a tag constraint only the executors with the tag count: an untagged one is not waited on', () => {
    const gpu = { ...E1, tags: ['e1.local', 'gpu'] };
    const plain = { ...E2, tags: ['e2.local'] };
    const placementPolicy: PlacementPolicy = { type: 'COMPOSITE', combiner: 'AND', policies: [{ type: 'LOCAL', hostLevel: false }, { type: 'MATCH_TAG', tag: 'gpu' }] };
    const r = verdict(goal, { ...look(summary({ requiredInstances: 1 }), [instanceInfo({ executorId: 'E1' })], [gpu, plain]), placementPolicy });
    expect(r.verdict).toEqual({ status: 'done' });
    expect(r.progress.hosts).toEqual({ done: 1, total: 1, waitingOn: [] });
    expect(r.progress.healthy).toEqual({ count: 1, desired: 1 });
    // An instance left on the untagged executor is on its way out: not converged until it is gone.
    const leftover = { ...look(summary(), [instanceInfo({ executorId: 'E1' }), instanceInfo({ executorId: 'E2' })], [gpu, plain]), placementPolicy };
    expect(verdict(goal, leftover).verdict.status).toBe('waiting');
  });

  test('an instance still starting, or one too many, keeps the host waiting', () => {
    expect(verdict(goal, look(summary(), [instanceInfo({ executorId: 'E1' }), instanceInfo({ executorId: 'E2', state: 'UNREADY' })])).verdict.status).toBe('waiting');
    expect(
      verdict(goal, look(summary(), [instanceInfo({ executorId: 'E1' }), instanceInfo({ executorId: 'E1' }), instanceInfo({ executorId: 'E2' })])).verdict.status,
    ).toBe('waiting');
  });

  test('a new instance that failed, then the operation back at rest: failed, with the reason', () => {
    const history = newHistory([]);
    recordEvent(history, SID, instanceEvent('SI-new', 'START_FAILED', 'No such image'));
    const r = verdict(goal, look(summary(), []), history);
    expect(r.verdict).toEqual({ status: 'failed', reason: expect.stringContaining('SI-new on e1.local: START_FAILED: No such image') as string });
  });

  test("an operation that ended after a failure is failed, though the reconciler's next attempt already runs", () => {
    const history = newHistory([]);
    recordEvent(history, SID, serviceEvent('ADJUSTING_INSTANCES'));
    recordEvent(history, SID, instanceEvent('SI-new', 'READINESS_CHECK_FAILED', 'Readiness check failed'));
    recordEvent(history, SID, serviceEvent('ACTIVE'));
    recordEvent(history, SID, serviceEvent('ADJUSTING_INSTANCES'));
    const r = verdict(goal, look(summary({ state: 'ADJUSTING_INSTANCES' }), []), history);
    expect(r.verdict).toEqual({
      status: 'failed',
      reason: '1 new instance(s) failed and the operation ended (ACTIVE); last: SI-new on e1.local: READINESS_CHECK_FAILED: Readiness check failed',
    });
  });

  test('new instances failing while the operation still runs: failed at the third', () => {
    const history = newHistory([]);
    const busy = look(summary({ state: 'ADJUSTING_INSTANCES' }), []);
    recordEvent(history, SID, instanceEvent('SI-a', 'READINESS_CHECK_FAILED', 'Readiness check failed'));
    recordEvent(history, SID, instanceEvent('SI-b', 'READINESS_CHECK_FAILED', 'Readiness check failed'));
    expect(verdict(goal, busy, history).verdict.status).toBe('waiting');
    recordEvent(history, SID, instanceEvent('SI-c', 'READINESS_CHECK_FAILED', 'Readiness check failed'));
    const r = verdict(goal, busy, history);
    expect(r.verdict).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^3 new instances failed, last: SI-c on e1\.local/) as string });
    expect(r.progress.failures.map((f) => f.instanceId)).toEqual(['SI-a', 'SI-b', 'SI-c']);
  });

  test('an instance that was there before going UNHEALTHY is shown, not the operation failing', () => {
    const old = instanceInfo({ executorId: 'E1', instanceId: 'SI-old' });
    const history = newHistory([old]);
    recordEvent(history, SID, instanceEvent('SI-old', 'UNHEALTHY'));
    recordEvent(history, SID, instanceEvent('SI-old', 'UNHEALTHY'));
    const r = verdict(goal, look(summary(), [instanceInfo({ executorId: 'E1' })]), history);
    expect(r.verdict.status).toBe('waiting');
    expect(r.progress.failures).toEqual([{ instanceId: 'SI-old', host: 'e1.local', state: 'UNHEALTHY', reason: '', started: false }]);
  });

  test('emergency deactivation (a cancel) fails the wait, even when only an event showed it', () => {
    const history = newHistory([]);
    recordEvent(history, SID, serviceEvent('EMERGENCY_DEACTIVATION_REQUESTED'));
    expect(verdict(goal, look(summary({ state: 'DEACTIVATION_REQUESTED' }), []), history).verdict).toMatchObject({ status: 'failed' });
  });

  test('the service gone: failed', () => {
    const history = newHistory([]);
    verdict(goal, look(summary({ state: 'ADJUSTING_INSTANCES' }), []), history);
    expect(verdict(goal, look(undefined, []), history).verdict).toEqual({ status: 'failed', reason: 'the service no longer exists (it was destroyed)' });
  });
});

describe('other goals', () => {
  test('create: done once stored and at rest; absent at first is waited for', () => {
    const history = newHistory([]);
    expect(verdict({ kind: 'created' }, look(undefined, []), history).verdict.status).toBe('waiting');
    expect(verdict({ kind: 'created' }, look(summary({ state: 'INIT', activationState: 'INACTIVE' }), []), history).verdict.status).toBe('waiting');
    expect(verdict({ kind: 'created' }, look(summary({ state: 'INACTIVE', activationState: 'INACTIVE' }), []), history).verdict.status).toBe('done');
  });

  test('conftest: one healthy instance cluster-wide', () => {
    const goal: WaitGoal = { kind: 'running', activation: 'CONFIG_TESTING' };
    const testing = summary({ state: 'CONFIG_TESTING', activationState: 'CONFIG_TESTING' });
    expect(verdict(goal, look(testing, [instanceInfo({ state: 'STARTING' })])).verdict.status).toBe('waiting');
    const r = verdict(goal, look(testing, [instanceInfo()]));
    expect(r.verdict.status).toBe('done');
    expect(r.progress.healthy).toEqual({ count: 1, desired: 1 });
  });

  test('update: the new count stored and converged; a scale-down waits for the surplus to go', () => {
    const goal: WaitGoal = { kind: 'count', instancesPerHost: 1 };
    const two = [instanceInfo({ executorId: 'E1' }), instanceInfo({ executorId: 'E1', state: 'STOPPING' }), instanceInfo({ executorId: 'E2' })];
    expect(verdict(goal, look(summary({ instancesPerHost: 2 }), two)).verdict.status).toBe('waiting');
    expect(verdict(goal, look(summary(), two)).verdict.status).toBe('waiting');
    expect(verdict(goal, look(summary(), [two[0]!, two[2]!])).verdict.status).toBe('done');
    // An INACTIVE service only stores the count.
    expect(verdict(goal, look(summary({ state: 'INACTIVE', activationState: 'INACTIVE' }), [])).verdict.status).toBe('done');
  });

  test('deactivate: INACTIVE and no instance left, hosts counted from those that ran one', () => {
    const before = [instanceInfo({ executorId: 'E1' }), instanceInfo({ executorId: 'E2' })];
    const history = newHistory(before);
    const r = verdict({ kind: 'inactive' }, look(summary({ state: 'INACTIVE', activationState: 'INACTIVE' }), [instanceInfo({ executorId: 'E2', state: 'STOPPING' })]), history);
    expect(r.verdict.status).toBe('waiting');
    expect(r.progress.hosts).toEqual({ done: 1, total: 2, waitingOn: ['e2.local'] });
    expect(verdict({ kind: 'inactive' }, look(summary({ state: 'INACTIVE', activationState: 'INACTIVE' }), []), history).verdict.status).toBe('done');
  });

  test('restart/replace: the targets gone and the service converged again', () => {
    const old = instanceInfo({ executorId: 'E1', instanceId: 'SI-old' });
    const goal: WaitGoal = { kind: 'replaced', targets: new Set(['SI-old']) };
    const history = newHistory([old]);
    const busy = verdict(goal, look(summary({ state: 'REPLACING_INSTANCES' }), [old, instanceInfo({ executorId: 'E2' })]), history);
    expect(busy.verdict.status).toBe('waiting');
    expect(busy.progress.remaining).toBe(1);
    expect(busy.progress.hosts).toMatchObject({ done: 1, total: 2 });
    expect(verdict(goal, look(summary(), [instanceInfo({ executorId: 'E1' }), instanceInfo({ executorId: 'E2' })]), history).verdict.status).toBe('done');
  });

  test('restart/replace: back at rest with targets still there is a failure once seen busy, or after the grace', () => {
    const old = instanceInfo({ executorId: 'E1', instanceId: 'SI-old' });
    const goal: WaitGoal = { kind: 'replaced', targets: new Set(['SI-old']) };
    const atRest = look(summary(), [old, instanceInfo({ executorId: 'E2' })]);
    // Not picked up yet: waits.
    expect(verdict(goal, atRest, newHistory([old])).verdict.status).toBe('waiting');
    expect(verdict(goal, atRest, newHistory([old]), { ...OPTIONS, elapsedMs: 11_000 }).verdict).toMatchObject({
      status: 'failed',
      reason: 'the operation ended in state ACTIVE with 1 of the targeted instances still present',
    });
    const history = newHistory([old]);
    recordEvent(history, SID, serviceEvent('REPLACING_INSTANCES'));
    expect(verdict(goal, atRest, history).verdict.status).toBe('failed');
  });

  test('kill: the targets gone and at rest (the reconciler replacing them is not waited for)', () => {
    const goal: WaitGoal = { kind: 'stopped', targets: new Set(['SI-x']) };
    expect(verdict(goal, look(summary({ state: 'STOPPING_INSTANCES' }), [instanceInfo({ instanceId: 'SI-x', state: 'STOPPING' })])).verdict.status).toBe('waiting');
    expect(verdict(goal, look(summary(), [])).verdict.status).toBe('done');
  });

  test('cancelop: at rest and converged; an emergency deactivation is what it waits through', () => {
    const history = newHistory([instanceInfo({ executorId: 'E1' })]);
    recordEvent(history, SID, serviceEvent('EMERGENCY_DEACTIVATION_REQUESTED'));
    expect(verdict({ kind: 'settled' }, look(summary({ state: 'DEACTIVATION_REQUESTED', activationState: 'ACTIVE' }), []), history).verdict.status).toBe('waiting');
    expect(verdict({ kind: 'settled' }, look(summary({ state: 'INACTIVE', activationState: 'INACTIVE' }), []), history).verdict.status).toBe('done');
  });

  test('destroy: done when the controller no longer knows the service', () => {
    expect(verdict({ kind: 'destroyed' }, look(summary({ state: 'DESTROY_REQUESTED', activationState: 'INACTIVE' }), [])).verdict.status).toBe('waiting');
    expect(verdict({ kind: 'destroyed' }, look(undefined, [])).verdict.status).toBe('done');
  });
});

describe('events', () => {
  test('only this service counts, and a failure is recorded once per instance and state', () => {
    const history = newHistory([]);
    expect(recordEvent(history, SID, { ...instanceEvent('SI-1', 'START_FAILED'), metadata: { ...instanceEvent('SI-1', 'START_FAILED').metadata, SERVICE_ID: 'OTHER-1' } })).toBeUndefined();
    expect(recordEvent(history, SID, instanceEvent('SI-1', 'HEALTHY'))).toBeUndefined();
    expect(recordEvent(history, SID, instanceEvent('SI-1', 'START_FAILED', 'boom\n  at line 2'))).toMatchObject({ instanceId: 'SI-1', started: true });
    expect(recordEvent(history, SID, instanceEvent('SI-1', 'START_FAILED'))).toBeUndefined();
    recordEvent(history, SID, { ...serviceEvent('ADJUSTING_INSTANCES'), metadata: { LOCAL_SERVICE_ID: 'OTHER-1', CURRENT_STATE: 'ADJUSTING_INSTANCES' } });
    expect(history.busy).toBe(false);
    recordEvent(history, SID, serviceEvent('ADJUSTING_INSTANCES'));
    expect(history.busy).toBe(true);
    expect(history.endedAfterFailure).toBeUndefined();
    recordEvent(history, SID, serviceEvent('ACTIVE'));
    expect(history.endedAfterFailure).toBe('ACTIVE');
  });
});
