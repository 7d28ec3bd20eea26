import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { isSteady, type LocalServiceOperation, type LocalServiceState } from '../../model/index.js';
import type { OperationOutcome } from '../metrics/hooks.js';
import type { EngineDeps } from './deps.js';
import { mappedState, type ActionContext, type ServiceAction } from './actions/context.js';
import {
  activateAction,
  configTestingAction,
  createAction,
  deactivateAction,
  destroyAction,
  emergencyDeactivationAction,
  routingAction,
  updateCountAction,
} from './actions/lifecycle.js';
import { adjustAction, OperationCancelledError, replaceAction, stopInstancesAction } from './actions/instances.js';
import { IllegalTransitionError, isAllowedTransition, SERVICE_TRANSITIONS, type ServiceActionName } from './state-machine.js';

const ACTIONS: Record<ServiceActionName, ServiceAction> = {
  Create: createAction,
  Routing: routingAction,
  Activate: activateAction,
  ConfigTesting: configTestingAction,
  Deactivate: deactivateAction,
  UpdateCount: updateCountAction,
  AdjustInstances: adjustAction,
  ReplaceInstances: replaceAction,
  StopInstances: stopInstancesAction,
  EmergencyDeactivation: emergencyDeactivationAction,
  Destroy: destroyAction,
};

/**
 * Every action consumes the operation in the slot when it finishes, success or failure, except Routing (it
 * only looks at the operation to pick the working state) and EmergencyDeactivation (it leaves the DEACTIVATE for
 * the Deactivate action).
 */
const NON_CONSUMING: ReadonlySet<ServiceActionName> = new Set(['Routing', 'EmergencyDeactivation']);

/** Only these implement cancel (docs/design/operations.md#cancellation). */
const CANCELLABLE: ReadonlySet<ServiceActionName> = new Set(['AdjustInstances', 'ReplaceInstances']);

export interface RunnerHooks {
  /**
   * Called synchronously on every transition, after `state` is updated; `finished` is the operation the action
   * just consumed, with the request id it was submitted under.
   */
  onTransition(runner: ServiceRunner, from: LocalServiceState, to: LocalServiceState, finished: SlotEntry | undefined): void;
}

/** An operation in the slot and the request it came with (docs/request-ids.md). */
export interface SlotEntry {
  op: LocalServiceOperation;
  requestId: string;
}

/**
 * One local service's state machine on the leader: a loop that runs the action bound to the current state,
 * checks the outcome against the transition table, and waits in steady states for the next operation. Exactly
 * one operation slot; a second operation while one is pending is refused, never dropped
 * (docs/design/operations.md#one-operation-at-a-time).
 */
export class ServiceRunner {
  private current: LocalServiceState;
  private slot: SlotEntry | undefined;
  /** Ends the measurement of the operation in the slot (metrics). */
  private slotTimer: ((outcome: OperationOutcome) => void) | undefined;
  private wakeUp: (() => void) | undefined;
  private actionName: ServiceActionName | undefined;
  private actionAbort: AbortController | undefined;
  private readonly lifetime = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly log: Logger;

  constructor(
    readonly serviceId: string,
    initial: LocalServiceState,
    private readonly deps: EngineDeps,
    private readonly hooks: RunnerHooks,
    private readonly background: (work: (signal: AbortSignal) => Promise<unknown>) => void,
  ) {
    this.current = initial;
    this.log = deps.logger.child({ serviceId });
  }

  get state(): LocalServiceState {
    return this.current;
  }

  get stopped(): boolean {
    return this.lifetime.signal.aborted;
  }

  hasPendingOperation(): boolean {
    return this.slot !== undefined;
  }

  /** The operation waiting in the slot (or being run by the current action), if any. */
  pendingOperation(): LocalServiceOperation | undefined {
    return this.slot?.op;
  }

  start(): void {
    this.loop ??= this.run().catch((error: unknown) => this.log.error({ err: error }, 'Service runner crashed'));
  }

  /** Records an operation in the slot; false when one is already waiting. */
  offer(op: LocalServiceOperation, requestId: string): boolean {
    if (this.slot !== undefined || this.stopped) return false;
    this.slot = { op, requestId };
    this.slotTimer = this.deps.metrics.operationStarted(op.type);
    this.wake();
    return true;
  }

  /** Cancels a running adjust / replace; false when nothing cancellable runs. */
  cancel(): boolean {
    if (!this.actionName || !CANCELLABLE.has(this.actionName) || !this.actionAbort || this.actionAbort.signal.aborted) {
      return false;
    }
    this.log.info({ action: this.actionName }, 'Cancelling current operation');
    this.actionAbort.abort(new OperationCancelledError());
    return true;
  }

  /** Stops the loop (leadership lost, shutdown); running jobs are aborted. */
  async stop(): Promise<void> {
    this.lifetime.abort(stoppedError('Service runner stopped'));
    this.actionAbort?.abort(this.lifetime.signal.reason);
    this.wake();
    await this.loop;
    this.freeSlot('aborted');
  }

  /** Empties the slot, ending the operation's measurement with `outcome`. */
  private freeSlot(outcome: OperationOutcome): void {
    this.slot = undefined;
    const timer = this.slotTimer;
    this.slotTimer = undefined;
    timer?.(outcome);
  }

  private wake(): void {
    const wake = this.wakeUp;
    this.wakeUp = undefined;
    wake?.();
  }

  private waitForWake(): Promise<void> {
    return new Promise((resolve) => {
      const previous = this.wakeUp;
      this.wakeUp = () => {
        previous?.();
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const state = this.current;
      const action = SERVICE_TRANSITIONS[state].action;
      if (!action) return;
      if (isSteady(state) && this.slot === undefined) {
        await this.waitForWake();
        continue;
      }
      const abort = new AbortController();
      // Every job of a batch (up to 512 in parallel) listens to this signal.
      setMaxListeners(0, abort.signal);
      const onStop = () => abort.abort(this.lifetime.signal.reason);
      this.lifetime.signal.addEventListener('abort', onStop, { once: true });
      this.actionName = action;
      this.actionAbort = abort;
      const ctx: ActionContext = {
        serviceId: this.serviceId,
        deps: this.deps,
        pending: () => this.slot?.op,
        requestId: () => this.slot?.requestId,
        waitForOperation: () => (this.stopped ? Promise.resolve() : this.waitForWake()),
        signal: abort.signal,
        lifetime: this.lifetime.signal,
        background: this.background,
      };
      let next: LocalServiceState;
      let threw = false;
      try {
        next = await ACTIONS[action](ctx);
      } catch (error) {
        threw = true;
        this.log.error({ err: error, action }, 'Local service action failed');
        next = mappedState(this.deps.workingSet.service(this.serviceId));
      } finally {
        this.lifetime.signal.removeEventListener('abort', onStop);
        this.actionName = undefined;
        this.actionAbort = undefined;
      }
      // The operation this action consumed, for the transition's hooks (its request id goes with its events).
      const finished = NON_CONSUMING.has(action) ? undefined : this.slot;
      const legal = isAllowedTransition(state, next);
      if (!NON_CONSUMING.has(action)) this.freeSlot(consumedOutcome(this.stopped, abort.signal, threw || !legal));
      // Leadership lost mid-action: the new leader rebuilds from the store; publish nothing more.
      if (this.stopped) return;
      if (next === state && isSteady(state)) {
        // Routing found nothing to do with the operation: it is dropped from the slot, not retried forever.
        this.freeSlot('ignored');
        continue;
      }
      if (!legal) {
        this.log.error({ err: new IllegalTransitionError(state, next) }, 'Discarding illegal transition');
        this.freeSlot('failed');
        const fallback = mappedState(this.deps.workingSet.service(this.serviceId));
        if (fallback === state) continue;
        next = fallback;
      }
      this.transition(next, finished);
    }
  }

  private transition(next: LocalServiceState, finished: SlotEntry | undefined): void {
    const from = this.current;
    this.current = next;
    this.log.debug({ from, to: next }, 'Local service state change');
    this.hooks.onTransition(this, from, next, finished);
  }
}

/** How an action that consumed its operation ended. */
function consumedOutcome(stopped: boolean, signal: AbortSignal, failed: boolean): OperationOutcome {
  if (stopped) return 'aborted';
  if (signal.aborted && signal.reason instanceof OperationCancelledError) return 'cancelled';
  return failed ? 'failed' : 'completed';
}

/** An abort reason that jobs treat like any other abort (no error logged): leadership moved on. */
export function stoppedError(message: string): Error {
  const error = new Error(message);
  error.name = 'AbortError';
  return error;
}
