import type { Clock } from './clock.js';
import { RunLifecycle, type RunState, type Runnable } from './lifecycle.js';

export interface PeriodicOptions {
  /** For errors about its lifecycle. */
  name: string;
  clock: Clock;
  intervalMs: number;
  /** The work; a rejection goes to `onError` and the schedule goes on. */
  run: () => unknown;
  onError?: (error: unknown) => void;
}

/**
 * Work done every `intervalMs` on the injected clock, the first time one interval after start(). Runs never
 * overlap: the next interval is counted from the end of a run, so slow work (a store write, a directory walk)
 * stretches the period instead of piling up. stop() cancels the timer and waits for a run in progress.
 */
export class Periodic implements Runnable {
  private readonly lifecycle: RunLifecycle;
  private cancelTimer: (() => void) | undefined;
  private current: Promise<void> = Promise.resolve();

  constructor(private readonly options: PeriodicOptions) {
    if (!(options.intervalMs > 0)) throw new Error(`${options.name}: the interval must be a positive number of ms`);
    this.lifecycle = new RunLifecycle(options.name);
  }

  get runState(): RunState {
    return this.lifecycle.state;
  }

  start(): void {
    this.lifecycle.start();
    this.schedule();
  }

  stop(): Promise<void> {
    return this.lifecycle.stop(async () => {
      this.cancelTimer?.();
      this.cancelTimer = undefined;
      await this.current;
    });
  }

  private schedule(): void {
    this.cancelTimer = this.options.clock.setTimer(() => {
      this.cancelTimer = undefined;
      this.current = (async () => {
        try {
          await this.options.run();
        } catch (error) {
          this.options.onError?.(error);
        }
      })().finally(() => {
        if (this.lifecycle.running) this.schedule();
      });
    }, this.options.intervalMs);
  }
}
