import { STEADY_SERVICE_STATES, type LocalServiceOperation, type LocalServiceState } from '../../model/index.js';

/**
 * The controller-side service state machine as data (docs/design/operations.md#the-state-machine). Each state names
 * the action bound to it and the states that action may lead to; the runner refuses any other outcome at runtime.
 */

export const SERVICE_ACTIONS = [
  'Create',
  'Routing',
  'Activate',
  'ConfigTesting',
  'Deactivate',
  'UpdateCount',
  'AdjustInstances',
  'ReplaceInstances',
  'StopInstances',
  'EmergencyDeactivation',
  'Destroy',
] as const;
export type ServiceActionName = (typeof SERVICE_ACTIONS)[number];

export interface Transition {
  /** Absent for states with nothing to run (DEPLOYING_TEST_INSTANCE is never entered; DESTROYED is terminal). */
  readonly action: ServiceActionName | undefined;
  readonly next: readonly LocalServiceState[];
}

const STEADY = STEADY_SERVICE_STATES;
const ROUTE_FROM_RUNNING: readonly LocalServiceState[] = [
  'ACTIVATION_REQUESTED',
  'DEACTIVATION_REQUESTED',
  'ADJUSTING_INSTANCES',
  'REPLACING_INSTANCES',
  'UPDATING_INSTANCES_COUNT',
  'STOPPING_INSTANCES',
  'DESTROY_REQUESTED',
  'DESTROYED',
];

export const SERVICE_TRANSITIONS: Readonly<Record<LocalServiceState, Transition>> = {
  INIT: { action: 'Create', next: [...STEADY, 'DESTROYED'] },
  ACTIVE: { action: 'Routing', next: ROUTE_FROM_RUNNING },
  CONFIG_TESTING: { action: 'Routing', next: ROUTE_FROM_RUNNING },
  INACTIVE: {
    action: 'Routing',
    next: [
      'INACTIVE',
      'ACTIVATION_REQUESTED',
      'CONFIG_TESTING_REQUESTED',
      'DEACTIVATION_REQUESTED',
      'DESTROY_REQUESTED',
      'ADJUSTING_INSTANCES',
      'REPLACING_INSTANCES',
      'UPDATING_INSTANCES_COUNT',
      'STOPPING_INSTANCES',
      'DESTROYED',
    ],
  },
  ACTIVATION_REQUESTED: { action: 'Activate', next: [...STEADY, 'DESTROYED'] },
  CONFIG_TESTING_REQUESTED: { action: 'ConfigTesting', next: [...STEADY, 'DESTROYED'] },
  DEACTIVATION_REQUESTED: { action: 'Deactivate', next: [...STEADY, 'DESTROYED'] },
  UPDATING_INSTANCES_COUNT: { action: 'UpdateCount', next: STEADY },
  ADJUSTING_INSTANCES: { action: 'AdjustInstances', next: [...STEADY, 'EMERGENCY_DEACTIVATION_REQUESTED'] },
  REPLACING_INSTANCES: {
    action: 'ReplaceInstances',
    next: ['REPLACING_INSTANCES', ...STEADY, 'EMERGENCY_DEACTIVATION_REQUESTED'],
  },
  STOPPING_INSTANCES: { action: 'StopInstances', next: ['REPLACING_INSTANCES', ...STEADY] },
  EMERGENCY_DEACTIVATION_REQUESTED: {
    action: 'EmergencyDeactivation',
    next: ['DEACTIVATION_REQUESTED', 'EMERGENCY_DEACTIVATION_REQUESTED'],
  },
  DESTROY_REQUESTED: { action: 'Destroy', next: ['DESTROYED'] },
  DEPLOYING_TEST_INSTANCE: { action: undefined, next: [] },
  DESTROYED: { action: undefined, next: [] },
};

export class IllegalTransitionError extends Error {
  constructor(from: LocalServiceState, to: LocalServiceState) {
    super(`Illegal local service transition ${from} -> ${to}`);
    this.name = 'IllegalTransitionError';
  }
}

export function isAllowedTransition(from: LocalServiceState, to: LocalServiceState): boolean {
  return SERVICE_TRANSITIONS[from].next.includes(to);
}

/** The working state an operation moves a steady service into (the Routing action). */
export function workingStateFor(op: LocalServiceOperation): LocalServiceState | undefined {
  switch (op.type) {
    case 'ACTIVATE':
      return 'ACTIVATION_REQUESTED';
    case 'DEPLOY_TEST_INSTANCE':
      return 'CONFIG_TESTING_REQUESTED';
    case 'DEACTIVATE':
      return 'DEACTIVATION_REQUESTED';
    case 'DESTROY':
      return 'DESTROY_REQUESTED';
    case 'ADJUST_INSTANCES':
      return 'ADJUSTING_INSTANCES';
    case 'REPLACE_INSTANCES':
    case 'RESTART':
      return 'REPLACING_INSTANCES';
    case 'STOP_INSTANCES':
      return 'STOPPING_INSTANCES';
    case 'UPDATE_INSTANCE_COUNT':
      return 'UPDATING_INSTANCES_COUNT';
    case 'CREATE':
      return undefined;
  }
}

/**
 * Operation types the command validator accepts per state; every working state accepts nothing
 * (docs/design/operations.md#allowed-operations-per-state).
 */
export const ALLOWED_OPERATIONS: Readonly<Partial<Record<LocalServiceState, readonly LocalServiceOperation['type'][]>>> = {
  INACTIVE: ['ACTIVATE', 'DEPLOY_TEST_INSTANCE', 'ADJUST_INSTANCES', 'DESTROY', 'UPDATE_INSTANCE_COUNT'],
  CONFIG_TESTING: ['ACTIVATE', 'DEACTIVATE', 'ADJUST_INSTANCES', 'REPLACE_INSTANCES', 'RESTART', 'STOP_INSTANCES'],
  ACTIVE: ['DEACTIVATE', 'UPDATE_INSTANCE_COUNT', 'ADJUST_INSTANCES', 'REPLACE_INSTANCES', 'RESTART', 'STOP_INSTANCES'],
  EMERGENCY_DEACTIVATION_REQUESTED: ['DEACTIVATE'],
};
