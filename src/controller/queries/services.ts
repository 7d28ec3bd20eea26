import {
  INSTANCE_ACTIVE_STATES,
  maskSpec,
  summarize,
  type LocalServiceInstanceInfo,
  type LocalServiceInstanceState,
  type LocalServiceSpec,
  type LocalServiceSummary,
} from '../../model/index.js';
import type { TermView } from './view.js';

/** The local-service reads of the API (`/apis/v1/localservices/...`). */

/** O(1) in the service's records and the fleet: the counts are kept as they change (docs/scale.md). */
export function serviceSummary(view: TermView, serviceId: string): LocalServiceSummary | undefined {
  const info = view.workingSet.service(serviceId);
  if (!info) return undefined;
  const summary = summarize(info, view.workingSet.instanceCounts(serviceId), view.engine.stateOf(serviceId), view.registry.requiredInstances(info));
  const crashLoops = view.crashLoops.summaries(serviceId);
  if (crashLoops.length > 0) summary.crashLoops = crashLoops;
  return summary;
}

/** A page of summaries in service id order. */
export function listServices(view: TermView, from: number, size: number): Record<string, LocalServiceSummary> {
  const ids = view.workingSet
    .services()
    .map((info) => info.serviceId)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const start = Math.max(0, from);
  const out: Record<string, LocalServiceSummary> = {};
  for (const serviceId of ids.slice(start, start + Math.max(0, size))) out[serviceId] = serviceSummary(view, serviceId)!;
  return out;
}

/** Secrets masked on a copy: the stored spec is never changed by a read. */
export function serviceSpec(view: TermView, serviceId: string): LocalServiceSpec | undefined {
  const info = view.workingSet.service(serviceId);
  return info && maskSpec(info.spec);
}

/** Active records refreshed within the stale age, filtered by `states` (none given: every active state). */
export function serviceInstances(
  view: TermView,
  serviceId: string,
  states: readonly LocalServiceInstanceState[] | undefined,
  now: number,
  staleAgeMs: number,
): LocalServiceInstanceInfo[] {
  const current = view.workingSet.currentInstances(serviceId, now, staleAgeMs);
  if (!states || states.length === 0) return current;
  const wanted = new Set(states);
  return current.filter((i) => wanted.has(i.state));
}

/** Records no longer active: the instance history (`/instances/old`). */
export function oldServiceInstances(view: TermView, serviceId: string): LocalServiceInstanceInfo[] {
  return view.workingSet.instances(serviceId).filter((i) => !INSTANCE_ACTIVE_STATES.has(i.state));
}
