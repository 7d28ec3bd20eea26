import { isTerminal, type LocalServiceInstanceState } from '../../model/states.js';

/**
 * The executor instance state machine as data: which action runs in each state, and where it may lead
 * (docs/design/instance-lifecycle.md#the-state-machine).
 */

export type InstanceAction =
  | 'SpecValidator'
  | 'ExecutableFetch'
  | 'Run'
  | 'Recovery'
  | 'ReadinessCheck'
  | 'SingularHealthCheck'
  | 'Healthcheck'
  | 'Stop'
  | 'Destroy'
  | 'ExecutableCleanup';

export type NonTerminalInstanceState = Exclude<LocalServiceInstanceState, 'STOPPED' | 'LOST'>;

export const INSTANCE_TRANSITIONS: Readonly<
  Record<NonTerminalInstanceState, { action: InstanceAction; next: readonly LocalServiceInstanceState[] }>
> = {
  PENDING: { action: 'SpecValidator', next: ['PROVISIONING', 'STOPPING'] },
  PROVISIONING: { action: 'ExecutableFetch', next: ['STARTING', 'PROVISIONING_FAILED'] },
  STARTING: { action: 'Run', next: ['UNREADY', 'START_FAILED'] },
  UNKNOWN: { action: 'Recovery', next: ['UNREADY', 'STOPPED'] },
  UNREADY: { action: 'ReadinessCheck', next: ['READY', 'READINESS_CHECK_FAILED', 'STOPPING'] },
  READY: { action: 'SingularHealthCheck', next: ['HEALTHY', 'STOPPING'] },
  HEALTHY: { action: 'Healthcheck', next: ['UNHEALTHY', 'STOPPING'] },
  STOPPING: { action: 'Stop', next: ['DEPROVISIONING'] },
  UNHEALTHY: { action: 'Stop', next: ['DEPROVISIONING'] },
  READINESS_CHECK_FAILED: { action: 'Stop', next: ['DEPROVISIONING'] },
  PROVISIONING_FAILED: { action: 'Destroy', next: ['DEPROVISIONING'] },
  START_FAILED: { action: 'Destroy', next: ['DEPROVISIONING'] },
  DEPROVISIONING: { action: 'ExecutableCleanup', next: ['STOPPED'] },
};

export function canTransition(from: LocalServiceInstanceState, to: LocalServiceInstanceState): boolean {
  if (isTerminal(from)) return false;
  return INSTANCE_TRANSITIONS[from].next.includes(to);
}
