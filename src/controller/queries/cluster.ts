import {
  ACTIVATION_STATES,
  LOCAL_SERVICE_STATES,
  RUNNING_SERVICE_STATES,
  type ActivationState,
  type ClusterSummary,
  type ExecutorNodeData,
  type ExecutorResourceSnapshot,
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

interface ResourceTotals {
  freeCores: number;
  usedCores: number;
  freeMemory: number;
  usedMemory: number;
}

/**
 * Totals of one resource snapshot, computed once per snapshot: the cluster summary is read on every dashboard and
 * console refresh, and summing every NUMA node's core lists of 5,000 executors per read was a tenth of the
 * controller's CPU under API load in bench:scale (docs/scale.md). Snapshots are never changed in place (a newer one
 * replaces the record's), so the snapshot object is the key, and one that is replaced is collected with its entry.
 */
const totalsBySnapshot = new WeakMap<ExecutorResourceSnapshot, ResourceTotals>();

function resourceTotals(snapshot: ExecutorResourceSnapshot): ResourceTotals {
  const known = totalsBySnapshot.get(snapshot);
  if (known) return known;
  const totals: ResourceTotals = { freeCores: 0, usedCores: 0, freeMemory: 0, usedMemory: 0 };
  for (const ids of Object.values(snapshot.cpus.freeCores)) totals.freeCores += ids.length;
  for (const ids of Object.values(snapshot.cpus.usedCores)) totals.usedCores += ids.length;
  for (const mb of Object.values(snapshot.memory.freeMemory)) totals.freeMemory += mb;
  for (const mb of Object.values(snapshot.memory.usedMemory)) totals.usedMemory += mb;
  totalsBySnapshot.set(snapshot, totals);
  return totals;
}

/** `GET /apis/v1/cluster`: resources count ACTIVE executors only, as Drove's. */
export function clusterSummary(view: TermView, leaderAddress: string | undefined): ClusterSummary {
  let numExecutors = 0;
  let freeCores = 0;
  let usedCores = 0;
  let freeMemory = 0;
  let usedMemory = 0;
  for (const record of view.registry.all()) {
    if (record.state !== 'ACTIVE') continue;
    numExecutors++;
    const totals = resourceTotals(record.nodeData.state);
    freeCores += totals.freeCores;
    usedCores += totals.usedCores;
    freeMemory += totals.freeMemory;
    usedMemory += totals.usedMemory;
  }
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
  const executors = view.registry.all();
  for (const info of view.workingSet.services()) {
    const summary = serviceSummary(view, info.serviceId, executors)!;
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
