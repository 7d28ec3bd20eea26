import { durationMs, type LocalServiceSpec } from '../../../src/model/index.js';
import { checkTimeMs } from '../../../src/controller/engine/jobs/timeouts.js';
import { DEFAULT_ENGINE_TIMINGS } from '../../../src/controller/engine/deps.js';
import type { OpSpecChoice } from './schedule.js';
import { MAX_INSTANCES_PER_HOST } from './services.js';
import { SOAK_TIMINGS } from './timings.js';

/**
 * How long an operation may legitimately take, from its op spec and Drove's job rules (docs/design/operations.md#timeouts): the op timeout
 * bounds each wait of each job attempt, not the operation. So the bound of an operation is
 *   waves x attempts x (message window + one wait) + retry pauses, waves = ceil(jobs / parallelism),
 * where a message to an executor is re-sent for up to 30 s (plus one request timeout), a start waits for HEALTHY
 * `max(timeout, pull + T(health) + T(readiness))` and a stop for `timeout`. Past this an operation is stuck.
 */

/** Controller defaults the soak's controllers run with (see timings.ts); the job retry policy is Drove's. */
const JOB_ATTEMPTS = 3;
const JOB_RETRY_INTERVAL_MS = 1_000;
/** The controller's request timeout towards executors (executor-client.ts). */
const EXECUTOR_REQUEST_TIMEOUT_MS = 10_000;
const MESSAGE_MS = DEFAULT_ENGINE_TIMINGS.messageRetryWindowMs + EXECUTOR_REQUEST_TIMEOUT_MS + DEFAULT_ENGINE_TIMINGS.messageRetryIntervalMs;
/** Store writes of the record-only actions are bounded by the etcd call deadline (one lease TTL) and a retry. */
const RECORD_ACTION_MS = 30_000;
/** Room for a loaded machine on top of the computed worst case. */
const SLACK_MS = 30_000;

export type BoundedKind = 'ADJUST' | 'REPLACE' | 'STOP_INSTANCES' | 'RECORD';

export function operationBoundMs(kind: BoundedKind, spec: LocalServiceSpec, opSpec: OpSpecChoice | undefined, hosts: number): number {
  if (kind === 'RECORD') return RECORD_ACTION_MS + SLACK_MS;
  const timeoutMs = durationMs(opSpec?.timeout ?? SOAK_TIMINGS.controllerOptions.clusterOpTimeout);
  const parallelism = opSpec?.parallelism ?? SOAK_TIMINGS.controllerOptions.clusterOpParallelism;
  const pullMs = durationMs(spec.executable.dockerPullTimeout);
  const startWaitMs = Math.max(timeoutMs, pullMs + checkTimeMs(spec.healthcheck) + checkTimeMs(spec.readiness));
  const job = (waitMs: number) => JOB_ATTEMPTS * (MESSAGE_MS + waitMs) + (JOB_ATTEMPTS - 1) * JOB_RETRY_INTERVAL_MS;
  const jobs = hosts * MAX_INSTANCES_PER_HOST;
  const waves = Math.ceil(jobs / Math.max(1, parallelism));
  const perJob =
    kind === 'ADJUST' ? Math.max(job(startWaitMs), job(timeoutMs)) : kind === 'REPLACE' ? job(startWaitMs) + job(timeoutMs) : job(timeoutMs);
  return waves * perJob + SLACK_MS;
}

/**
 * After the last fault is healed and no new operation comes, how long the soak waits for every service to be
 * steady again. On a healthy cluster each job succeeds on its first attempt in a few seconds, so the largest
 * operation of the soak (9 replacements one at a time, ~10 s each) takes about 90 s; 4 minutes means stuck.
 */
export const SETTLE_AFTER_FAULTS_MS = 240_000;
