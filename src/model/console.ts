import type { ExecutorState, LocalServiceInstanceState } from './states.js';
import type { ExecutorSummary } from './api.js';

/**
 * Wire shapes of the web console's own reads (`/apis/v1/console/...`, docs/console.md). Drove has no such routes;
 * its clients never call them. The console (ui/) imports these types, so both sides share one definition.
 */

/** `GET /apis/v1/console/whoami`: who the caller is and which controls the console shows them. */
export interface ConsoleWhoAmI {
  name: string;
  role: string;
  /** False when the controller has no user authentication (every caller is root): the console asks no login. */
  authEnabled: boolean;
  /** Operations on local services (`write`), executors and maintenance (`maintenance`), log files (`logs`). */
  permissions: { write: boolean; maintenance: boolean; logs: boolean };
  view: ConsoleViewOptions;
  version: string;
}

export const INSTALLATION_CRITICALITIES = ['LOCAL', 'DEVELOPMENT', 'INTEGRATION', 'PRODUCTION'] as const;
export type InstallationCriticality = (typeof INSTALLATION_CRITICALITIES)[number];

/** Drove's `view:` section of the controller config: the installation banner and custom links. */
export interface ConsoleViewOptions {
  installation: { label: string; criticality: InstallationCriticality };
  links: Record<string, string>;
}

export const FLEET_SORT_KEYS = ['hostname', 'executorId', 'state', 'freeCores', 'freeMemory', 'instances'] as const;
export type FleetSortKey = (typeof FLEET_SORT_KEYS)[number];

/** `GET /apis/v1/console/fleet` query: a page of executors, filtered and sorted by the controller. */
export interface FleetQuery {
  from: number;
  size: number;
  /** Case-insensitive substring of executor id, hostname or a tag. */
  text?: string;
  state?: ExecutorState;
  sort: FleetSortKey;
  order: 'asc' | 'desc';
  /** Only these services' columns (default: every service). */
  serviceIds?: string[];
  /** Progress counts a host done only when its healthy instances were created at or after this time (epoch ms). */
  since?: number;
}

/** How many instances of one service an executor holds, by state (only states with at least one). */
export type FleetCell = Partial<Record<LocalServiceInstanceState, number>>;

export interface FleetRow {
  executor: ExecutorSummary;
  /** Service id -> instance states on this executor; services with no instance there are absent. */
  cells: Record<string, FleetCell>;
  /** Active instances of every service on this executor. */
  instances: number;
}

/** Where one service's rollout stands, host by host (counted over every eligible executor, not one page). */
export interface FleetServiceProgress {
  serviceId: string;
  instancesPerHost: number;
  /** Executors that may run the service now (ACTIVE or UNREADY). */
  hosts: number;
  /** Hosts running exactly `instancesPerHost` HEALTHY instances (created at or after `since`, when given) and nothing moving. */
  done: number;
  /** Hosts with an instance starting or stopping. */
  moving: number;
  /** Hosts whose newest instance of the service failed to start. */
  failed: number;
}

export interface FleetPage {
  total: number;
  from: number;
  size: number;
  /** The grid's columns: service ids in id order. */
  services: string[];
  rows: FleetRow[];
  progress: FleetServiceProgress[];
}

export interface ConsoleSearchHit {
  kind: 'service' | 'executor' | 'instance';
  id: string;
  /** What the hit is, in a few words (service state, executor host, instance's service and state). */
  label: string;
  /** For instances: the service they belong to (the page address needs it). */
  serviceId?: string;
}

/** `GET /apis/v1/console/search?q=`: services, executors and instance ids containing the text. */
export interface ConsoleSearchResult {
  hits: ConsoleSearchHit[];
  /** True when more matched than were returned. */
  truncated: boolean;
}
