import { describe, expect, it } from 'vitest';
import {
  crashLoopDelayMs,
  crashLoopHolds,
  isInstanceFailure,
  isReplacementOf,
  nextCrashLoop,
  type CrashLoop,
  type LocalServiceInstanceState,
} from '../../../src/model/index.js';
import { ControllerOptionsSchema, resolveOptions } from '../../../src/controller/config.js';
import { instanceInfo } from '../../support/records.js';

const POLICY = resolveOptions(ControllerOptionsSchema.parse({})).crashLoopBackoff;

describe('crash-loop backoff schedule (model/crash-loop.ts)', () => {
  it("defaults to the issue's figures: 10 s doubling to 5 min, reset after 10 min", () => {
    expect(POLICY).toEqual({ initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000 });
  });

  it('replaces the first failure at once, then waits 10, 20, 40, 80, 160 s and 300 s from then on', () => {
    const delays = Array.from({ length: 12 }, (_, i) => crashLoopDelayMs(i + 1, POLICY) / 1000);
    expect(delays).toEqual([0, 10, 20, 40, 80, 160, 300, 300, 300, 300, 300, 300]);
    // No overflow however long a loop lasts.
    expect(crashLoopDelayMs(10_000, POLICY)).toBe(300_000);
  });

  it('refuses a max shorter than initial and zero delays, naming the rule', () => {
    const parse = (crashLoopBackoff: Record<string, string>) => ControllerOptionsSchema.safeParse({ crashLoopBackoff });
    expect(parse({ initial: '1 minute', max: '30 seconds' }).error?.issues[0]).toMatchObject({
      path: ['crashLoopBackoff', 'max'],
      message: 'max must not be shorter than initial',
    });
    expect(parse({ initial: '0 seconds' }).error?.issues[0]?.message).toBe('initial and resetAfter must be longer than 0');
    expect(parse({ initial: '10 seconds', max: '5 minutes', resetAfter: '10 minutes', extra: '1s' }).success).toBe(false);
  });

  it('counts failures, one per round: instances that were created before the failure that opened it count once', () => {
    const t0 = 1_000_000;
    const a = instanceInfo({ executorId: 'E1', state: 'START_FAILED', errorMessage: 'boom', created: t0, updated: t0 + 100 });
    const first = nextCrashLoop(undefined, a, 'boom', 5_000, POLICY)!;
    expect(first).toMatchObject({ restartCount: 1, roundStartedAt: t0 + 100, nextAttemptAt: 5_000, lastFailure: { instanceId: a.instanceId, reason: 'boom', time: t0 + 100 } });

    // A sibling started together with `a` fails a moment later: the same round, only the last failure moves on.
    const b = instanceInfo({ executorId: 'E1', state: 'START_FAILED', created: t0 + 1, updated: t0 + 200 });
    const sameRound = nextCrashLoop(first, b, 'bang', 5_100, POLICY)!;
    expect(sameRound).toMatchObject({ restartCount: 1, roundStartedAt: t0 + 100, nextAttemptAt: 5_000, lastFailure: { instanceId: b.instanceId, reason: 'bang' } });

    // The replacement (created after the round began) fails: the next round, 10 s of backoff.
    const c = instanceInfo({ executorId: 'E1', state: 'UNHEALTHY', created: t0 + 150, updated: t0 + 900 });
    expect(nextCrashLoop(sameRound, c, 'x', 6_000, POLICY)).toMatchObject({ restartCount: 2, roundStartedAt: t0 + 900, nextAttemptAt: 16_000 });
  });

  it('ignores the same failure seen twice (the start job and the report)', () => {
    const a = instanceInfo({ state: 'START_FAILED', created: 1, updated: 2 });
    const loop = nextCrashLoop(undefined, a, 'boom', 10, POLICY)!;
    expect(nextCrashLoop(loop, a, 'boom', 20, POLICY)).toBeUndefined();
  });

  it('holds starts until the next attempt is due, not a millisecond longer', () => {
    const loop: CrashLoop = {
      serviceId: 'S',
      executorId: 'E1',
      restartCount: 2,
      lastFailure: { instanceId: 'SI-1', reason: 'r', time: 100 },
      roundStartedAt: 100,
      nextAttemptAt: 10_100,
    };
    expect(crashLoopHolds(loop, 10_099)).toBe(true);
    expect(crashLoopHolds(loop, 10_100)).toBe(false);
    expect(crashLoopHolds(undefined, 0)).toBe(false);
    expect(isReplacementOf(loop, instanceInfo({ created: 101 }))).toBe(true);
    expect(isReplacementOf(loop, instanceInfo({ created: 100 }))).toBe(false);
  });
});

describe('what counts as an instance failing (model/crash-loop.ts)', () => {
  const was = (state: LocalServiceInstanceState) => instanceInfo({ state });
  const now = (state: LocalServiceInstanceState, errorMessage = '') => instanceInfo({ state, errorMessage });

  it('every failed state reached from the way up or from running', () => {
    expect(isInstanceFailure(was('PROVISIONING'), now('PROVISIONING_FAILED', 'Error while pulling image x: denied'))).toBe(true);
    expect(isInstanceFailure(was('STARTING'), now('START_FAILED', 'no such file'))).toBe(true);
    expect(isInstanceFailure(was('UNREADY'), now('READINESS_CHECK_FAILED', 'Readiness check failed'))).toBe(true);
    expect(isInstanceFailure(was('HEALTHY'), now('UNHEALTHY', 'Healthcheck failed:refused'))).toBe(true);
  });

  it('a way out with an error the executor wrote: a failed first health check, a vanished container, a lost re-adoption', () => {
    expect(isInstanceFailure(was('READY'), now('STOPPING', 'Healthcheck failed:refused'))).toBe(true);
    expect(isInstanceFailure(was('HEALTHY'), now('STOPPING', 'Container abc vanished'))).toBe(true);
    expect(isInstanceFailure(was('UNKNOWN'), now('STOPPED', 'No container found with drove id: SI-1'))).toBe(true);
    // The first report a leader sees may already be the failure (it was elected meanwhile).
    expect(isInstanceFailure(undefined, now('START_FAILED', 'x'))).toBe(true);
  });

  it('not: stops the controller asked for, a vanished executor, a pull it interrupted, or the same failure later on', () => {
    expect(isInstanceFailure(was('HEALTHY'), now('STOPPING'))).toBe(false);
    expect(isInstanceFailure(was('HEALTHY'), now('LOST', 'Instance lost'))).toBe(false);
    expect(isInstanceFailure(was('PROVISIONING'), now('PROVISIONING_FAILED', 'Pull operation interrupted'))).toBe(false);
    expect(isInstanceFailure(was('START_FAILED'), now('DEPROVISIONING', 'x'))).toBe(false);
    expect(isInstanceFailure(was('UNHEALTHY'), now('STOPPED', 'Healthcheck failed:refused'))).toBe(false);
    expect(isInstanceFailure(was('PENDING'), now('HEALTHY'))).toBe(false);
  });
});
