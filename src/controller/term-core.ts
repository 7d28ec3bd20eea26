import {
  CRASH_LOOP_RESETTING_OPERATIONS,
  MAINTENANCE_MESSAGE,
  NOT_LEADER_MESSAGE,
  operationServiceId,
  type BlacklistOperationResponse,
  type Clock,
  type ClusterStateData,
  type ClusterSummary,
  type ControllerMessage,
  type DroveEvent,
  type DroveEventsList,
  type DroveEventsSummary,
  type ExecutorAddress,
  type ExecutorNodeData,
  type ExecutorSummary,
  type ConsoleSearchResult,
  type FleetPage,
  type FleetQuery,
  type KnownInstancesData,
  type LocalServiceInstanceInfo,
  type LocalServiceInstanceResources,
  type LocalServiceInstanceState,
  type LocalServiceOperation,
  type LocalServiceSpec,
  type LocalServiceSummary,
  type MessageResponse,
} from '../model/index.js';
import type { ResolvedOptions } from './config.js';
import { NotLeaderError, type ControllerCore, type DashboardData, type OperationOrigin, type OperationResult } from './core.js';
import { validateSpec } from './engine/validator.js';
import type { EventFeed, EventLog } from './events.js';
import * as cluster from './queries/cluster.js';
import { fleet } from './queries/fleet.js';
import { search } from './queries/search.js';
import { prometheusTargets, type DiscoveryFilter, type PrometheusTargetGroup } from './queries/discovery.js';
import * as internal from './queries/internal.js';
import { metricsSnapshot, type ClusterMetricsSnapshot } from './queries/metrics.js';
import * as services from './queries/services.js';
import { EMPTY_VIEW, type TermView } from './queries/view.js';
import { reply } from './term/intake.js';
import type { LeaderTerm } from './term/term.js';

/**
 * The API seam (ControllerCore) answered from the current leader term: operations go to its engine, executor
 * messages to its intake, reads are the pure queries over its view. With no term (this controller does not lead),
 * reads answer as an empty cluster and writes as a non-leader. The event log is the process's, not a term's.
 */
export abstract class TermCore implements ControllerCore {
  constructor(protected readonly shared: { options: ResolvedOptions; events: EventLog; clock: Clock }) {}

  /** The term, while this controller leads. */
  protected abstract leading(): LeaderTerm | undefined;

  abstract leaderAddress(): string | undefined;

  private view(): TermView {
    return this.leading()?.view ?? EMPTY_VIEW;
  }

  private now(): number {
    return this.shared.clock.now();
  }

  isLeader(): boolean {
    return this.leading() !== undefined;
  }

  // ---- operations ----

  async submitOperation(op: LocalServiceOperation, origin?: OperationOrigin): Promise<OperationResult> {
    const term = this.leading();
    if (!term) return { ok: false, errors: [NOT_LEADER_MESSAGE] };
    if (term.maintenance.inMaintenanceWindow()) return { ok: false, errors: [MAINTENANCE_MESSAGE] };
    if (this.endsCrashLoops(term, op)) await term.crashLoops.resetService(operationServiceId(op), `${op.type} requested by an operator`);
    return term.engine.submit(op, origin);
  }

  /**
   * An operator's operation that asks for instances to run is never held back by a crash loop: the service's
   * loops end before it is submitted, so its starts (and the reconciler's right after it) go at once
   * (docs/design/crash-loop-backoff.md). Only an operation that will be accepted does so; a loop the store could not
   * end stays, and the operation goes ahead all the same. Without loops nothing is awaited, so the operation
   * reaches its service in the same turn as without this step.
   */
  private endsCrashLoops(term: LeaderTerm, op: LocalServiceOperation): boolean {
    if (!CRASH_LOOP_RESETTING_OPERATIONS.has(op.type)) return false;
    return term.crashLoops.loopsOf(operationServiceId(op)).length > 0 && term.engine.validate(op).length === 0;
  }

  validateSpec(spec: LocalServiceSpec): string[] {
    return validateSpec(spec, this.shared.options.raw);
  }

  cancelOperation(serviceId: string): boolean {
    return this.leading()?.engine.cancel(serviceId) ?? false;
  }

  inMaintenanceWindow(): boolean {
    return this.leading()?.maintenance.inMaintenanceWindow() ?? false;
  }

  // ---- reads ----

  listServices(from: number, size: number): Record<string, LocalServiceSummary> {
    return services.listServices(this.view(), from, size);
  }

  serviceSummary(serviceId: string): LocalServiceSummary | undefined {
    return services.serviceSummary(this.view(), serviceId);
  }

  serviceSpec(serviceId: string): LocalServiceSpec | undefined {
    return services.serviceSpec(this.view(), serviceId);
  }

  serviceInstances(serviceId: string, states?: readonly LocalServiceInstanceState[]): LocalServiceInstanceInfo[] {
    return services.serviceInstances(this.view(), serviceId, states, this.now(), this.shared.options.instanceStaleAgeMs);
  }

  serviceInstance(serviceId: string, instanceId: string): LocalServiceInstanceInfo | undefined {
    return this.view().workingSet.instance(serviceId, instanceId);
  }

  oldServiceInstances(serviceId: string): LocalServiceInstanceInfo[] {
    return services.oldServiceInstances(this.view(), serviceId);
  }

  // ---- cluster ----

  clusterSummary(): ClusterSummary {
    return cluster.clusterSummary(this.view(), this.leaderAddress());
  }

  dashboard(): DashboardData {
    return cluster.dashboard(this.view(), this.leaderAddress());
  }

  executorSummaries(): ExecutorSummary[] {
    return this.view().registry.summaries();
  }

  executorNodeData(executorId: string): ExecutorNodeData | undefined {
    return cluster.executorNodeData(this.view(), executorId);
  }

  async blacklist(executorIds: string[]): Promise<BlacklistOperationResponse> {
    return this.leadingOrRefuse().blacklisting.blacklist(executorIds);
  }

  async unblacklist(executorIds: string[]): Promise<BlacklistOperationResponse> {
    return this.leadingOrRefuse().blacklisting.unblacklist(executorIds);
  }

  async setMaintenance(on: boolean): Promise<ClusterStateData> {
    return this.leadingOrRefuse().maintenance.set(on);
  }

  fleet(query: FleetQuery): FleetPage {
    return fleet(this.view(), query);
  }

  search(text: string, limit: number): ConsoleSearchResult {
    return search(this.view(), text, limit);
  }

  /** Writes a follower must not make (the API's leader guard stops them first; this covers a term ending meanwhile). */
  private leadingOrRefuse(): LeaderTerm {
    const term = this.leading();
    if (!term) throw new NotLeaderError();
    return term;
  }

  // ---- monitoring ----

  metricsSnapshot(): ClusterMetricsSnapshot | undefined {
    const term = this.leading();
    return term && metricsSnapshot(term.view);
  }

  discoveryTargets(filter: DiscoveryFilter): PrometheusTargetGroup[] {
    return prometheusTargets(this.view(), filter, this.now(), this.shared.options.instanceStaleAgeMs);
  }

  // ---- events ----

  latestEvents(lastSyncTime: number, size: number): DroveEventsList {
    return this.shared.events.latest(lastSyncTime, size);
  }

  eventsSummary(lastSyncTime: number): DroveEventsSummary {
    return this.shared.events.summary(lastSyncTime);
  }

  onEvent(listener: (event: DroveEvent) => void): () => void {
    return this.shared.events.subscribe(listener);
  }

  eventFeed(): EventFeed {
    return this.shared.events;
  }

  // ---- internal APIs and executor messages ----

  reservedResources(): LocalServiceInstanceResources {
    return internal.reservedResources(this.view());
  }

  knownInstances(executorId: string, which: 'last' | 'current'): KnownInstancesData | undefined {
    return internal.knownInstances(this.view(), executorId, which);
  }

  async handleControllerMessage(message: ControllerMessage): Promise<MessageResponse> {
    const term = this.leading();
    if (!term) return reply(message, 'REJECTED', NOT_LEADER_MESSAGE);
    return term.intake.take(message);
  }

  instanceExecutorAddress(serviceId: string, instanceId: string): ExecutorAddress | undefined {
    return internal.instanceExecutorAddress(this.view(), serviceId, instanceId);
  }
}
