import type { LocalServiceSpec } from './spec.js';
import { cpuCount, memoryMb } from './spec.js';
import type { LocalServiceInstanceInfo } from './instance.js';
import { INSTANCE_ACTIVE_STATES, type LocalServiceState } from './states.js';
import type { LocalServiceInfo, LocalServiceSummary } from './api.js';
import { requiredInstanceCount, type PlacementCandidate } from './placement.js';

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

/**
 * `LocalServiceSummary` math: counts over all stored records, stale or not
 * (docs/design/api-compatibility.md#records-and-summaries); `requiredInstances` over the executors now
 * (requiredInstanceCount, docs/design/placement.md#tag-constraints).
 */
export function summarize(
  info: LocalServiceInfo,
  instances: Iterable<LocalServiceInstanceInfo>,
  state: LocalServiceState | undefined,
  executors: Iterable<PlacementCandidate>,
): LocalServiceSummary {
  let healthy = 0;
  let active = 0;
  for (const instance of instances) {
    if (instance.state === 'HEALTHY') healthy++;
    if (INSTANCE_ACTIVE_STATES.has(instance.state)) active++;
  }
  const summary: LocalServiceSummary = {
    id: info.serviceId,
    name: info.spec.name,
    instancesPerHost: info.instancesPerHost,
    healthyInstances: healthy,
    totalCPUs: active * cpuCount(info.spec),
    totalMemory: active * memoryMb(info.spec),
    tags: info.spec.tags ?? {},
    activationState: info.activationState,
    created: info.created,
    updated: info.updated,
  };
  if (state) summary.state = state;
  summary.requiredInstances = requiredInstanceCount(info, executors);
  return summary;
}
