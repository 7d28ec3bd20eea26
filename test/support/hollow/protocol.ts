import type { ExecutorConfigInput } from '../../../src/executor/config.js';

/**
 * What the fleet (fleet.ts, the parent) and its worker processes (worker.ts) say to each other over the fork IPC
 * channel. Everything is plain JSON: node's default IPC serialization.
 */

/** Executor config fields the fleet sets for every hollow executor; server, logDir and dataDir are the worker's. */
export type HollowExecutorConfig = Omit<Partial<ExecutorConfigInput>, 'server' | 'controllers' | 'logDir' | 'dataDir'>;

/** Sent once, first: how this worker builds its executors. */
export interface WorkerSetup {
  controllerUrls: string[];
  executorConfig: HollowExecutorConfig;
  startLatencyMs: number;
  startJitterMs: number;
  failStartRatio: number;
  healthy: boolean;
  /** Where the worker puts each executor's logDir and dataDir. */
  baseDir: string;
  /** pino level of the executors' shared logger. */
  logLevel: string;
  /** startExecutor calls in flight at once within the worker. */
  startConcurrency: number;
  /** The k-th of n executors of one start command starts no earlier than k/n of this after the command came. */
  startSpreadMs: number;
}

export type WorkerCommand =
  | { cmd: 'setup'; setup: WorkerSetup }
  | { cmd: 'start'; hosts: HollowHost[] }
  | { cmd: 'ready' }
  | { cmd: 'kill'; executorIds: string[] }
  | { cmd: 'times' }
  | { cmd: 'stages'; since: number }
  | { cmd: 'usage' }
  /** Starts the V8 CPU profiler of the worker's process (one phase of a run). */
  | { cmd: 'profile-start' }
  /** Stops it and writes the .cpuprofile to `path`. */
  | { cmd: 'profile-stop'; path: string }
  | { cmd: 'stop' };

/**
 * One simulated host: its own loopback address (all of 127.0.0.0/8 reaches this machine on Linux), which is its
 * hostname, so the controller reaches every executor as it would a real host; its fleet name is a tag.
 */
export interface HollowHost {
  address: string;
  name: string;
}

export interface StartedExecutor {
  name: string;
  address: string;
  executorId: string;
  /** Epoch ms: startExecutor resolved, i.e. its agent had just scheduled the first heartbeat (timer of 0 ms). */
  joinedAt: number;
}

export interface ExecutorTimes {
  executorId: string;
  joinedAt: number;
  /** Epoch ms the executor took its first START_LOCAL_SERVICE_INSTANCE (its engine's first PENDING instance). */
  firstStartAt?: number;
}

export interface WorkerUsage {
  rssBytes: number;
  heapUsedBytes: number;
  cpuSeconds: number;
  executors: number;
  /**
   * Event-loop delay since the previous `usage` command (perf_hooks.monitorEventLoopDelay), ms: how late the
   * worker's timers and sockets were served, which every executor in it feels the same.
   */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

/**
 * How long the executors of a worker took over each step of their instances' starts (docs/hollow.md#start-stages),
 * ms, one entry per instance that became HEALTHY, for the instances whose START was accepted (PENDING) at or after
 * the command's `since` (epoch ms).
 */
export interface StartStages {
  /** PENDING -> STARTING: the START taken, the (instant) pull done. */
  pendingToStarting: number[];
  /** STARTING -> UNREADY: the simulated container create and start. */
  startingToUnready: number[];
  /** UNREADY -> HEALTHY: readiness and the first health check. */
  unreadyToHealthy: number[];
}

export interface WorkerResults {
  setup: null;
  start: StartedExecutor[];
  ready: null;
  kill: null;
  times: ExecutorTimes[];
  stages: StartStages;
  usage: WorkerUsage;
  'profile-start': null;
  'profile-stop': string;
  stop: null;
}

export type WorkerRequest = WorkerCommand & { id: number };
export type WorkerReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
