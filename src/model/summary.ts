import type { LocalServiceSpec } from './spec.js';
import { cpuCount, memoryMb } from './spec.js';
import type { LocalServiceInstanceInfo } from './instance.js';
import { INSTANCE_ACTIVE_STATES, type LocalServiceState } from './states.js';
import type { LocalServiceInfo, LocalServiceSummary } from './api.js';

/** Event metadata uses the *last* CPU/MEMORY entry (Drove's quirk), summaries use the sum. */
export function cpuLastCount(spec: Pick<LocalServiceSpec, 'resources'>): number {
  let last = 0;
  for (const r of spec.resources) if (r.type === 'CPU') last = r.count;
  return last;
}

export function memoryLastSize(spec: Pick<LocalServiceSpec, 'resources'>): number {
  let last = 0;
  for (const r of spec.resources) if (r.type === 'MEMORY') last = r.sizeInMB;
  return last;
}

/** A service's records by state: the HEALTHY ones, and those in INSTANCE_ACTIVE_STATES (they hold resources). */
export interface InstanceCounts {
  healthy: number;
  active: number;
}

/** Adds a record to the counts (`sign` 1) or takes it out again (-1): the one rule of what each count holds. */
export function tallyInstance(counts: InstanceCounts, instance: Pick<LocalServiceInstanceInfo, 'state'>, sign: 1 | -1): void {
  if (instance.state === 'HEALTHY') counts.healthy += sign;
  if (INSTANCE_ACTIVE_STATES.has(instance.state)) counts.active += sign;
}

/** Counts the records (the controller keeps these counts as records change; this is for a list in hand). */
export function countInstances(instances: Iterable<LocalServiceInstanceInfo>): InstanceCounts {
  const counts: InstanceCounts = { healthy: 0, active: 0 };
  for (const instance of instances) tallyInstance(counts, instance, 1);
  return counts;
}

/**
 * `LocalServiceSummary` math: counts over all stored records, stale or not
 * (docs/design/api-compatibility.md#records-and-summaries); `requiredInstances` over the executors now
 * (requiredInstanceCount, docs/design/placement.md#tag-constraints).
 */
export function summarize(
  info: LocalServiceInfo,
  counts: InstanceCounts,
  state: LocalServiceState | undefined,
  requiredInstances: number,
): LocalServiceSummary {
  const summary: LocalServiceSummary = {
    id: info.serviceId,
    name: info.spec.name,
    instancesPerHost: info.instancesPerHost,
    healthyInstances: counts.healthy,
    totalCPUs: counts.active * cpuCount(info.spec),
    totalMemory: counts.active * memoryMb(info.spec),
    tags: info.spec.tags ?? {},
    activationState: info.activationState,
    created: info.created,
    updated: info.updated,
  };
  if (state) summary.state = state;
  summary.requiredInstances = requiredInstances;
  return summary;
}
