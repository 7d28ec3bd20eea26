/**
 * At most `limit` holders at once, refusing (not queueing) the next one: a caller beyond the bound gets an
 * immediate "busy" answer instead of waiting in a queue that an abusive client could make arbitrarily long.
 * Log reads on both the controller (its proxy) and the executor use it.
 */
export class ConcurrencyGate {
  private held = 0;

  constructor(readonly limit: number) {}

  get inUse(): number {
    return this.held;
  }

  /** A release function (idempotent) when a slot was free, undefined when all `limit` slots are held. */
  tryAcquire(): (() => void) | undefined {
    if (this.held >= this.limit) return undefined;
    this.held++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held--;
    };
  }
}
