import type { ConsoleSearchHit, ConsoleSearchResult } from '../../model/index.js';
import type { TermView } from './view.js';

/**
 * The console's search box: services, executors and instance ids containing the text (case-insensitive), at most
 * `limit` hits of each kind. Instances are searched by id only and only from `MIN_INSTANCE_TEXT` characters on:
 * "SI-" alone would match every one of 20,000 records.
 */
export const MIN_INSTANCE_TEXT = 4;

export function search(view: TermView, text: string, limit: number): ConsoleSearchResult {
  const needle = text.trim().toLowerCase();
  if (needle === '') return { hits: [], truncated: false };
  let truncated = false;
  const take = (hits: ConsoleSearchHit[]) => {
    if (hits.length > limit) truncated = true;
    return hits.slice(0, limit);
  };
  const services = view.workingSet.services();
  const serviceHits = take(
    services
      .filter((s) => s.serviceId.toLowerCase().includes(needle))
      .sort((a, b) => (a.serviceId < b.serviceId ? -1 : 1))
      .map((s): ConsoleSearchHit => ({ kind: 'service', id: s.serviceId, label: `local service, ${view.engine.stateOf(s.serviceId) ?? s.activationState}` })),
  );
  const executorHits = take(
    view.registry
      .summaries()
      .filter((e) => e.executorId.toLowerCase().includes(needle) || e.hostname.toLowerCase().includes(needle))
      .sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : a.executorId < b.executorId ? -1 : 1))
      .map((e): ConsoleSearchHit => ({ kind: 'executor', id: e.executorId, label: `executor on ${e.hostname}:${e.port}, ${e.state}` })),
  );
  const instanceHits: ConsoleSearchHit[] = [];
  if (needle.length >= MIN_INSTANCE_TEXT) {
    for (const service of services) {
      for (const instance of view.workingSet.instances(service.serviceId)) {
        if (!instance.instanceId.toLowerCase().includes(needle)) continue;
        instanceHits.push({
          kind: 'instance',
          id: instance.instanceId,
          serviceId: instance.serviceId,
          label: `instance of ${instance.serviceId}, ${instance.state}`,
        });
        // One past the limit is enough to know the list was cut.
        if (instanceHits.length > limit) break;
      }
      if (instanceHits.length > limit) break;
    }
  }
  return { hits: [...serviceHits, ...executorHits, ...take(instanceHits)], truncated };
}
