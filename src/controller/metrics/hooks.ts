import type { LocalServiceOperationType } from '../../model/index.js';

/**
 * What the controller's parts report to its metrics (metrics.ts implements it; docs/metrics.md#outcomes says what
 * each outcome means). Each hook starts a measurement and hands back the function that ends it with an outcome: the
 * parts never read a timer themselves, and without metrics (NO_METRICS) nothing is measured at all.
 */

/**
 * How an operation ended: `completed` (its action ran to its end: job failures are counted by the job metric),
 * `cancelled` (the operator cancelled it), `failed` (its action threw or reached a state it may not), `ignored`
 * (nothing to do in the service's state), `aborted` (leadership was lost or the controller stopped meanwhile).
 */
export const OPERATION_OUTCOMES = ['completed', 'cancelled', 'failed', 'ignored', 'aborted'] as const;
export type OperationOutcome = (typeof OPERATION_OUTCOMES)[number];

export const JOB_KINDS = ['start', 'stop'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** `success`: HEALTHY (start) or STOPPED (stop) within its retries; `aborted`: cancelled or leadership lost. */
export const JOB_OUTCOMES = ['success', 'failure', 'aborted'] as const;
export type JobOutcome = (typeof JOB_OUTCOMES)[number];

/** `skipped`: in the maintenance window or in disruption mode (most executors silent at once); `failed`: the pass threw (logged). */
export const PASS_RESULTS = ['completed', 'skipped', 'failed'] as const;
export type PassResult = (typeof PASS_RESULTS)[number];

export interface EngineMetrics {
  /** From the moment an operation is accepted into its service's slot until the slot is free again. */
  operationStarted(type: LocalServiceOperationType): (outcome: OperationOutcome) => void;
  /** One start or stop job, its retries included. */
  jobStarted(kind: JobKind): (outcome: JobOutcome) => void;
}

export interface ReconcilerMetrics {
  /** One reconciliation pass; `adjustments` is the number of ADJUST_INSTANCES it submitted (plans to execute). */
  passStarted(): (result: PassResult, adjustments: number) => void;
}

export interface LeadershipMetrics {
  /** This controller began a leader term. */
  leadershipAcquired(): void;
  /** This controller's leader term ended (it stepped down, lost its lease or stopped). */
  leadershipLost(): void;
}

export interface ControllerMetricsHooks extends EngineMetrics, ReconcilerMetrics, LeadershipMetrics {}

const ignore = () => undefined;

/** Measures nothing: for controllers embedded without metrics (unit tests, the bench's baseline). */
export const NO_METRICS: ControllerMetricsHooks = {
  operationStarted: () => ignore,
  jobStarted: () => ignore,
  passStarted: () => ignore,
  leadershipAcquired: ignore,
  leadershipLost: ignore,
};
