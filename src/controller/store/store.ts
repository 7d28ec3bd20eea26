import type {
  ClusterStateData,
  CrashLoop,
  ExecutorNodeData,
  LocalServiceInfo,
  LocalServiceInstanceInfo,
} from '../../model/index.js';

/**
 * Durable state of the cluster. Only the leader writes; it keeps the working set in memory and writes through,
 * so reads never hit the store. Implementations: SQLite (embedded, one controller) and etcd (several
 * controllers). Every method either applies completely or not at all: a crash at any moment leaves the store
 * as it was before or after the call, never in between.
 */
export interface StateStore {
  /** Everything, to rebuild the working set and every service state machine on gaining leadership. */
  load(): Promise<StoredState>;

  putService(info: LocalServiceInfo): Promise<void>;
  /** Removes a service with all its instance records and crash loops, atomically. */
  deleteService(serviceId: string): Promise<void>;

  /** Upserts instance records in one transaction (reports arriving together are applied together). */
  putInstances(instances: readonly LocalServiceInstanceInfo[]): Promise<void>;
  deleteInstances(serviceId: string, instanceIds: readonly string[]): Promise<void>;

  putClusterState(state: ClusterStateData): Promise<void>;

  /** Upserts the crash loop of one (service, executor) (docs/design/crash-loop-backoff.md). */
  putCrashLoop(loop: CrashLoop): Promise<void>;
  /** Removes crash loops of a service: of the given executors, or all of them when none are given. */
  deleteCrashLoops(serviceId: string, executorIds?: readonly string[]): Promise<void>;

  /** Last node data of each executor, so a new leader knows the cluster before the next heartbeats. */
  putExecutor(record: StoredExecutor): Promise<void>;
  /** Upserts executor records in one transaction (a heartbeat round from every executor is one write). */
  putExecutors(records: readonly StoredExecutor[]): Promise<void>;
  deleteExecutor(executorId: string): Promise<void>;

  close(): Promise<void>;
}

export interface StoredState {
  services: LocalServiceInfo[];
  instances: LocalServiceInstanceInfo[];
  clusterState?: ClusterStateData;
  executors: StoredExecutor[];
  crashLoops: CrashLoop[];
}

export interface StoredExecutor {
  executorId: string;
  nodeData: ExecutorNodeData;
  /** When the executor was removed for staleness (kept as "last known" for recovery), if it was. */
  removedAt?: number;
}

/** Raised when the store cannot take a write (disk full, etcd quorum lost); the API answers it as a clear error. */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}
