import { durationMs, type CheckSpec, type ClusterOpSpec, type LocalServiceSpec } from '../../../model/index.js';
import type { ResolvedOptions } from '../../config.js';

/** Docker pull timeout when a spec does not say (Drove: 15 minutes). */
const DEFAULT_PULL_TIMEOUT_MS = 15 * 60_000;

export interface EffectiveOpSpec {
  timeoutMs: number;
  parallelism: number;
}

/** The op spec an operation runs with: its own, or the controller defaults (docs/design/operations.md#op-spec). */
export function effectiveOpSpec(opSpec: ClusterOpSpec | undefined, options: ResolvedOptions): EffectiveOpSpec {
  if (opSpec) return { timeoutMs: durationMs(opSpec.timeout), parallelism: Math.min(512, Math.max(1, opSpec.parallelism)) };
  return {
    timeoutMs: options.clusterOpTimeoutMs,
    parallelism: Math.min(512, Math.max(1, options.raw.clusterOpParallelism)),
  };
}

/** `initialDelay + attempts x (timeout + interval)` (docs/design/operations.md#timeouts). */
export function checkTimeMs(check: CheckSpec): number {
  return durationMs(check.initialDelay) + check.attempts * (durationMs(check.timeout) + durationMs(check.interval));
}

/** How long a start job waits for HEALTHY: `max(op timeout, pull + T(healthcheck) + T(readiness))`. */
export function startTimeoutMs(spec: LocalServiceSpec, opTimeoutMs: number): number {
  const pull = durationMs(spec.executable.dockerPullTimeout, DEFAULT_PULL_TIMEOUT_MS);
  return Math.max(opTimeoutMs, pull + checkTimeMs(spec.healthcheck) + checkTimeMs(spec.readiness));
}
