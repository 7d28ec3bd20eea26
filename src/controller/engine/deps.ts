import type { Logger } from 'pino';
import type { Clock } from '../../model/index.js';
import { DEFAULT_CONFIG_FETCH_TIMEOUT_MS, MAX_CONFIG_FETCH_BYTES } from '../../model/http-config-fetch.js';
import type { ResolvedOptions } from '../config.js';
import type { WorkingSet } from '../term/working-set.js';
import type { ExecutorMessenger } from '../cluster/messenger.js';
import type { Scheduler } from '../cluster/scheduler.js';
import type { EngineMetrics } from '../metrics/hooks.js';
import type { CrashLoopGate, EventSink, ExecutorDirectory } from './ports.js';

/** Engine constants that are not operator options; overridable for tests and the benchmark. */
export interface EngineTimings {
  /** Drove re-sends a controller -> executor message every 1 s while the executor does not answer ACCEPTED... */
  messageRetryIntervalMs: number;
  /** ...for up to 30 s (an executor busy pulling or restarting answers within that). */
  messageRetryWindowMs: number;
  /** CONTROLLER_HTTP_FETCH timeouts a spec does not set: a config server slower fails the start attempt (it is retried). */
  configFetchTimeoutMs: number;
  /** Largest config body the controller inlines. */
  configFetchMaxBytes: number;
}

export const DEFAULT_ENGINE_TIMINGS: EngineTimings = {
  messageRetryIntervalMs: 1_000,
  messageRetryWindowMs: 30_000,
  configFetchTimeoutMs: DEFAULT_CONFIG_FETCH_TIMEOUT_MS,
  configFetchMaxBytes: MAX_CONFIG_FETCH_BYTES,
};

/** Everything actions and jobs use; one object so a runner can hand it down unchanged. */
export interface EngineDeps {
  options: ResolvedOptions;
  timings: EngineTimings;
  clock: Clock;
  logger: Logger;
  workingSet: WorkingSet;
  executors: ExecutorDirectory;
  scheduler: Pick<Scheduler, 'openSession'>;
  messenger: ExecutorMessenger;
  events: EventSink;
  /** Crash-loop backoff per (service, executor): what starts wait for and where failures are counted. */
  crashLoops: CrashLoopGate;
  /** Signs the instance tokens given to containers. */
  instanceAuthSecret: string;
  /** How long each token is valid (its `exp`). */
  instanceTokenLifetimeMs: number;
  /** Sent as `NodeId` and in message headers. */
  controllerHostname: string;
  /** Operation and job durations (metrics/hooks.ts); NO_METRICS measures nothing. */
  metrics: EngineMetrics;
}
