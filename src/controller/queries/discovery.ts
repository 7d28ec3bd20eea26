import type { LocalServiceInfo } from '../../model/index.js';
import type { TermView } from './view.js';

/**
 * Prometheus HTTP service discovery of the node agents drove-ts runs (`GET /apis/v1/discovery/prometheus`,
 * docs/metrics.md#discovery-of-node-agents): the `http_sd_configs` format, a list of target groups, one per healthy
 * instance and named port. Labels follow the convention of Prometheus' own discovery mechanisms (`__meta_<mechanism>_...`): available to
 * relabelling, dropped from the scraped series unless a relabel rule keeps them.
 */

export interface PrometheusTargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

export interface DiscoveryFilter {
  /** Only these services (any, when empty). */
  services: readonly string[];
  /** Only services carrying every one of these tags (`value` absent: the key with any value). */
  tags: ReadonlyArray<{ key: string; value?: string }>;
  /** Only the port of this name (every named port, when absent). */
  port?: string;
}

export const META = '__meta_drove_';

export function prometheusTargets(view: TermView, filter: DiscoveryFilter, now: number, staleAgeMs: number): PrometheusTargetGroup[] {
  const wanted = new Set(filter.services);
  const groups: PrometheusTargetGroup[] = [];
  const services = view.workingSet
    .services()
    .filter((info) => (wanted.size === 0 || wanted.has(info.serviceId)) && carriesTags(info, filter.tags))
    .sort((a, b) => compare(a.serviceId, b.serviceId));
  for (const info of services) {
    const healthy = view.workingSet
      .currentInstances(info.serviceId, now, staleAgeMs)
      .filter((i) => i.state === 'HEALTHY' && i.localInfo)
      .sort((a, b) => compare(a.instanceId, b.instanceId));
    for (const instance of healthy) {
      const { hostname, ports } = instance.localInfo!;
      for (const name of Object.keys(ports).sort(compare)) {
        if (filter.port !== undefined && name !== filter.port) continue;
        const port = ports[name]!;
        groups.push({
          targets: [`${hostForTarget(hostname)}:${port.hostPort}`],
          labels: {
            ...tagLabels(info),
            [`${META}service_id`]: info.serviceId,
            [`${META}service_name`]: info.spec.name,
            [`${META}service_version`]: info.spec.version,
            [`${META}instance_id`]: instance.instanceId,
            [`${META}executor_id`]: instance.executorId,
            [`${META}host`]: hostname,
            [`${META}port_name`]: name,
            [`${META}port_type`]: port.portType,
          },
        });
      }
    }
  }
  return groups;
}

function carriesTags(info: LocalServiceInfo, tags: DiscoveryFilter['tags']): boolean {
  const own = info.spec.tags ?? {};
  return tags.every(({ key, value }) => Object.hasOwn(own, key) && (value === undefined || own[key] === value));
}

/**
 * `__meta_drove_tag_<key>` per tag, the key made a valid label name as Prometheus does for Kubernetes labels
 * (every character outside `[a-zA-Z0-9_]` becomes `_`). Keys that collide after that keep the value of the last
 * key in sort order.
 */
function tagLabels(info: LocalServiceInfo): Record<string, string> {
  const labels: Record<string, string> = {};
  const tags = info.spec.tags ?? {};
  for (const key of Object.keys(tags).sort(compare)) labels[`${META}tag_${key.replace(/[^a-zA-Z0-9_]/g, '_')}`] = tags[key]!;
  return labels;
}

/** An IPv6 address is bracketed in `host:port`. */
function hostForTarget(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
