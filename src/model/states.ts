/**
 * Service, instance and executor states as string unions, and the ONE definition of every set of them that a
 * decision depends on. The controller and the executor both use these sets, so that what one side assumes
 * of the other (which states STOP is accepted in, which count as running) can never drift apart.
 */

export const ACTIVATION_STATES = ['ACTIVE', 'CONFIG_TESTING', 'INACTIVE'] as const;
export type ActivationState = (typeof ACTIVATION_STATES)[number];

export const LOCAL_SERVICE_STATES = [
  'INIT',
  'ACTIVATION_REQUESTED',
  'CONFIG_TESTING_REQUESTED',
  'DEACTIVATION_REQUESTED',
  'EMERGENCY_DEACTIVATION_REQUESTED',
  'INACTIVE',
  'ACTIVE',
  'CONFIG_TESTING',
  'ADJUSTING_INSTANCES',
  'DEPLOYING_TEST_INSTANCE',
  'REPLACING_INSTANCES',
  'STOPPING_INSTANCES',
  'UPDATING_INSTANCES_COUNT',
  'DESTROY_REQUESTED',
  'DESTROYED',
] as const;
export type LocalServiceState = (typeof LOCAL_SERVICE_STATES)[number];

/**
 * Steady states: a service runner waits in them for the next operation, the reconciler only plans for services in
 * them, and each is what a stored activation state maps to. Listed in activation order, so they double as the
 * `next` of every working state that ends in "back to steady".
 */
export const STEADY_SERVICE_STATES = ['ACTIVE', 'CONFIG_TESTING', 'INACTIVE'] as const satisfies readonly LocalServiceState[];
export type SteadyServiceState = (typeof STEADY_SERVICE_STATES)[number];

export function isSteady(state: LocalServiceState): state is SteadyServiceState {
  return (STEADY_SERVICE_STATES as readonly LocalServiceState[]).includes(state);
}

/** The steady state a stored record maps to: a service is in the state its activation names. */
export function steadyStateOf(activation: ActivationState): SteadyServiceState {
  return activation;
}

/** Services that run instances: ACTIVE on every eligible executor, CONFIG_TESTING one cluster-wide. */
export const RUNNING_SERVICE_STATES: ReadonlySet<LocalServiceState> = new Set(['ACTIVE', 'CONFIG_TESTING']);

export const LOCAL_SERVICE_INSTANCE_STATES = [
  'PENDING',
  'PROVISIONING',
  'PROVISIONING_FAILED',
  'STARTING',
  'START_FAILED',
  'UNREADY',
  'READINESS_CHECK_FAILED',
  'READY',
  'HEALTHY',
  'UNHEALTHY',
  'DEPROVISIONING',
  'STOPPING',
  'STOPPED',
  'LOST',
  'UNKNOWN',
] as const;
export type LocalServiceInstanceState = (typeof LOCAL_SERVICE_INSTANCE_STATES)[number];

/** Instance states that hold (or are about to hold) resources; everything else is history. */
export const INSTANCE_ACTIVE_STATES: ReadonlySet<LocalServiceInstanceState> = new Set([
  'PENDING',
  'PROVISIONING',
  'STARTING',
  'UNREADY',
  'READY',
  'HEALTHY',
  'UNHEALTHY',
  'DEPROVISIONING',
  'STOPPING',
]);

/**
 * States in which an instance's container may exist and run its code: the active ones and UNKNOWN (an executor
 * that restarted is re-adopting it). Its instance token is accepted only then (a token copied from a stopped or
 * lost instance is worthless), planning counts such records (a re-adopted container must not be started a second
 * time), and the staleness sweep marks them LOST when their executor stops reporting them.
 */
export const INSTANCE_LIVE_STATES: ReadonlySet<LocalServiceInstanceState> = new Set([...INSTANCE_ACTIVE_STATES, 'UNKNOWN']);

/**
 * On the way up: the instance counts towards the desired number but is not running yet (UNKNOWN: a restarted
 * executor re-adopting it, about to be running again).
 */
export const INSTANCE_STARTING_STATES: ReadonlySet<LocalServiceInstanceState> = new Set(['PENDING', 'PROVISIONING', 'STARTING', 'UNKNOWN']);

/** The container runs and its checks pass or are being run: what an instance that does its job is in. */
export const INSTANCE_RUNNING_STATES: ReadonlySet<LocalServiceInstanceState> = new Set(['UNREADY', 'READY', 'HEALTHY']);

/** Starting and running: what counts towards a service's desired number of instances (leaving ones do not). */
export const INSTANCE_COUNTED_STATES: ReadonlySet<LocalServiceInstanceState> = new Set([
  ...INSTANCE_STARTING_STATES,
  ...INSTANCE_RUNNING_STATES,
]);

/**
 * Where each instance state stands in the executor's state machine (docs/design/instance-lifecycle.md#the-state-machine):
 * every transition leads to a higher rank (test/unit/model/instance-state-rank.test.ts checks it against the
 * transition table), so of two records of one instance, the higher rank is the later one. Used only to order two
 * records stamped in the same millisecond, which the executor's clock cannot.
 */
export const INSTANCE_STATE_RANK: Readonly<Record<LocalServiceInstanceState, number>> = {
  PENDING: 0,
  UNKNOWN: 0,
  PROVISIONING: 1,
  STARTING: 2,
  PROVISIONING_FAILED: 2,
  UNREADY: 3,
  START_FAILED: 3,
  READY: 4,
  READINESS_CHECK_FAILED: 4,
  HEALTHY: 5,
  UNHEALTHY: 6,
  STOPPING: 7,
  DEPROVISIONING: 8,
  STOPPED: 9,
  LOST: 9,
};

/** A freshly started instance on its way to HEALTHY; a start that reaches any other state has failed. */
export const INSTANCE_PROGRESSING_STATES: ReadonlySet<LocalServiceInstanceState> = new Set([
  'PENDING',
  'PROVISIONING',
  'STARTING',
  'UNREADY',
  'READY',
]);

/**
 * States in which an executor accepts STOP_LOCAL_SERVICE_INSTANCE: every state before the instance is on its way
 * out. The instance's next action routes to STOPPING (a pull in progress is interrupted), so a start that failed
 * on the controller's side can be stopped at once, whatever its state.
 */
export const INSTANCE_STOP_ACCEPTED_STATES: ReadonlySet<LocalServiceInstanceState> = new Set([
  ...INSTANCE_STARTING_STATES,
  ...INSTANCE_RUNNING_STATES,
]);

/**
 * States an instance enters when it failed rather than because it was asked to stop: what the executor counts as
 * failures and what precedes a restart (docs/metrics.md#executor).
 */
export const INSTANCE_FAILED_STATES: ReadonlySet<LocalServiceInstanceState> = new Set([
  'PROVISIONING_FAILED',
  'START_FAILED',
  'READINESS_CHECK_FAILED',
  'UNHEALTHY',
  'LOST',
]);

export const INSTANCE_TERMINAL_STATES: ReadonlySet<LocalServiceInstanceState> = new Set(['STOPPED', 'LOST']);

export function isTerminal(state: LocalServiceInstanceState): state is 'STOPPED' | 'LOST' {
  return INSTANCE_TERMINAL_STATES.has(state);
}

export const EXECUTOR_STATES = ['ACTIVE', 'UNREADY', 'BLACKLIST_REQUESTED', 'BLACKLISTED', 'REMOVED'] as const;
export type ExecutorState = (typeof EXECUTOR_STATES)[number];

/**
 * Executors that receive local-service instances: UNREADY ones too, that is how they become ACTIVE.
 * The executor starts instances only in these states, the controller places them only there. For one service,
 * its tag constraint narrows them further: executorTakes (placement.ts).
 */
export const EXECUTOR_ELIGIBLE_STATES: ReadonlySet<ExecutorState> = new Set(['ACTIVE', 'UNREADY']);

/** Blacklisted, or asked to be: nothing new is placed there and running instances are stopped there by the reconciler. */
export const EXECUTOR_BLACKLISTED_STATES: ReadonlySet<ExecutorState> = new Set(['BLACKLISTED', 'BLACKLIST_REQUESTED']);

export const CLUSTER_STATES = ['NORMAL', 'MAINTENANCE'] as const;
export type ClusterState = (typeof CLUSTER_STATES)[number];
