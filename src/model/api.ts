import type { ActivationState, ClusterState, ExecutorState, LocalServiceState } from './states.js';
import type { LocalServiceSpec } from './spec.js';
import type { CrashLoopSummary } from './crash-loop.js';

/** Response shapes of the controller's REST API (docs/design/api-compatibility.md#records-and-summaries). */

export interface ApiResponse<T> {
  status: 'SUCCESS' | 'FAILED';
  data?: T;
  message: string;
}

export function success<T>(data?: T): ApiResponse<T> {
  return data === undefined ? { status: 'SUCCESS', message: 'success' } : { status: 'SUCCESS', data, message: 'success' };
}

export function failure<T>(message: string, data?: T): ApiResponse<T> {
  return data === undefined ? { status: 'FAILED', message } : { status: 'FAILED', data, message };
}

/** The stored service record; the service's state is not part of it. */
export interface LocalServiceInfo {
  serviceId: string;
  spec: LocalServiceSpec;
  instancesPerHost: number;
  activationState: ActivationState;
  created: number;
  updated: number;
}

export interface LocalServiceSummary {
  id: string;
  name: string;
  instancesPerHost: number;
  healthyInstances: number;
  totalCPUs: number;
  totalMemory: number;
  tags: Record<string, string>;
  activationState: ActivationState;
  state?: LocalServiceState;
  created: number;
  updated: number;
  /**
   * drove-ts extension (docs/design/placement.md#tag-constraints): the instances the service should have cluster-wide, instancesPerHost on
   * every eligible executor its tag constraint admits (one when CONFIG_TESTING, none when INACTIVE). The key is
   * Drove's (its application summaries have it; its CLI's `describe localservice` reads it). Absent from Drove's
   * controllers.
   */
  requiredInstances?: number;
  /** drove-ts extension: executors where the service is in a crash loop (docs/design/crash-loop-backoff.md); absent when none. */
  crashLoops?: CrashLoopSummary[];
}

export interface ClusterSummary {
  leader: string;
  state: ClusterState;
  numExecutors: number;
  numApplications: number;
  numActiveApplications: number;
  numActiveTasks: number;
  numLocalServices: number;
  numActiveLocalServices: number;
  freeCores: number;
  usedCores: number;
  totalCores: number;
  freeMemory: number;
  usedMemory: number;
  totalMemory: number;
}

/** `GET /apis/v1/cluster/dashboard`. */
export interface DashboardData {
  serviceStats: {
    serviceCountByState: Record<LocalServiceState, number>;
    serviceCountByActivationState: Record<ActivationState, number>;
    topServices: LocalServiceSummary[];
    totalHealthyInstances: number;
  };
  clusterSummary: ClusterSummary;
}

export interface ExecutorSummary {
  executorId: string;
  hostname: string;
  port: number;
  transportType: 'HTTP' | 'HTTPS';
  freeCores: number;
  usedCores: number;
  freeMemory: number;
  usedMemory: number;
  tags: string[];
  state: ExecutorState;
}

export interface ClusterStateData {
  state: ClusterState;
  updated: number;
}

export interface BlacklistOperationResponse {
  successful: string[];
  failed: string[];
  approxCompletionTimeMs: number;
  message: string;
}

export const VALIDATION_FAILURE_MESSAGE = 'Command validation failure';
export const JSON_FAILURE_MESSAGE = 'JSON validation failure';
export const NOT_LEADER_MESSAGE = 'This node is not the leader controller';
export const MAINTENANCE_MESSAGE = 'Cluster is in maintenance mode';
