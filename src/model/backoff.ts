import { ExponentialBackoff, noJitterGenerator, type IBackoff } from 'cockatiel';

/**
 * Delays between attempts that double from `initialMs` up to `maxMs`, and start over after a success: how an
 * executor retries a leader that does not answer (heartbeats, instance reports). No jitter: each executor retries on
 * its own schedule already, and a leader coming back should hear from every executor within `maxMs`.
 */
export class RetryDelay {
  private readonly factory: ExponentialBackoff<unknown>;
  private current: IBackoff<unknown> | undefined;

  constructor(initialMs: number, maxMs: number) {
    this.factory = new ExponentialBackoff({ initialDelay: initialMs, maxDelay: maxMs, generator: noJitterGenerator });
  }

  /** The pause before the next attempt: `initialMs` after the first failure, twice the previous one after each further. */
  next(): number {
    this.current = this.current ? this.current.next(undefined) : this.factory.next();
    return this.current.duration;
  }

  /** The last attempt succeeded: the next failure waits `initialMs` again. */
  reset(): void {
    this.current = undefined;
  }
}
