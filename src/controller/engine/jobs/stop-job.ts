import { INSTANCE_ACTIVE_STATES } from '../../../model/index.js';
import type { EngineDeps } from '../deps.js';
import { timedJob, withRetries, type Job } from './batch.js';
import { sendUntilAccepted, stopMessage } from './executor-messages.js';
import type { EffectiveOpSpec } from './timeouts.js';

export interface StopJobContext {
  deps: EngineDeps;
  serviceId: string;
  instanceId: string;
  opSpec: EffectiveOpSpec;
  /** Aborts when the runner stops (leadership lost); an operator's cancel does not reach stop jobs. */
  lifetime: AbortSignal;
  /** Of the operation this job is part of: logged, and sent with its messages (docs/request-ids.md). */
  requestId?: string | undefined;
}

/**
 * StopSingleLocalServiceInstanceJob (docs/design/operations.md#stop-job): a missing record (or one already finished)
 * is success; otherwise send STOP and wait for STOPPED. Stop jobs are not cancellable (a half-stopped instance helps
 * nobody), so they ignore the batch's cancel signal and end early only with the leadership term.
 */
export function stopJob(ctx: StopJobContext): Job {
  const { deps } = ctx;
  const job = timedJob(deps, 'stop', () =>
    withRetries(() => stopAttempt(ctx), {
      retries: deps.options.raw.jobRetryCount,
      intervalMs: deps.options.jobRetryIntervalMs,
      clock: deps.clock,
      signal: ctx.lifetime,
      onError: (error) => deps.logger.warn({ serviceId: ctx.serviceId, err: error }, 'Stop attempt failed'),
    }),
  );
  // Only leadership loss aborts a stop job, whatever the batch's signal says.
  return () => job(ctx.lifetime);
}

async function stopAttempt(ctx: StopJobContext): Promise<boolean> {
  const { deps, serviceId, instanceId, requestId } = ctx;
  const record = deps.workingSet.instance(serviceId, instanceId);
  if (!record || !INSTANCE_ACTIVE_STATES.has(record.state)) return true;
  const executor = deps.executors.byId(record.executorId);
  if (!executor) {
    deps.logger.warn({ serviceId, instanceId, executorId: record.executorId }, 'Cannot stop instance: executor unknown');
    return false;
  }
  const response = await sendUntilAccepted(deps, executor.address, (now) => stopMessage(executor.address, instanceId, now), ctx.lifetime, requestId);
  if (response.status !== 'ACCEPTED') {
    deps.logger.warn({ serviceId, instanceId, executorId: record.executorId, requestId, reason: response.message }, 'Executor did not accept stop');
    // The executor may have finished it meanwhile (a report can be on its way); the record decides.
    const now = deps.workingSet.instance(serviceId, instanceId);
    return !now || !INSTANCE_ACTIVE_STATES.has(now.state);
  }
  deps.logger.info({ serviceId, instanceId, executorId: record.executorId, requestId }, 'STOP_LOCAL_SERVICE_INSTANCE accepted by executor');
  const final = await deps.workingSet.waitForInstance(
    serviceId,
    instanceId,
    (r) => !r || !INSTANCE_ACTIVE_STATES.has(r.state),
    { clock: deps.clock, timeoutMs: ctx.opSpec.timeoutMs, recheckMs: deps.options.instanceStateCheckRetryIntervalMs, signal: ctx.lifetime },
  );
  return final === undefined ? deps.workingSet.instance(serviceId, instanceId) === undefined : final.state === 'STOPPED';
}
