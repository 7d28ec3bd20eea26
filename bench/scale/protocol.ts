/** What the bench (controller.ts) and the controller's process (controller-process.ts) say over the fork IPC channel. */

export type ControllerRequest =
  | { id: number; cmd: 'start'; config: unknown }
  /** `openFds: false` leaves out the open-file count (a readdir of /proc/self/fd, 10,000 entries at 5,000 executors). */
  | { id: number; cmd: 'usage'; openFds: boolean }
  /** Starts the V8 CPU profiler (one phase of the run). */
  | { id: number; cmd: 'profile-start' }
  /** Stops it and writes the .cpuprofile to `path`. */
  | { id: number; cmd: 'profile-stop'; path: string }
  | { id: number; cmd: 'stop' };

export type ControllerReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export interface ControllerUsage {
  rssBytes: number;
  heapUsedBytes: number;
  cpuSeconds: number;
  /** Open file descriptors (a connection each, mostly) and the soft limit: at scale the limit is what breaks first. */
  openFds?: number;
  fdLimit?: number;
  /** Event-loop delay since the previous usage request, ms (perf_hooks.monitorEventLoopDelay). */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

export interface ControllerStarted {
  url: string;
  pid: number;
}
