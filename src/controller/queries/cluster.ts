import {
  ACTIVATION_STATES,
  LOCAL_SERVICE_STATES,
  RUNNING_SERVICE_STATES,
  type ActivationState,
  type ClusterSummary,
  type ExecutorNodeData,
  type LocalServiceState,
  type LocalServiceSummary,
} from '../../model/index.js';
import type { DashboardData } from '../core.js';
import { serviceSummary } from './services.js';
import type { TermView } from './view.js';

/** The cluster reads of the API (`/apis/v1/cluster...`). */

/** Top services on the dashboard. */
const DASHBOARD_TOP_SERVICES = 10;

/** Shown as the leader while no controller leads (Drove's text). */
const NO_LEADER = 'Leader election underway';

/** `GET /apis/v1/cluster`: resources count ACTIVE executors only, as Drove's. */
export function clusterSummary(view: TermView, leaderAddress: string | undefined): ClusterSummary {
  // Kept by the registry as executors change: a read no longer walks the fleet (docs/scale.md).
  const { numExecutors, freeCores, usedCores, freeMemory, usedMemory } = view.registry.activeResources();
  let numActiveLocalServices = 0;
  for (const id of view.engine.serviceIds()) {
    const state = view.engine.stateOf(id);
    if (state && RUNNING_SERVICE_STATES.has(state)) numActiveLocalServices++;
  }
  return {
    leader: leaderAddress ?? NO_LEADER,
    state: view.maintenance.state().state,
    numExecutors,
    numApplications: 0,
    numActiveApplications: 0,
    numActiveTasks: 0,
    numLocalServices: view.workingSet.serviceCount(),
    numActiveLocalServices,
    freeCores,
    usedCores,
    totalCores: freeCores + usedCores,
    freeMemory,
    usedMemory,
    totalMemory: freeMemory + usedMemory,
  };
}

export function dashboard(view: TermView, leaderAddress: string | undefined): DashboardData {
  const serviceCountByState = Object.fromEntries(LOCAL_SERVICE_STATES.map((s) => [s, 0])) as Record<LocalServiceState, number>;
  const serviceCountByActivationState = Object.fromEntries(ACTIVATION_STATES.map((s) => [s, 0])) as Record<ActivationState, number>;
  const summaries: LocalServiceSummary[] = [];
  let totalHealthyInstances = 0;
  for (const info of view.workingSet.services()) {
    const summary = serviceSummary(view, info.serviceId)!;
    summaries.push(summary);
    if (summary.state) serviceCountByState[summary.state]++;
    serviceCountByActivationState[summary.activationState]++;
    totalHealthyInstances += summary.healthyInstances;
  }
  const topServices = summaries
    .sort((a, b) => b.healthyInstances - a.healthyInstances || (a.id < b.id ? -1 : 1))
    .slice(0, DASHBOARD_TOP_SERVICES);
  return {
    serviceStats: { serviceCountByState, serviceCountByActivationState, topServices, totalHealthyInstances },
    clusterSummary: clusterSummary(view, leaderAddress),
  };
}

/** A live executor's node data, else the last known one of a removed executor. */
export function executorNodeData(view: TermView, executorId: string): ExecutorNodeData | undefined {
  return view.registry.byId(executorId)?.nodeData ?? view.registry.lastKnown(executorId)?.nodeData;
}
