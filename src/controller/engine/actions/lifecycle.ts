import type { ActivationState, LocalServiceInfo } from '../../../model/index.js';
import { mappedState, type ActionContext, type ServiceAction } from './context.js';
import { workingStateFor, SERVICE_TRANSITIONS } from '../state-machine.js';

/**
 * The actions that only change the service record (docs/design/operations.md#the-state-machine). None of them starts
 * or stops containers: the reconciler notices the changed desired state and submits ADJUST_INSTANCES.
 */

/** INIT: persist the record from the CREATE op; an existing record (recovery) is left untouched. */
export const createAction: ServiceAction = async (ctx) => {
  const existing = ctx.deps.workingSet.service(ctx.serviceId);
  if (existing) return mappedState(existing);
  const op = ctx.pending();
  if (op?.type !== 'CREATE') return 'DESTROYED';
  const now = ctx.deps.clock.now();
  const info: LocalServiceInfo = {
    serviceId: ctx.serviceId,
    spec: op.spec,
    instancesPerHost: op.instancesPerHost,
    activationState: 'INACTIVE',
    created: now,
    updated: now,
  };
  try {
    await ctx.deps.workingSet.putService(info);
    return 'INACTIVE';
  } catch (error) {
    ctx.deps.logger.error({ serviceId: ctx.serviceId, err: error }, 'Could not store new local service');
    return 'DESTROYED';
  }
};

/** Steady states: move to the working state of the pending operation. */
export const routingAction: ServiceAction = async (ctx) => {
  const self = ctx.deps.workingSet.service(ctx.serviceId);
  const current = mappedState(self);
  const op = ctx.pending();
  const target = op ? workingStateFor(op) : undefined;
  if (target && SERVICE_TRANSITIONS[current].next.includes(target)) return target;
  return current;
};

function setActivation(activation: ActivationState): ServiceAction {
  return (ctx) => updateRecord(ctx, (info) => ({ ...info, activationState: activation }));
}

export const activateAction = setActivation('ACTIVE');
export const configTestingAction = setActivation('CONFIG_TESTING');
export const deactivateAction = setActivation('INACTIVE');

export const updateCountAction: ServiceAction = (ctx) => {
  const op = ctx.pending();
  if (op?.type !== 'UPDATE_INSTANCE_COUNT') return Promise.resolve(mappedState(ctx.deps.workingSet.service(ctx.serviceId)));
  return updateRecord(ctx, (info) => ({ ...info, instancesPerHost: op.instancesPerHost }));
};

/** A failed write leaves the old record, so the state falls back to what it maps to. */
async function updateRecord(ctx: ActionContext, change: (info: LocalServiceInfo) => LocalServiceInfo) {
  const info = ctx.deps.workingSet.service(ctx.serviceId);
  if (!info) return 'DESTROYED' as const;
  try {
    await ctx.deps.workingSet.putService({ ...change(info), updated: ctx.deps.clock.now() });
  } catch (error) {
    ctx.deps.logger.error({ serviceId: ctx.serviceId, err: error }, 'Could not update local service record');
  }
  return mappedState(ctx.deps.workingSet.service(ctx.serviceId));
}

/** Waits for the DEACTIVATE the engine submits on entering emergency deactivation. */
export const emergencyDeactivationAction: ServiceAction = async (ctx) => {
  for (;;) {
    const op = ctx.pending();
    if (op?.type === 'DEACTIVATE') return 'DEACTIVATION_REQUESTED';
    if (ctx.signal.aborted) return 'EMERGENCY_DEACTIVATION_REQUESTED';
    await ctx.waitForOperation();
  }
};

export const destroyAction: ServiceAction = async () => 'DESTROYED';

