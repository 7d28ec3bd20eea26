import { executorTakes, type ClusterOpSpec, type LocalServiceInfo, type LocalServiceState } from '../../../model/index.js';
import { plan } from '../../reconcile/plan.js';
import { openBatch, runBatch, type Job } from '../jobs/batch.js';
import { startJob } from '../jobs/start-job.js';
import { stopJob } from '../jobs/stop-job.js';
import { effectiveOpSpec } from '../jobs/timeouts.js';
import { mappedState, type ActionContext, type ServiceAction } from './context.js';

/**
 * The three actions that run instance jobs (docs/design/operations.md#jobs). Individual job failures never fail the
 * operation; the reconciler repairs whatever is still missing on its next pass.
 */

/** ADJUST_INSTANCES: execute the reconciler's plan (starts and stops) as one batch. */
export const adjustAction: ServiceAction = async (ctx) => {
  const op = ctx.pending();
  const info = ctx.deps.workingSet.service(ctx.serviceId);
  if (!info) return 'DESTROYED';
  const opSpec = effectiveOpSpec(op?.type === 'ADJUST_INSTANCES' ? op.opSpec : undefined, ctx.deps.options);
  const { deps } = ctx;
  const current = deps.workingSet.plannableInstances(ctx.serviceId, deps.clock.now(), deps.options.instanceStaleAgeMs);
  const executors = deps.executors.all();
  const todo = plan(info, executors, current, deps.crashLoops.heldExecutors(ctx.serviceId, deps.clock.now()));
  const session = deps.scheduler.openSession();
  const starts = (executorId: string, count: number): Job[] =>
    Array.from({ length: count }, () =>
      startJob({ deps, serviceId: ctx.serviceId, executorId, opSpec, session, background: ctx.background, requestId: ctx.requestId() }),
    );
  let unsubscribe = () => {};
  try {
    const jobs: Job[] = todo.start.flatMap(({ executorId, count }) => starts(executorId, count));
    for (const instanceId of todo.stop) {
      jobs.push(stopJob({ deps, serviceId: ctx.serviceId, instanceId, opSpec, lifetime: ctx.lifetime, requestId: ctx.requestId() }));
    }
    if (jobs.length > 0) {
      deps.logger.info(
        { serviceId: ctx.serviceId, starts: jobs.length - todo.stop.length, stops: todo.stop.length, parallelism: opSpec.parallelism },
        'Adjusting local service instances',
      );
      const batch = openBatch(jobs, opSpec.parallelism, ctx.signal);
      // An executor that joins while this runs gets its instances from this batch at once: the service is not steady
      // until it ends, so the reconciler would plan them only then, and a fleet joining one host every few hundred
      // milliseconds kept each host waiting for the previous host's starts to be HEALTHY (docs/scale.md).
      const planned = new Set(todo.start.map((s) => s.executorId));
      unsubscribe = deps.executors.onChange((change) => {
        if (change.kind !== 'reported' || planned.has(change.executorId) || ctx.signal.aborted) return;
        planned.add(change.executorId);
        // Not inside the registry's notification: the heartbeat that reported it is still being applied.
        queueMicrotask(() => {
          const count = joinedStarts(ctx, info, change.executorId);
          if (count === 0) return;
          deps.logger.info({ serviceId: ctx.serviceId, executorId: change.executorId, starts: count }, 'Adjusting: executor joined');
          for (const job of starts(change.executorId, count)) batch.add(job);
        });
      });
      await batch.done;
    }
  } finally {
    unsubscribe();
    session.close();
  }
  return outcome(ctx);
};

/** How many instances an executor that reported during an ADJUST needs: the plan, for that executor alone. */
function joinedStarts(ctx: Parameters<ServiceAction>[0], info: LocalServiceInfo, executorId: string): number {
  const { deps } = ctx;
  const executor = deps.executors.byId(executorId);
  if (!executor) return 0;
  const now = deps.clock.now();
  const current = deps.workingSet.plannableInstances(ctx.serviceId, now, deps.options.instanceStaleAgeMs).filter((i) => i.executorId === executorId);
  const todo = plan(info, [executor], current, deps.crashLoops.heldExecutors(ctx.serviceId, now));
  return todo.start.find((s) => s.executorId === executorId)?.count ?? 0;
}

/**
 * REPLACE_INSTANCES (and RESTART): per healthy instance, a start+stop pipeline on the same executor. An instance
 * whose executor no longer takes the service (its tags changed, docs/design/placement.md#tag-constraints) is only stopped: a replacement
 * there would be refused by the scheduler, and the reconciler stops it right after the operation anyway.
 */
export const replaceAction: ServiceAction = async (ctx) => {
  const op = ctx.pending();
  const info = ctx.deps.workingSet.service(ctx.serviceId);
  if (!info) return 'DESTROYED';
  const ids = op?.type === 'REPLACE_INSTANCES' ? op.instanceIds : [];
  const stopFirst = op?.type === 'REPLACE_INSTANCES' ? op.stopFirst : false;
  const opSpec = effectiveOpSpec(opSpecOf(op), ctx.deps.options);
  const { deps } = ctx;
  const affected = healthy(ctx, info, ids);
  if (affected.length === 0) return mappedState(info);
  const session = deps.scheduler.openSession();
  try {
    const pipelines: Job[] = affected.map((old) => {
      const requestId = ctx.requestId();
      const start = startJob({ deps, serviceId: ctx.serviceId, executorId: old.executorId, opSpec, session, background: ctx.background, requestId });
      const stop = stopJob({ deps, serviceId: ctx.serviceId, instanceId: old.instanceId, opSpec, lifetime: ctx.lifetime, requestId });
      return async (signal) => {
        // Decided when the pipeline runs, not when the batch is built: tags may change while earlier ones run.
        const steps = !takesService(deps, old.executorId, info) ? [stop] : stopFirst ? [stop, start] : [start, stop];
        let any = false;
        for (const step of steps) {
          if (signal.aborted) break;
          // A step that returns false does not abort the pipeline (Drove); only an exception does.
          any = (await step(signal)) || any;
        }
        return any;
      };
    });
    const results = await runBatch(pipelines, opSpec.parallelism, ctx.signal);
    if (!results.some(Boolean)) deps.logger.warn({ serviceId: ctx.serviceId }, 'No instance could be replaced');
  } finally {
    session.close();
  }
  return outcome(ctx);
};

/** STOP_INSTANCES: stop the listed healthy instances; the reconciler re-creates them if the service is ACTIVE. */
export const stopInstancesAction: ServiceAction = async (ctx) => {
  const op = ctx.pending();
  const info = ctx.deps.workingSet.service(ctx.serviceId);
  if (!info) return 'DESTROYED';
  const ids = op?.type === 'STOP_INSTANCES' ? op.instanceIds : [];
  const opSpec = effectiveOpSpec(opSpecOf(op), ctx.deps.options);
  const affected = ids.length === 0 ? [] : healthy(ctx, info, ids);
  const jobs = affected.map((i) =>
    stopJob({ deps: ctx.deps, serviceId: ctx.serviceId, instanceId: i.instanceId, opSpec, lifetime: ctx.lifetime, requestId: ctx.requestId() }),
  );
  // STOP_INSTANCES cannot be cancelled; it ends early only when leadership is lost.
  await runBatch(jobs, opSpec.parallelism, ctx.lifetime);
  return mappedState(ctx.deps.workingSet.service(ctx.serviceId));
};

function takesService(deps: ActionContext['deps'], executorId: string, info: LocalServiceInfo): boolean {
  const executor = deps.executors.byId(executorId);
  return executor !== undefined && executorTakes(executor, info.spec.placementPolicy);
}

function opSpecOf(op: ReturnType<ActionContext['pending']>): ClusterOpSpec | undefined {
  if (!op) return undefined;
  return 'opSpec' in op ? op.opSpec : undefined;
}

function healthy(ctx: ActionContext, info: LocalServiceInfo, ids: readonly string[]) {
  const wanted = new Set(ids);
  return ctx.deps.workingSet
    .currentInstances(info.serviceId, ctx.deps.clock.now(), ctx.deps.options.instanceStaleAgeMs)
    .filter((i) => i.state === 'HEALTHY' && (wanted.size === 0 || wanted.has(i.instanceId)));
}

/** Cancelled while the service should be running: emergency deactivation (docs/design/operations.md#cancellation). */
function outcome(ctx: ActionContext): LocalServiceState {
  const info = ctx.deps.workingSet.service(ctx.serviceId);
  if (ctx.signal.aborted && ctx.signal.reason instanceof OperationCancelledError && info && info.activationState !== 'INACTIVE') {
    return 'EMERGENCY_DEACTIVATION_REQUESTED';
  }
  return mappedState(info);
}

/** Abort reason of an operator's cancel (as opposed to the runner stopping on leadership loss). */
export class OperationCancelledError extends Error {
  constructor() {
    super('Operation cancelled');
    // Jobs treat it like any abort.
    this.name = 'AbortError';
  }
}

