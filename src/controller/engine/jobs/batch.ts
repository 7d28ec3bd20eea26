import { sleep, type Clock } from '../../../model/index.js';
import type { EngineMetrics, JobKind } from '../../metrics/hooks.js';

export type Job = (signal: AbortSignal) => Promise<boolean>;

/**
 * Runs jobs with at most `parallelism` in flight. Once `signal` aborts, jobs not yet started are skipped
 * (counted as failed); running ones see the same signal and end cooperatively. Never rejects: a job that
 * throws counts as failed.
 */
export async function runBatch(jobs: readonly Job[], parallelism: number, signal: AbortSignal): Promise<boolean[]> {
  const results = new Array<boolean>(jobs.length).fill(false);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const index = next++;
      if (signal.aborted) continue;
      try {
        results[index] = await jobs[index]!(signal);
      } catch {
        results[index] = false;
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(parallelism, jobs.length)) }, worker);
  await Promise.all(workers);
  return results;
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
