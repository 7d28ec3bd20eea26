import { sleep, type Clock } from '../../../model/index.js';
import type { EngineMetrics, JobKind } from '../../metrics/hooks.js';

export type Job = (signal: AbortSignal) => Promise<boolean>;

/**
 * Runs jobs with at most `parallelism` in flight. Once `signal` aborts, jobs not yet started are skipped
 * (counted as failed); running ones see the same signal and end cooperatively. Never rejects: a job that
 * throws counts as failed.
 */
export function runBatch(jobs: readonly Job[], parallelism: number, signal: AbortSignal): Promise<boolean[]> {
  return openBatch(jobs, parallelism, signal).done;
}

export interface OpenBatch {
  /**
   * Adds a job to the running batch (it runs as soon as a slot is free); false once `done` has settled, when the
   * job is not taken.
   */
  add(job: Job): boolean;
  /** Each job's result, in the order added, once every job added before it settles has ended. */
  readonly done: Promise<boolean[]>;
}

/** runBatch whose list may grow while it runs: an ADJUST takes the executors that join while it works. */
export function openBatch(jobs: readonly Job[], parallelism: number, signal: AbortSignal): OpenBatch {
  const queue = [...jobs];
  const results: boolean[] = [];
  const limit = Math.max(1, parallelism);
  let next = 0;
  let workers = 0;
  let settled = false;
  let finish!: (results: boolean[]) => void;
  const done = new Promise<boolean[]>((resolve) => (finish = resolve));
  const settle = () => {
    if (settled) return;
    settled = true;
    finish(results);
  };
  const worker = async () => {
    while (next < queue.length) {
      const index = next++;
      results[index] = false;
      if (signal.aborted) continue;
      try {
        results[index] = await queue[index]!(signal);
      } catch {
        // A job that throws stays counted as failed.
      }
    }
    if (--workers === 0) settle();
  };
  const spawn = () => {
    workers++;
    void worker();
  };
  for (let i = 0; i < Math.min(limit, queue.length); i++) spawn();
  if (queue.length === 0) settle();
  return {
    add(job) {
      if (settled) return false;
      queue.push(job);
      if (workers < limit) spawn();
      return true;
    },
    done,
  };
}

/** The job, measured as a `kind` job (metrics/hooks.ts): a false result is a failure unless `signal` aborted first. */
export function timedJob(deps: { metrics: EngineMetrics }, kind: JobKind, job: Job): Job {
  return async (signal) => {
    const done = deps.metrics.jobStarted(kind);
    let ok = false;
    try {
      ok = await job(signal);
      return ok;
    } finally {
      done(ok ? 'success' : signal.aborted ? 'aborted' : 'failure');
    }
  };
}

/**
 * Drove's job retry policy (docs/design/operations.md#retries): retry when an attempt returns false or throws, up to
 * `retries` more times, `intervalMs` apart, unless the batch was cancelled meanwhile or `giveUp` says a retry must
 * not be made now.
 */
export async function withRetries(
  attempt: (n: number) => Promise<boolean>,
  opts: {
    retries: number;
    intervalMs: number;
    clock: Clock;
    signal: AbortSignal;
    onError?: (e: unknown) => void;
    giveUp?: () => boolean;
  },
): Promise<boolean> {
  for (let n = 0; n <= opts.retries; n++) {
    if (opts.signal.aborted) return false;
    if (n > 0 && opts.giveUp?.()) return false;
    try {
      if (await attempt(n)) return true;
    } catch (error) {
      if (isAbort(error)) return false;
      opts.onError?.(error);
    }
    if (n < opts.retries) {
      try {
        await sleep(opts.clock, opts.intervalMs, opts.signal);
      } catch {
        return false;
      }
    }
  }
  return false;
}

/** Cancellation and leadership loss both abort with an `AbortError`; neither is a failure worth logging. */
export function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}
