import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * prom-client's process and Node.js metrics (CPU, memory, open files, event-loop lag, heap, GC) in `registry`, minus
 * the three gauges named `..._total` (active handles, requests, resources): Prometheus reserves that suffix for
 * counters (`promtool check metrics` fails on them), and each is the sum of the per-type gauge without the suffix.
 */
export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
}

/** Seconds on a monotonic clock, for durations: wall-clock time can jump (NTP), and milliseconds are too coarse. */
export type MonotonicSeconds = () => number;

export const monotonicSeconds: MonotonicSeconds = () => performance.now() / 1000;
