import {
  EXECUTOR_ELIGIBLE_STATES,
  INSTANCE_ACTIVE_STATES,
  INSTANCE_PROGRESSING_STATES,
  type ExecutorSummary,
  type FleetCell,
  type FleetPage,
  type FleetQuery,
  type FleetRow,
  type FleetServiceProgress,
  type LocalServiceInfo,
  type LocalServiceInstanceInfo,
  type LocalServiceInstanceState,
} from '../../model/index.js';
import { placementAllows } from '../../model/placement.js';
import type { TermView } from './view.js';

/**
 * The console's fleet grid (docs/console.md): executors x services, each cell the instance states of that service
 * on that executor, filtered, sorted and paged here so that a browser never holds 5,000 executors at once; and
 * each service's rollout progress counted host by host over the whole fleet. One pass over the instance records
 * per request: the request asks about every instance, so O(instances) is its price.
 */

/** A start that ended in one of these failed; the host shows "failed" while it is the host's newest instance. */
const FAILED_START_STATES: ReadonlySet<LocalServiceInstanceState> = new Set(['PROVISIONING_FAILED', 'START_FAILED', 'READINESS_CHECK_FAILED']);

/** On their way out: the host is still moving. */
const LEAVING_STATES: ReadonlySet<LocalServiceInstanceState> = new Set(['DEPROVISIONING', 'STOPPING']);

export function fleet(view: TermView, query: FleetQuery): FleetPage {
  const services = view.workingSet
    .services()
    .filter((s) => !query.serviceIds || query.serviceIds.includes(s.serviceId))
    .sort((a, b) => compareText(a.serviceId, b.serviceId));
  const byExecutor = instancesByExecutor(view, services);

  const summaries = view.registry.summaries();
  const text = query.text?.trim().toLowerCase();
  const matching = summaries.filter(
    (e) =>
      (!query.state || e.state === query.state) &&
      (!text ||
        e.executorId.toLowerCase().includes(text) ||
        e.hostname.toLowerCase().includes(text) ||
        e.tags.some((tag) => tag.toLowerCase().includes(text))),
  );
  const instanceCount = (executorId: string) => {
    let count = 0;
    for (const list of byExecutor.get(executorId)?.values() ?? []) count += list.filter((i) => INSTANCE_ACTIVE_STATES.has(i.state)).length;
    return count;
  };
  const counts = new Map(matching.map((e) => [e.executorId, instanceCount(e.executorId)]));
  const direction = query.order === 'desc' ? -1 : 1;
  matching.sort((a, b) => direction * compareBy(query.sort, a, b, counts) || compareText(a.executorId, b.executorId));

  const from = Math.max(0, query.from);
  const rows: FleetRow[] = matching.slice(from, from + query.size).map((executor) => ({
    executor,
    cells: cellsOf(byExecutor.get(executor.executorId)),
    instances: counts.get(executor.executorId) ?? 0,
  }));
  const eligible = summaries.filter((e) => EXECUTOR_ELIGIBLE_STATES.has(e.state));
  return {
    total: matching.length,
    from,
    size: query.size,
    services: services.map((s) => s.serviceId),
    rows,
    progress: services.map((s) => progressOf(s, eligible, byExecutor, query.since)),
  };
}

type InstancesOnHost = Map<string, LocalServiceInstanceInfo[]>;

/** executor id -> service id -> that service's instance records there (history included: failures count). */
function instancesByExecutor(view: TermView, services: readonly LocalServiceInfo[]): Map<string, InstancesOnHost> {
  const out = new Map<string, InstancesOnHost>();
  for (const service of services) {
    for (const instance of view.workingSet.instances(service.serviceId)) {
      let host = out.get(instance.executorId);
      if (!host) out.set(instance.executorId, (host = new Map<string, LocalServiceInstanceInfo[]>()));
      let list = host.get(service.serviceId);
      if (!list) host.set(service.serviceId, (list = []));
      list.push(instance);
    }
  }
  return out;
}

/** Active instances by state; a host whose newest instance failed to start and runs nothing shows that failure. */
function cellsOf(host: InstancesOnHost | undefined): Record<string, FleetCell> {
  const cells: Record<string, FleetCell> = {};
  for (const [serviceId, list] of host ?? []) {
    const cell: FleetCell = {};
    for (const instance of list) if (INSTANCE_ACTIVE_STATES.has(instance.state)) cell[instance.state] = (cell[instance.state] ?? 0) + 1;
    const newest = newestOf(list);
    if (Object.keys(cell).length === 0 && newest && FAILED_START_STATES.has(newest.state)) cell[newest.state] = 1;
    if (Object.keys(cell).length > 0) cells[serviceId] = cell;
  }
  return cells;
}

function progressOf(
  service: LocalServiceInfo,
  eligible: readonly ExecutorSummary[],
  byExecutor: Map<string, InstancesOnHost>,
  since: number | undefined,
): FleetServiceProgress {
  const target = service.activationState === 'ACTIVE' ? service.instancesPerHost : 0;
  let done = 0;
  let moving = 0;
  let failed = 0;
  // A tag constraint narrows the service's hosts: an executor it does not allow is neither done nor waited for.
  const hosts = eligible.filter((executor) => placementAllows(service.spec.placementPolicy, executor));
  for (const executor of hosts) {
    const list = byExecutor.get(executor.executorId)?.get(service.serviceId) ?? [];
    const active = list.filter((i) => INSTANCE_ACTIVE_STATES.has(i.state));
    if (active.some((i) => INSTANCE_PROGRESSING_STATES.has(i.state) || LEAVING_STATES.has(i.state))) {
      moving++;
      continue;
    }
    const fresh = active.filter((i) => i.state === 'HEALTHY' && (since === undefined || i.created >= since));
    if (fresh.length === target && active.length === target) {
      done++;
      continue;
    }
    const newest = newestOf(list);
    if (newest && FAILED_START_STATES.has(newest.state)) failed++;
  }
  return { serviceId: service.serviceId, instancesPerHost: service.instancesPerHost, hosts: hosts.length, done, moving, failed };
}

function newestOf(list: readonly LocalServiceInstanceInfo[]): LocalServiceInstanceInfo | undefined {
  let newest: LocalServiceInstanceInfo | undefined;
  for (const instance of list) if (!newest || instance.created > newest.created) newest = instance;
  return newest;
}

function compareBy(key: FleetQuery['sort'], a: ExecutorSummary, b: ExecutorSummary, counts: Map<string, number>): number {
  switch (key) {
    case 'hostname':
      return compareText(a.hostname, b.hostname);
    case 'executorId':
      return compareText(a.executorId, b.executorId);
    case 'state':
      return compareText(a.state, b.state);
    case 'freeCores':
      return a.freeCores - b.freeCores;
    case 'freeMemory':
      return a.freeMemory - b.freeMemory;
    case 'instances':
      return (counts.get(a.executorId) ?? 0) - (counts.get(b.executorId) ?? 0);
  }
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
