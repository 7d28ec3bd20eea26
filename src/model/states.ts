/** Service and instance states, as string unions with their sets (§3). */

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

/** States in which a service runner waits for the next operation. */
export const STEADY_SERVICE_STATES: ReadonlySet<LocalServiceState> = new Set(['ACTIVE', 'CONFIG_TESTING', 'INACTIVE']);

export function steadyStateOf(activation: ActivationState): LocalServiceState {
  return activation;
}

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

/** Instance states that hold (or are about to hold) resources; everything else is history (§3.3). */
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
 * States in which an instance's container may exist and run its code: its instance token is accepted only then
 * (a token copied from a stopped or lost instance is worthless). UNKNOWN is an executor re-adopting it.
 */
export const INSTANCE_TOKEN_STATES: ReadonlySet<LocalServiceInstanceState> = new Set([...INSTANCE_ACTIVE_STATES, 'UNKNOWN']);

export const INSTANCE_RUNNING_STATES: ReadonlySet<LocalServiceInstanceState> = new Set(['UNREADY', 'READY', 'HEALTHY']);

export const INSTANCE_TERMINAL_STATES: ReadonlySet<LocalServiceInstanceState> = new Set(['STOPPED', 'LOST']);

export const INSTANCE_ERROR_STATES: ReadonlySet<LocalServiceInstanceState> = new Set([
  'PROVISIONING_FAILED',
  'START_FAILED',
  'READINESS_CHECK_FAILED',
]);

/** Non-active states, as `/instances/old` lists them. */
export const INSTANCE_OLD_STATES: readonly LocalServiceInstanceState[] = LOCAL_SERVICE_INSTANCE_STATES.filter(
  (s) => !INSTANCE_ACTIVE_STATES.has(s),
);

export const EXECUTOR_STATES = ['ACTIVE', 'UNREADY', 'BLACKLIST_REQUESTED', 'BLACKLISTED', 'REMOVED'] as const;
export type ExecutorState = (typeof EXECUTOR_STATES)[number];

export const CLUSTER_STATES = ['NORMAL', 'MAINTENANCE'] as const;
export type ClusterState = (typeof CLUSTER_STATES)[number];
