/**
 * Components that run between a start and a stop share one small interface, controller-runtime's Runnable: the
 * controller's leader term starts its parts when leadership is gained and stops them when it is lost; the term
 * itself is one. A stopped component is discarded, never started again, so every one of them moves only
 * NEW -> RUNNING -> STOPPING -> STOPPED (or NEW -> STOPPED when it never ran).
 */
export type RunState = 'NEW' | 'RUNNING' | 'STOPPING' | 'STOPPED';

export interface Runnable {
  readonly runState: RunState;
  /** NEW -> RUNNING; anything else throws (a stopped component is replaced, not restarted). */
  start(): void;
  /** Ends the work and resolves once it has ended. Idempotent: a second call gets the first one's promise. */
  stop(): Promise<void>;
}

export class IllegalRunStateError extends Error {
  constructor(name: string, call: string, state: RunState) {
    super(`${name}: ${call}() called while ${state}`);
    this.name = 'IllegalRunStateError';
  }
}

/** The run state of one Runnable, with its moves checked; a component delegates start() and stop() to it. */
export class RunLifecycle {
  private current: RunState = 'NEW';
  private stopping: Promise<void> | undefined;

  constructor(private readonly name: string) {}

  get state(): RunState {
    return this.current;
  }

  get running(): boolean {
    return this.current === 'RUNNING';
  }

  start(): void {
    if (this.current !== 'NEW') throw new IllegalRunStateError(this.name, 'start', this.current);
    this.current = 'RUNNING';
  }

  /** Runs `work` as the one stop of this component (STOPPING until it settles, then STOPPED). */
  stop(work: () => Promise<void>): Promise<void> {
    this.stopping ??= (async () => {
      this.current = 'STOPPING';
      try {
        await work();
      } finally {
        this.current = 'STOPPED';
      }
    })();
    return this.stopping;
  }
}
