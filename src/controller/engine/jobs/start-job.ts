import {
  INSTANCE_PROGRESSING_STATES,
  INSTANCE_STOP_ACCEPTED_STATES,
  cpuCount,
  isInstanceFailure,
  memoryMb,
  newInstanceId,
  type ExecutorAddress,
  type LocalServiceInstanceInfo,
} from '../../../model/index.js';
import type { EngineDeps } from '../deps.js';
import type { SchedulingSession } from '../../cluster/scheduler.js';
import { isAbort, timedJob, withRetries, type Job } from './batch.js';
import { buildInstanceSpec } from './instance-spec.js';
import { sendUntilAccepted, startMessage, stopMessage } from './executor-messages.js';
import { startTimeoutMs, type EffectiveOpSpec } from './timeouts.js';


export interface StartJobContext {
  deps: EngineDeps;
  serviceId: string;
  executorId: string;
  opSpec: EffectiveOpSpec;
  session: SchedulingSession;
  /** Cleanups of failed starts run detached from the batch, until done or the engine stops. */
  background: (work: (signal: AbortSignal) => Promise<unknown>) => void;
  /** Of the operation this job is part of: logged, and sent with its messages (docs/request-ids.md). */
  requestId?: string | undefined;
}

/**
 * StartSingleLocalServiceInstanceJob (docs/design/operations.md#start-job): each attempt uses a fresh instance id,
 * reserves cores and memory on the target executor, sends START and waits (on state notifications) for HEALTHY. An
 * attempt that fails after the executor accepted it stops what it started (docs/design/operations.md#failed-starts)
 * and gives the reservation back.
 *
 * An instance that failed on the executor (or never became HEALTHY in time) counts in the crash loop of its
 * executor before the attempt ends, and no retry is made while that loop holds the executor: the restart happens
 * when the backoff is over, through the reconciler (docs/design/crash-loop-backoff.md). The first attempt is never held:
 * an operator's operation clears the loops first, and the reconciler plans no start on a held executor.
 */
export function startJob(ctx: StartJobContext): Job {
  const { deps } = ctx;
  return timedJob(deps, 'start', (signal) =>
    withRetries((attempt) => startAttempt(ctx, signal, attempt), {
      retries: deps.options.raw.jobRetryCount,
      intervalMs: deps.options.jobRetryIntervalMs,
      clock: deps.clock,
      signal,
      onError: (error) => deps.logger.warn({ serviceId: ctx.serviceId, err: error }, 'Start attempt failed'),
      giveUp: () => deps.crashLoops.holds(ctx.serviceId, ctx.executorId, deps.clock.now()),
    }),
  );
}

async function startAttempt(ctx: StartJobContext, signal: AbortSignal, attempt: number): Promise<boolean> {
  const { deps, serviceId, executorId, requestId } = ctx;
  const info = deps.workingSet.service(serviceId);
  if (!info) return false;
  const executor = deps.executors.byId(executorId);
  if (!executor) {
    deps.logger.warn({ serviceId, executorId }, 'Start skipped: executor no longer known');
    return false;
  }
  const instanceId = newInstanceId();
  const allocation = ctx.session.allocate(executorId, instanceId, cpuCount(info.spec), memoryMb(info.spec), info.spec.placementPolicy);
  if (!allocation.ok) {
    deps.logger.warn({ serviceId, executorId, attempt, reason: allocation.reason }, 'No resources for local service instance');
    return false;
  }
  let accepted = false;
  try {
    const spec = await buildInstanceSpec(deps, info, instanceId, executorId, allocation.resources);
    if (signal.aborted) return false;
    const response = await sendUntilAccepted(deps, executor.address, (now) => startMessage(executor.address, spec, now), signal, requestId);
    if (response.status !== 'ACCEPTED') {
      deps.logger.warn({ serviceId, executorId, instanceId, requestId, reason: response.message }, 'Executor did not accept start');
      return false;
    }
    accepted = true;
    deps.logger.info({ serviceId, executorId, instanceId, requestId }, 'START_LOCAL_SERVICE_INSTANCE accepted by executor');
    const timeoutMs = startTimeoutMs(info.spec, ctx.opSpec.timeoutMs);
    const record = await deps.workingSet.waitForInstance(
      serviceId,
      instanceId,
      (r) => r !== undefined && !INSTANCE_PROGRESSING_STATES.has(r.state),
      { clock: deps.clock, timeoutMs, recheckMs: deps.options.instanceStateCheckRetryIntervalMs, signal },
    );
    if (record?.state === 'HEALTHY') return true;
    deps.logger.warn(
      { serviceId, executorId, instanceId, state: record?.state ?? 'TIMEOUT', error: record?.errorMessage },
      'Local service instance did not become healthy',
    );
    await countFailure(ctx, record ?? deps.workingSet.instance(serviceId, instanceId), timeoutMs, signal);
    return false;
  } catch (error) {
    if (isAbort(error)) return false;
    throw error;
  } finally {
    const record = deps.workingSet.instance(serviceId, instanceId);
    if (record?.state !== 'HEALTHY') {
      ctx.session.release(instanceId);
      if (accepted) ctx.background((stopping) => stopLeftover(ctx, instanceId, executor.address, stopping));
    }
  }
}

/**
 * Counts a start that failed in its executor's crash loop. A record still on its way up timed out: the controller
 * stops it, and that stop carries no error, so only this job can tell it was a failure. No record at all means the
 * executor never reported the instance: its trouble, not the instance's.
 */
async function countFailure(
  ctx: StartJobContext,
  record: LocalServiceInstanceInfo | undefined,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<void> {
  if (!record || signal.aborted) return;
  const timedOut = INSTANCE_PROGRESSING_STATES.has(record.state);
  if (!timedOut && !isInstanceFailure(undefined, record)) return;
  try {
    await ctx.deps.crashLoops.recordFailure(record, timedOut ? `Not HEALTHY within ${Math.round(timeoutMs / 1000)} seconds of its start (${record.state})` : undefined);
  } catch (error) {
    ctx.deps.logger.error({ serviceId: ctx.serviceId, instanceId: record.instanceId, err: error }, 'Could not count a failed start');
  }
}

/**
 * A start that failed or timed out must not leave its container behind (the reference leaves it). The executor
 * takes STOP in every state before its instance is on its way out (INSTANCE_STOP_ACCEPTED_STATES: a pull in
 * progress is interrupted), so the leftover is stopped as soon as the executor has reported it at all; only an
 * instance never reported is waited for, bounded by the op timeout.
 */
async function stopLeftover(ctx: StartJobContext, instanceId: string, address: ExecutorAddress, signal: AbortSignal): Promise<void> {
  const { deps, serviceId } = ctx;
  try {
    const record = await deps.workingSet.waitForInstance(serviceId, instanceId, (r) => r !== undefined, {
      clock: deps.clock,
      timeoutMs: ctx.opSpec.timeoutMs,
      recheckMs: deps.options.instanceStateCheckRetryIntervalMs,
      signal,
    });
    // Already on its way out (failed, stopping, stopped): the executor finishes it by itself.
    if (record && !INSTANCE_STOP_ACCEPTED_STATES.has(record.state)) return;
    // No record yet (the executor never reported) is tried too: the executor answers FAILED if it does not know it.
    const response = await sendUntilAccepted(deps, address, (now) => stopMessage(address, instanceId, now), signal, ctx.requestId);
    deps.logger.info({ serviceId, instanceId, requestId: ctx.requestId, status: response.status }, 'Stopped leftover of a failed start');
  } catch (error) {
    // Aborted: leadership moved on; the next leader's reconciler and the executor's reaper own it now.
    if (isAbort(error) || signal.aborted) return;
    deps.logger.warn({ serviceId, instanceId, err: error }, 'Could not stop leftover of a failed start');
  }
}
