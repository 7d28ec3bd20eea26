/**
 * Coalesces writes per key: at most one write per key is in flight, and every request made while one is in
 * flight is answered by a single follow-up write. The write function reads the latest in-memory value when it
 * runs, so a burst of heartbeats from one executor costs at most two store writes, and writes of one key never
 * overtake each other (which matters for etcd, where two puts in flight may land in either order).
 */
export class CoalescingWriter {
  private readonly inFlight = new Map<string, { next?: Deferred }>();

  constructor(private readonly write: (key: string) => Promise<void>) {}

  request(key: string): Promise<void> {
    const entry = this.inFlight.get(key);
    if (!entry) {
      const fresh: { next?: Deferred } = {};
      this.inFlight.set(key, fresh);
      return this.run(key, fresh);
    }
    entry.next ??= deferred();
    return entry.next.promise;
  }

  /** Resolves when no write is in flight or queued (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) {
      await Promise.allSettled([...this.inFlight.values()].map((e) => e.next?.promise));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private async run(key: string, entry: { next?: Deferred }): Promise<void> {
    try {
      await this.write(key);
    } finally {
      const next = entry.next;
      entry.next = undefined;
      if (next) this.run(key, entry).then(next.resolve, next.reject);
      else this.inFlight.delete(key);
    }
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
  // The caller may not await it; an unobserved rejection must not crash the process (the first caller sees it).
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
