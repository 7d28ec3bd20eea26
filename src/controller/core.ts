import {
  NOT_LEADER_MESSAGE,
  type BlacklistOperationResponse,
  type ClusterStateData,
  type ClusterSummary,
  type ControllerMessage,
  type DroveEventsList,
  type DroveEventsSummary,
  type DroveEvent,
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
  type DashboardData,
} from '../model/index.js';
import type { EventFeed } from './events.js';
import type { DiscoveryFilter, PrometheusTargetGroup } from './queries/discovery.js';
import type { ClusterMetricsSnapshot } from './queries/metrics.js';

/**
 * The seam between the HTTP API (src/controller/api) and the controller's core (engine, reconciler, cluster,
 * store, events). The API only authenticates, parses and maps results to Drove's envelopes; every decision is
 * made behind this interface. Reads are served from the leader's in-memory working set.
 */
export interface ControllerCore {
  // ---- leadership ----
  isLeader(): boolean;
  /** `host:port` of the current leader, if known (used for the non-leader 400 and UI redirects). */
  leaderAddress(): string | undefined;

  // ---- local-service operations ----
  /**
   * Validates (schema already done by the API) and hands the op to the service's runner; `origin.requestId` goes
   * with every executor message the operation causes (docs/request-ids.md).
   */
  submitOperation(op: LocalServiceOperation, origin?: OperationOrigin): Promise<OperationResult>;
  /** Semantic spec validation (docs/design/operations.md#spec-validation); `[]` when valid. */
  validateSpec(spec: LocalServiceSpec): string[];
  /** true when a cancellable operation (adjust / replace / restart) was running and is being cancelled. */
  cancelOperation(serviceId: string): boolean;
  /**
   * True while the cluster is in maintenance or within the grace window after a change
   * (docs/design/reconciliation.md#maintenance-window).
   */
  inMaintenanceWindow(): boolean;

  // ---- local-service reads ----
  listServices(from: number, size: number): Record<string, LocalServiceSummary>;
  serviceSummary(serviceId: string): LocalServiceSummary | undefined;
  /** Masked copy (docs/design/api-compatibility.md#spec-masking). */
  serviceSpec(serviceId: string): LocalServiceSpec | undefined;
  /** Active, non-stale records filtered by `states` (default: all active states). */
  serviceInstances(serviceId: string, states?: readonly LocalServiceInstanceState[]): LocalServiceInstanceInfo[];
  serviceInstance(serviceId: string, instanceId: string): LocalServiceInstanceInfo | undefined;
  oldServiceInstances(serviceId: string): LocalServiceInstanceInfo[];

  // ---- cluster ----
  clusterSummary(): ClusterSummary;
  dashboard(): DashboardData;
  executorSummaries(): ExecutorSummary[];
  executorNodeData(executorId: string): ExecutorNodeData | undefined;
  blacklist(executorIds: string[]): Promise<BlacklistOperationResponse>;
  unblacklist(executorIds: string[]): Promise<BlacklistOperationResponse>;
  setMaintenance(on: boolean): Promise<ClusterStateData>;

  // ---- the web console's reads (docs/console.md) ----
  /** A page of executors with the instance states of every service on each, and each service's rollout progress. */
  fleet(query: FleetQuery): FleetPage;
  /** Services, executors and instance ids containing `text`, at most `limit` of each kind. */
  search(text: string, limit: number): ConsoleSearchResult;
  // ---- monitoring (docs/metrics.md) ----
  /** The cluster's state for `/metrics`, read at scrape time; undefined on a controller that does not lead. */
  metricsSnapshot(): ClusterMetricsSnapshot | undefined;
  /** Healthy instances as Prometheus `http_sd_configs` target groups. */
  discoveryTargets(filter: DiscoveryFilter): PrometheusTargetGroup[];

  // ---- events ----
  latestEvents(lastSyncTime: number, size: number): DroveEventsList;
  eventsSummary(lastSyncTime: number): DroveEventsSummary;
  /** Subscribe to new events as they are emitted (for streaming UIs and tests); returns an unsubscribe. */
  onEvent(listener: (event: DroveEvent) => void): () => void;
  /** The event log as the event stream reads it (api/event-stream.ts). */
  eventFeed(): EventFeed;

  // ---- internal cluster APIs and executor messages (docs/design/executor-protocol.md) ----
  reservedResources(): LocalServiceInstanceResources;
  knownInstances(executorId: string, which: 'last' | 'current'): KnownInstancesData | undefined;
  handleControllerMessage(message: ControllerMessage): Promise<MessageResponse>;
  /** Where an instance's executor listens, for the log-file proxy. */
  instanceExecutorAddress(serviceId: string, instanceId: string): ExecutorAddress | undefined;
}

/**
 * A call that only the leader may answer reached a controller that does not lead (any more); the API answers it
 * as its leader guard does.
 */
export class NotLeaderError extends Error {
  constructor() {
    super(NOT_LEADER_MESSAGE);
    this.name = 'NotLeaderError';
  }
}

/** Who asked for an operation: the API request it came in with (absent for the controller's own operations). */
export interface OperationOrigin {
  requestId?: string;
}

export type OperationResult = { ok: true; serviceId: string } | { ok: false; errors: string[] };

/** The dashboard's shape is a wire type (src/model/api.ts): the web console reads it too. */
export type { DashboardData } from '../model/index.js';
