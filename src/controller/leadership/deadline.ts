import type { Clock } from '../../model/index.js';

export class DeadlineExceededError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeadlineExceededError';
  }
}

/**
 * Settles as `work` does, unless `ms` pass first (rejects with DeadlineExceededError) or `signal` aborts (rejects
 * with its reason). A promise cannot be cancelled: `work` goes on, and its late answer or rejection is dropped
 * (handled, so it never surfaces as an unhandled rejection).
 */
export function within<T>(clock: Clock, work: Promise<T>, ms: number, what: string, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) {
      work.catch(() => undefined);
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      finish();
      reject(signal!.reason);
    };
    const cancelTimer = clock.setTimer(() => {
      finish();
      reject(new DeadlineExceededError(`${what} did not answer within ${ms} ms`));
    }, ms);
    const finish = () => {
      cancelTimer();
      signal?.removeEventListener('abort', onAbort);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        finish();
        resolve(value);
      },
      (error: unknown) => {
        finish();
        reject(error);
      },
    );
  });
}
