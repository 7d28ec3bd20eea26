/**
 * Batches writes of many keys into one store call. Keys requested within one window share a single `write`
 * call, and at most one batch is in flight: requests made meanwhile wait for the next batch. So a heartbeat
 * round from a thousand executors costs one transaction instead of a thousand (each an fsync under SQLite's
 * synchronous=FULL), a burst of requests for one key costs at most two writes, and writes of one key never
 * overtake each other (which matters for etcd, where two puts in flight may land in either order). The write
 * function reads the latest in-memory value of each key when it runs.
 */
export class BatchingWriter {
  private queued = new Set<string>();
  private next: Deferred | undefined;
  private inFlight: Promise<void> | undefined;
  private cancelScheduled: (() => void) | undefined;

  /**
   * @param write persists the current value of every key given, all or nothing as far as callers are told:
   *   its rejection rejects every request of the batch.
   * @param schedule calls `fn` once the window has passed; returns a cancel function.
   */
  constructor(
    private readonly write: (keys: readonly string[]) => Promise<void>,
    private readonly schedule: (fn: () => void) => () => void,
  ) {}

  /** Resolves once a write of `key` that started after this call has succeeded; rejects when it failed. */
  request(key: string): Promise<void> {
    this.queued.add(key);
    this.next ??= deferred();
    const promise = this.next.promise;
    this.scheduleNext();
    return promise;
  }

  /** Writes what is queued without waiting out the window; resolves when nothing is queued or in flight. */
  async flush(): Promise<void> {
    while (this.next || this.inFlight) {
      if (!this.inFlight) {
        this.cancelScheduled?.();
        this.cancelScheduled = undefined;
        this.startBatch();
      }
      await this.inFlight;
    }
  }

  private scheduleNext(): void {
    if (this.cancelScheduled || this.inFlight || !this.next) return;
    this.cancelScheduled = this.schedule(() => {
      this.cancelScheduled = undefined;
      this.startBatch();
    });
  }

  private startBatch(): void {
    const batch = this.next;
    if (!batch || this.inFlight) return;
    const keys = [...this.queued];
    this.queued = new Set();
    this.next = undefined;
    this.inFlight = (async () => {
      try {
        await this.write(keys);
        batch.resolve();
      } catch (error) {
        batch.reject(error);
      } finally {
        this.inFlight = undefined;
        this.scheduleNext();
      }
    })();
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // The caller may not await it; an unobserved rejection must not crash the process (the callers see it).
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
