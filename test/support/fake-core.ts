import type { ControllerCore, DashboardData, OperationResult } from '../../src/controller/core.js';
import { fleet } from '../../src/controller/queries/fleet.js';
import { search } from '../../src/controller/queries/search.js';
import { EMPTY_VIEW, type TermView } from '../../src/controller/queries/view.js';
import { EventLog } from '../../src/controller/events.js';
import type { DiscoveryFilter, PrometheusTargetGroup } from '../../src/controller/queries/discovery.js';
import type { ClusterMetricsSnapshot } from '../../src/controller/queries/metrics.js';
import {
  EXECUTOR_STATES,
  LOCAL_SERVICE_OPERATION_TYPES,
  INSTANCE_ACTIVE_STATES,
  LOCAL_SERVICE_STATES,
  ACTIVATION_STATES,
  maskSpec,
  systemClock,
  serviceIdOf,
  summarize,
  countInstances,
  requiredInstanceCount,
  type ClusterSummary,
  type ControllerMessage,
  type CrashLoopSummary,
  type DroveEvent,
  type ExecutorAddress,
  type ExecutorNodeData,
  type LocalServiceInfo,
  type LocalServiceInstanceInfo,
  type LocalServiceOperation,
  type LocalServiceSpec,
  type LocalServiceState,
  type MessageResponse,
  type FleetQuery,
} from '../../src/model/index.js';

/**
 * A small in-memory ControllerCore for API unit tests: it stores what it is told and records calls, with just
 * enough behaviour (not-found, validation failures, maintenance, leadership) to exercise every API mapping.
 */
export class FakeCore implements ControllerCore {
  leader = true;
  leader_address: string | undefined = 'ctrl1.local:10000';
  maintenance = false;
  services = new Map<string, { info: LocalServiceInfo; state: LocalServiceState }>();
  instances: LocalServiceInstanceInfo[] = [];
  executors = new Map<string, ExecutorNodeData>();
  events: DroveEvent[] = [];
  /** What the event stream reads; separate from `events`, which the poll APIs answer from. */
  feed = new EventLog(systemClock, { maxEventsStorageMs: 60 * 60_000 });
  operations: LocalServiceOperation[] = [];
  messages: ControllerMessage[] = [];
  cancellable = new Set<string>();
  /** Crash loops the summary of a service shows, by service id. */
  crashLoops = new Map<string, CrashLoopSummary[]>();
  failNext: Error | undefined;

  isLeader() {
    return this.leader;
  }
  leaderAddress() {
    return this.leader_address;
  }
  async submitOperation(op: LocalServiceOperation): Promise<OperationResult> {
    if (this.failNext) {
      const e = this.failNext;
      this.failNext = undefined;
      throw e;
    }
    if (op.type === 'CREATE') {
      const id = serviceIdOf(op.spec);
      if (this.services.has(id)) return { ok: false, errors: [`Local service ${id} already exists`] };
      this.operations.push(op);
      this.services.set(id, {
        info: { serviceId: id, spec: op.spec, instancesPerHost: op.instancesPerHost, activationState: 'INACTIVE', created: 1, updated: 1 },
        state: 'INACTIVE',
      });
      return { ok: true, serviceId: id };
    }
    if (!this.services.has(op.serviceId)) return { ok: false, errors: [`No state found for local service: ${op.serviceId}`] };
    this.operations.push(op);
    return { ok: true, serviceId: op.serviceId };
  }
  validateSpec(spec: LocalServiceSpec): string[] {
    return spec.placementPolicy?.type && spec.placementPolicy.type !== 'LOCAL' ? ['Only LOCAL placement policy is supported'] : [];
  }
  cancelOperation(serviceId: string) {
    return this.cancellable.delete(serviceId);
  }
  inMaintenanceWindow() {
    return this.maintenance;
  }
  listServices(from: number, size: number) {
    const out: Record<string, ReturnType<typeof summarize>> = {};
    for (const [id, s] of [...this.services].slice(from, from + size)) out[id] = this.summaryOf(s);
    return out;
  }
  private summaryOf(s: { info: LocalServiceInfo; state: LocalServiceState }) {
    const executors = [...this.executors.values()].map((n) => ({ state: n.executorState, nodeData: n }));
    const counts = countInstances(this.instances.filter((i) => i.serviceId === s.info.serviceId));
    const summary = summarize(s.info, counts, s.state, requiredInstanceCount(s.info, executors));
    const loops = this.crashLoops.get(s.info.serviceId);
    if (loops) summary.crashLoops = loops;
    return summary;
  }
  serviceSummary(id: string) {
    const s = this.services.get(id);
    return s ? this.summaryOf(s) : undefined;
  }
  serviceSpec(id: string) {
    const s = this.services.get(id);
    return s ? maskSpec(s.info.spec) : undefined;
  }
  serviceInstances(id: string, states?: readonly string[]) {
    const wanted = new Set(states ?? [...INSTANCE_ACTIVE_STATES]);
    return this.instances.filter((i) => i.serviceId === id && INSTANCE_ACTIVE_STATES.has(i.state) && wanted.has(i.state));
  }
  serviceInstance(id: string, instanceId: string) {
    return this.instances.find((i) => i.serviceId === id && i.instanceId === instanceId);
  }
  oldServiceInstances(id: string) {
    return this.instances.filter((i) => i.serviceId === id && !INSTANCE_ACTIVE_STATES.has(i.state));
  }
  clusterSummary(): ClusterSummary {
    return {
      leader: this.leader_address ?? 'Leader election underway',
      state: this.maintenance ? 'MAINTENANCE' : 'NORMAL',
      numExecutors: this.executors.size,
      numApplications: 0,
      numActiveApplications: 0,
      numActiveTasks: 0,
      numLocalServices: this.services.size,
      numActiveLocalServices: 0,
      freeCores: 7,
      usedCores: 1,
      totalCores: 8,
      freeMemory: 15104,
      usedMemory: 128,
      totalMemory: 15232,
    };
  }
  dashboard(): DashboardData {
    return {
      serviceStats: {
        serviceCountByState: Object.fromEntries(LOCAL_SERVICE_STATES.map((s) => [s, 0])) as DashboardData['serviceStats']['serviceCountByState'],
        serviceCountByActivationState: Object.fromEntries(ACTIVATION_STATES.map((s) => [s, 0])) as DashboardData['serviceStats']['serviceCountByActivationState'],
        topServices: [],
        totalHealthyInstances: 0,
      },
      clusterSummary: this.clusterSummary(),
    };
  }
  executorSummaries() {
    return [...this.executors.values()].map((n) => ({
      executorId: n.state.executorId,
      hostname: n.hostname,
      port: n.port,
      transportType: n.transportType,
      freeCores: 7,
      usedCores: 1,
      freeMemory: 15104,
      usedMemory: 128,
      tags: n.tags,
      state: n.executorState,
    }));
  }
  executorNodeData(id: string) {
    return this.executors.get(id);
  }
  async blacklist(ids: string[]) {
    const successful = ids.filter((id) => this.executors.has(id));
    return { successful, failed: ids.filter((id) => !this.executors.has(id)), approxCompletionTimeMs: 0, message: 'Blacklisting successful and app movement scheduled' };
  }
  async unblacklist(ids: string[]) {
    const successful = ids.filter((id) => this.executors.has(id));
    return { successful, failed: ids.filter((id) => !this.executors.has(id)), approxCompletionTimeMs: 0, message: 'Unblacklisting successful for all executors' };
  }
  async setMaintenance(on: boolean) {
    this.maintenance = on;
    return { state: on ? ('MAINTENANCE' as const) : ('NORMAL' as const), updated: 1_700_000_000_000 };
  }
  /** The console's reads are the real queries over a view of this fake's records. */
  fleet(query: FleetQuery) {
    return fleet(this.view(), query);
  }
  search(text: string, limit: number) {
    return search(this.view(), text, limit);
  }
  /** What the queries see of this fake: its services, instances and executor summaries; nothing else is kept. */
  private view(): TermView {
    const instancesOf = (id: string) => this.instances.filter((i) => i.serviceId === id);
    return {
      ...EMPTY_VIEW,
      workingSet: {
        services: () => [...this.services.values()].map((s) => s.info),
        service: (id) => this.services.get(id)?.info,
        serviceCount: () => this.services.size,
        instances: instancesOf,
        instance: (id, instanceId) => this.serviceInstance(id, instanceId),
        currentInstances: instancesOf,
        instanceCounts: (id) => countInstances(instancesOf(id)),
      },
      registry: { ...EMPTY_VIEW.registry, summaries: () => this.executorSummaries() },
      engine: { ...EMPTY_VIEW.engine, stateOf: (id) => this.services.get(id)?.state, serviceIds: () => [...this.services.keys()] },
      maintenance: { state: () => ({ state: this.maintenance ? 'MAINTENANCE' : 'NORMAL', updated: 1 }) },
    };
  }
  /** Services with their state and HEALTHY count; no executors, nothing in flight. */
  metricsSnapshot(): ClusterMetricsSnapshot | undefined {
    if (!this.leader) return undefined;
    return {
      services: [...this.services.values()].map(({ info, state }) => {
        const healthy = this.instances.filter((i) => i.serviceId === info.serviceId && i.state === 'HEALTHY').length;
        return { serviceId: info.serviceId, state, activationState: info.activationState, desired: 0, running: healthy, healthy, instancesByState: healthy ? { HEALTHY: healthy } : {} };
      }),
      executorsByState: Object.fromEntries(EXECUTOR_STATES.map((s) => [s, 0])) as ClusterMetricsSnapshot['executorsByState'],
      operationsInFlight: Object.fromEntries(LOCAL_SERVICE_OPERATION_TYPES.map((t) => [t, 0])) as ClusterMetricsSnapshot['operationsInFlight'],
      maintenance: this.maintenance,
    };
  }
  discoveryFilters: DiscoveryFilter[] = [];
  discoveryTargets(filter: DiscoveryFilter): PrometheusTargetGroup[] {
    this.discoveryFilters.push(filter);
    return [];
  }
  latestEvents(lastSyncTime: number, size: number) {
    const events = this.events.filter((e) => e.time > lastSyncTime).sort((a, b) => b.time - a.time).slice(0, size);
    return { events, lastSyncTime: this.events.reduce((m, e) => Math.max(m, e.time), lastSyncTime) };
  }
  eventsSummary(lastSyncTime: number) {
    const eventsCount: Record<string, number> = {};
    for (const e of this.events) if (e.time > lastSyncTime) eventsCount[e.type] = (eventsCount[e.type] ?? 0) + 1;
    return { eventsCount, lastSyncTime };
  }
  onEvent() {
    return () => undefined;
  }
  eventFeed() {
    return this.feed;
  }
  reservedResources() {
    return { cpus: 0, memory: 0, requiredInstances: {} };
  }
  knownInstances(executorId: string) {
    return this.executors.has(executorId)
      ? { appInstanceIds: [], staleAppInstanceIds: [], taskInstanceIds: [], staleTaskInstanceIds: [], localServiceInstanceIds: ['SI-1'], staleLocalServiceInstanceIds: [] }
      : undefined;
  }
  async handleControllerMessage(message: ControllerMessage): Promise<MessageResponse> {
    this.messages.push(message);
    return { header: message.header, status: 'ACCEPTED' };
  }
  logTarget: ExecutorAddress | undefined;
  instanceExecutorAddress() {
    return this.logTarget;
  }
}
