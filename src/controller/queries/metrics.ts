import {
  EXECUTOR_STATES,
  INSTANCE_RUNNING_STATES,
  LOCAL_SERVICE_OPERATION_TYPES,
  type ActivationState,
  type ExecutorState,
  type LocalServiceInstanceState,
  type LocalServiceOperationType,
  type LocalServiceState,
} from '../../model/index.js';
import type { TermView } from './view.js';

/** What `/metrics` reports of the cluster's state, read from the leader's view at scrape time (docs/metrics.md). */
export interface ClusterMetricsSnapshot {
  services: ServiceMetrics[];
  executorsByState: Record<ExecutorState, number>;
  operationsInFlight: Record<LocalServiceOperationType, number>;
  maintenance: boolean;
}

export interface ServiceMetrics {
  serviceId: string;
  /** The state machine's state; absent for a record whose runner is gone (being destroyed). */
  state: LocalServiceState | undefined;
  activationState: ActivationState;
  /** What the reconciler aims at: the summary's `requiredInstances` (requiredInstanceCount, model/placement.ts). */
  desired: number;
  /** Records in UNREADY, READY or HEALTHY. */
  running: number;
  /** HEALTHY records: the service summary's `healthyInstances`, so that a query and the API agree. */
  healthy: number;
  /** Every record the leader holds (history included), by state; states without a record are left out. */
  instancesByState: Partial<Record<LocalServiceInstanceState, number>>;
}

/**
 * Counts over the whole view: a scrape asks for the whole cluster. The instance counts use the same records as the
 * API's service summary (model/summary.ts), stale ones included, so both report the same numbers.
 */
export function metricsSnapshot(view: TermView): ClusterMetricsSnapshot {
  const executors = view.registry.all();
  const services: ServiceMetrics[] = [];
  for (const info of view.workingSet.services()) {
    const instancesByState: Partial<Record<LocalServiceInstanceState, number>> = {};
    let running = 0;
    for (const instance of view.workingSet.instances(info.serviceId)) {
      instancesByState[instance.state] = (instancesByState[instance.state] ?? 0) + 1;
      if (INSTANCE_RUNNING_STATES.has(instance.state)) running++;
    }
    services.push({
      serviceId: info.serviceId,
      state: view.engine.stateOf(info.serviceId),
      activationState: info.activationState,
      desired: view.registry.requiredInstances(info),
      running,
      healthy: instancesByState.HEALTHY ?? 0,
      instancesByState,
    });
  }
  const executorsByState = Object.fromEntries(EXECUTOR_STATES.map((s) => [s, 0])) as Record<ExecutorState, number>;
  // States only: the summaries would add up every executor's resources, the dearest part of a scrape.
  for (const record of executors) executorsByState[record.state]++;
  executorsByState.REMOVED += view.registry.removedCount();
  const operationsInFlight = Object.fromEntries(LOCAL_SERVICE_OPERATION_TYPES.map((t) => [t, 0])) as Record<LocalServiceOperationType, number>;
  for (const serviceId of view.engine.serviceIds()) {
    const op = view.engine.pendingOperation(serviceId);
    if (op) operationsInFlight[op.type]++;
  }
  return { services, executorsByState, operationsInFlight, maintenance: view.maintenance.state().state === 'MAINTENANCE' };
}
