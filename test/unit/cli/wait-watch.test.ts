import { describe, expect, test } from 'vitest';
import { ManualClock, type LocalServiceSummary } from '../../../src/model/index.js';
import { DroveCallError, DroveUnreachableError, type DroveClient } from '../../../src/cli/client.js';
import { OperationFailure } from '../../../src/cli/exit-codes.js';
import type { ProgressDisplay, WaitView } from '../../../src/cli/wait/display.js';
import { submitAndWait, type WaitResult } from '../../../src/cli/wait/watch.js';
import { advanceUntil } from '../../support/wait.js';
import { instanceInfo } from '../../support/records.js';

/**
 * The --wait loop on virtual time, against a fake of the controller's read APIs without an event stream (so it
 * polls): the deadline, a controller that stops answering for a while, and the order look -> subscribe -> submit
 * (src/cli/wait/watch.ts).
 */

const SID = 'TEST_SPEC-00001';
const E1 = { executorId: 'E1', hostname: 'e1', port: 1, transportType: 'HTTP', freeCores: 1, usedCores: 0, freeMemory: 1, usedMemory: 0, tags: [], state: 'ACTIVE' };

function summary(state: LocalServiceSummary['state'], activation: LocalServiceSummary['activationState']): LocalServiceSummary {
  return { id: SID, name: 'TEST_SPEC', instancesPerHost: 1, healthyInstances: 0, totalCPUs: 1, totalMemory: 1, tags: {}, activationState: activation, state, created: 1, updated: 1 };
}

/** The controller as the fake shows it; `down` makes every call fail as a network error would. */
function fakeController() {
  const calls: string[] = [];
  const state = {
    summary: summary('INACTIVE', 'INACTIVE'),
    instances: [] as ReturnType<typeof instanceInfo>[],
    down: false,
    executors: [E1] as unknown[],
    placementPolicy: { type: 'LOCAL', hostLevel: false } as unknown,
  };
  const client = {
    async get(path: string): Promise<unknown> {
      calls.push(`GET ${path.split('?')[0]}`);
      if (state.down) throw new DroveUnreachableError('Cannot reach http://fake: connect ECONNREFUSED');
      if (path.startsWith('/apis/v1/cluster/events/latest')) return { events: [], lastSyncTime: 1 };
      if (path === '/apis/v1/cluster/executors') return state.executors;
      if (path.endsWith('/instances')) return state.instances;
      if (path.endsWith('/spec')) return { placementPolicy: state.placementPolicy };
      return state.summary;
    },
    async openStream(): Promise<never> {
      calls.push('GET stream');
      throw new DroveCallError('[404 - FAILED] HTTP 404 Not Found', 404);
    },
  };
  return { client: client as unknown as DroveClient, calls, state };
}

function recorder(): ProgressDisplay & { views: WaitView[] } {
  const views: WaitView[] = [];
  return { views, show: (v) => void views.push(v), close: () => {} };
}

async function run(clock: ManualClock, promise: Promise<WaitResult>) {
  let outcome: { result?: WaitResult; error?: unknown } | undefined;
  promise.then((result) => (outcome = { result }), (error: unknown) => (outcome = { error }));
  await advanceUntil(clock, 'the wait to end', () => outcome !== undefined, { maxMs: 3_600_000, stepMs: 250 });
  return outcome!;
}

describe('the wait loop', () => {
  test('looks, subscribes, submits, then follows the read APIs until done', async () => {
    const clock = new ManualClock();
    const { client, calls, state } = fakeController();
    const display = recorder();
    const outcome = await run(
      clock,
      submitAndWait({ client, clock, display }, {
        serviceId: SID,
        operation: 'activate',
        goal: () => ({ kind: 'running', activation: 'ACTIVE' }),
        timeoutMs: () => 60_000,
        submit: async () => {
          calls.push('POST operation');
          state.summary = summary('ADJUSTING_INSTANCES', 'ACTIVE');
          clock.setTimer(() => {
            state.instances = [instanceInfo({ serviceId: SID })];
            state.summary = summary('ACTIVE', 'ACTIVE');
          }, 5_000);
        },
      }),
    );
    expect(outcome.error).toBeUndefined();
    expect(outcome.result).toMatchObject({ feed: 'poll', progress: { state: 'ACTIVE', hosts: { done: 1, total: 1 } } });
    expect(outcome.result!.elapsedMs).toBeGreaterThanOrEqual(5_000);
    expect(outcome.result!.elapsedMs).toBeLessThan(7_000);
    const submitted = calls.indexOf('POST operation');
    expect(calls.slice(0, submitted)).toEqual([
      `GET /apis/v1/localservices/${SID}`, `GET /apis/v1/localservices/${SID}/instances`, 'GET /apis/v1/cluster/executors',
      `GET /apis/v1/localservices/${SID}/spec`, 'GET stream', 'GET /apis/v1/cluster/events/latest',
    ]);
    expect(display.views.map((v) => v.progress.state)).toEqual(expect.arrayContaining(['ADJUSTING_INSTANCES', 'ACTIVE']));
  });

  test('a tag-constrained service is done once the executors with the tag run theirs (docs/design/placement.md#tag-constraints)', async () => {
    const clock = new ManualClock();
    const { client, state } = fakeController();
    state.executors = [{ ...E1, tags: ['e1', 'gpu'] }, { ...E1, executorId: 'E2', hostname: 'e2', tags: ['e2'] }];
    state.placementPolicy = { type: 'COMPOSITE', combiner: 'AND', policies: [{ type: 'LOCAL', hostLevel: false }, { type: 'MATCH_TAG', tag: 'gpu' }] };
    const outcome = await run(
      clock,
      submitAndWait({ client, clock, display: recorder() }, {
        serviceId: SID,
        operation: 'activate',
        goal: () => ({ kind: 'running', activation: 'ACTIVE' }),
        timeoutMs: () => 60_000,
        submit: async () => {
          state.summary = summary('ADJUSTING_INSTANCES', 'ACTIVE');
          clock.setTimer(() => {
            state.instances = [instanceInfo({ serviceId: SID, executorId: 'E1' })];
            state.summary = summary('ACTIVE', 'ACTIVE');
          }, 3_000);
        },
      }),
    );
    expect(outcome.error).toBeUndefined();
    expect(outcome.result).toMatchObject({ progress: { state: 'ACTIVE', hosts: { done: 1, total: 1 }, healthy: { count: 1, desired: 1 } } });
    expect(outcome.result!.elapsedMs).toBeLessThan(5_000);
  });

  test('the deadline ends a wait that is not done with what was last seen (exit 3)', async () => {
    const clock = new ManualClock();
    const { client, state } = fakeController();
    const started = clock.now();
    const outcome = await run(
      clock,
      submitAndWait({ client, clock, display: recorder() }, {
        serviceId: SID,
        operation: 'activate',
        goal: () => ({ kind: 'running', activation: 'ACTIVE' }),
        timeoutMs: () => 30_000,
        submit: async () => void (state.summary = summary('ADJUSTING_INSTANCES', 'ACTIVE')),
      }),
    );
    expect(outcome.error).toBeInstanceOf(OperationFailure);
    expect((outcome.error as Error).message).toMatch(
      /^Timed out after 30s waiting for activate TEST_SPEC-00001: ADJUSTING_INSTANCES, hosts 0\/1, healthy 0\/1; waiting on e1; the operation goes on/,
    );
    expect(clock.now() - started).toBeLessThan(32_000);
  });

  test('a controller that stops answering is retried until it answers again, and said so meanwhile', async () => {
    const clock = new ManualClock();
    const { client, state } = fakeController();
    const display = recorder();
    const outcome = await run(
      clock,
      submitAndWait({ client, clock, display }, {
        serviceId: SID,
        operation: 'deactivate',
        goal: () => ({ kind: 'inactive' }),
        timeoutMs: () => 120_000,
        submit: async () => {
          state.summary = summary('DEACTIVATION_REQUESTED', 'INACTIVE');
          clock.setTimer(() => (state.down = true), 2_000);
          clock.setTimer(() => {
            state.down = false;
            state.summary = summary('INACTIVE', 'INACTIVE');
          }, 20_000);
        },
      }),
    );
    expect(outcome.error).toBeUndefined();
    expect(outcome.result!.progress.state).toBe('INACTIVE');
    expect(display.views.some((v) => v.note?.startsWith('no answer from the controller, retrying: Cannot reach http://fake'))).toBe(true);
  });
});
