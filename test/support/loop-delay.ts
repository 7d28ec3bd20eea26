import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/**
 * How late this process served its timers and sockets (perf_hooks.monitorEventLoopDelay), for the processes of
 * bench:scale (the controller's, each hollow worker's and the bench's own): every `take()` answers for the time
 * since the previous one.
 */
export class LoopDelayMeter {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });

  constructor() {
    this.histogram.enable();
  }

  /** p99 and max since the previous take (or the start), ms; the histogram counts in ns. */
  take(): { p99Ms: number; maxMs: number } {
    const figures = { p99Ms: this.histogram.percentile(99) / 1e6, maxMs: this.histogram.max / 1e6 };
    this.histogram.reset();
    return figures;
  }

  /** Stops measuring (a meter made for one phase of a longer-lived process). */
  close(): void {
    this.histogram.disable();
  }
}
