import { z } from 'zod';
import { INSTANCE_LOST_MESSAGE, PULL_INTERRUPTED_MESSAGE, type LocalServiceInstanceInfo } from './instance.js';
import type { LocalServiceOperationType } from './operations.js';
import { INSTANCE_COUNTED_STATES, type LocalServiceInstanceState } from './states.js';

/**
 * Crash-loop backoff per (local service, executor), as pure functions (docs/design/crash-loop-backoff.md). An instance
 * that fails on an executor before one of its replacements has stayed HEALTHY for `resetAfterMs` keeps the loop
 * going: the first failure is replaced at once (as Kubernetes restarts a container the first time), each further
 * one waits `initialMs`, doubling up to `maxMs`. The controller's reconciler and start jobs read the loop; only
 * the restarts the controller makes by itself wait, never an operator's operation.
 */

export interface CrashLoopPolicy {
  initialMs: number;
  maxMs: number;
  resetAfterMs: number;
}

export const CrashLoopFailureSchema = z.object({
  instanceId: z.string().describe('the instance that failed'),
  reason: z.string().describe("its error message as the executor reported it, or the controller's reason"),
  time: z.number().int().describe("epoch ms of the failure, on the executor's clock (the failed record's `updated`)"),
});
export type CrashLoopFailure = z.infer<typeof CrashLoopFailureSchema>;

/** A crash loop as the leader stores it: one record per (service, executor) while the loop lasts. */
export const CrashLoopSchema = z.object({
  serviceId: z.string().min(1),
  executorId: z.string().min(1),
  restartCount: z.number().int().min(1).describe('failures in this loop; instances of one service that fail together count once'),
  lastFailure: CrashLoopFailureSchema,
  /**
   * When the failure that last raised `restartCount` happened (executor clock): an instance created before it
   * belongs to the same round of restarts, and its failure does not raise the count again.
   */
  roundStartedAt: z.number().int(),
  nextAttemptAt: z.number().int().describe("epoch ms (the controller's clock) from which the controller starts instances there again"),
});
export type CrashLoop = z.infer<typeof CrashLoopSchema>;

/**
 * drove-ts extension of the local service summary (`crashLoops`): what an operator sees of one loop. Absent from
 * the summary when no executor is in a crash loop, so Drove's clients see Drove's summary.
 */
export const CrashLoopSummarySchema = z
  .object({
    executorId: z.string(),
    hostname: z.string().optional().describe('the executor host, when known'),
    restartCount: CrashLoopSchema.shape.restartCount,
    lastFailure: CrashLoopFailureSchema,
    nextAttemptAt: CrashLoopSchema.shape.nextAttemptAt,
  })
  .describe('drove-ts extension: a crash loop of the service on one executor (docs/design/crash-loop-backoff.md)');
export type CrashLoopSummary = z.infer<typeof CrashLoopSummarySchema>;

/** States an instance only reaches by failing (STOPPING and the rest are reached by stop requests too). */
const FAILED_STATES: ReadonlySet<LocalServiceInstanceState> = new Set([
  'PROVISIONING_FAILED',
  'START_FAILED',
  'READINESS_CHECK_FAILED',
  'UNHEALTHY',
]);

/**
 * Operator operations that ask for instances to run: each clears the service's crash loops before it runs (an
 * operator retrying is not made to wait, as a deleted Kubernetes pod comes back with a fresh backoff).
 * STOP_INSTANCES, DEACTIVATE and DESTROY start nothing.
 */
export const CRASH_LOOP_RESETTING_OPERATIONS: ReadonlySet<LocalServiceOperationType> = new Set([
  'ACTIVATE',
  'DEPLOY_TEST_INSTANCE',
  'ADJUST_INSTANCES',
  'RESTART',
  'REPLACE_INSTANCES',
  'UPDATE_INSTANCE_COUNT',
]);

/** The pause before the next start after the `restartCount`-th failure: 0, then initial, doubling up to max. */
export function crashLoopDelayMs(restartCount: number, policy: Pick<CrashLoopPolicy, 'initialMs' | 'maxMs'>): number {
  if (restartCount <= 1) return 0;
  // 2 ** 40 x 1 ms is already years: stop doubling long before the number loses precision.
  const doublings = Math.min(restartCount - 2, 40);
  return Math.min(policy.initialMs * 2 ** doublings, policy.maxMs);
}

/**
 * Whether this change of an instance record is its failure: it left the starting/running states (or appeared
 * outside them) in a state only failures lead to, or on its way out with an error the executor wrote. A stop the
 * controller asked for carries no error; an executor that vanished is not the instance's fault.
 */
export function isInstanceFailure(previous: LocalServiceInstanceInfo | undefined, instance: LocalServiceInstanceInfo): boolean {
  if (INSTANCE_COUNTED_STATES.has(instance.state)) return false;
  if (previous && !INSTANCE_COUNTED_STATES.has(previous.state)) return false;
  if (instance.errorMessage === INSTANCE_LOST_MESSAGE || instance.errorMessage === PULL_INTERRUPTED_MESSAGE) return false;
  return FAILED_STATES.has(instance.state) || instance.errorMessage.trim() !== '';
}

/**
 * The loop after `failed` failed at controller time `now`; `undefined` when nothing changes (the same failure seen
 * twice: once by the start job that waited for the instance, once in the executor's report).
 */
export function nextCrashLoop(
  loop: CrashLoop | undefined,
  failed: LocalServiceInstanceInfo,
  reason: string,
  now: number,
  policy: Pick<CrashLoopPolicy, 'initialMs' | 'maxMs'>,
): CrashLoop | undefined {
  if (loop?.lastFailure.instanceId === failed.instanceId) return undefined;
  const lastFailure = { instanceId: failed.instanceId, reason, time: failed.updated };
  if (loop && failed.created < loop.roundStartedAt) return { ...loop, lastFailure };
  const restartCount = (loop?.restartCount ?? 0) + 1;
  return {
    serviceId: failed.serviceId,
    executorId: failed.executorId,
    restartCount,
    lastFailure,
    roundStartedAt: failed.updated,
    nextAttemptAt: now + crashLoopDelayMs(restartCount, policy),
  };
}

/** Starts on the loop's executor wait until `nextAttemptAt`. */
export function crashLoopHolds(loop: CrashLoop | undefined, now: number): boolean {
  return loop !== undefined && now < loop.nextAttemptAt;
}

/** An instance created after the loop's last failure is a replacement whose health can end the loop. */
export function isReplacementOf(loop: CrashLoop, instance: LocalServiceInstanceInfo): boolean {
  return instance.created > loop.lastFailure.time;
}
