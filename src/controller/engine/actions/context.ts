import { steadyStateOf, type LocalServiceInfo, type LocalServiceOperation, type LocalServiceState } from '../../../model/index.js';
import type { EngineDeps } from '../deps.js';

/** What a state's action sees: the service, the operation waiting in its slot, and the engine's parts. */
export interface ActionContext {
  serviceId: string;
  deps: EngineDeps;
  /** The operation in the runner's slot (not consumed by looking). */
  pending(): LocalServiceOperation | undefined;
  /** The request id the operation in the slot was submitted under: sent with every executor message it causes. */
  requestId(): string | undefined;
  /** Resolves when a new operation is recorded or the runner stops. */
  waitForOperation(): Promise<void>;
  /** Aborted by cancel (cancellable actions only) and when the runner stops (leadership lost). */
  signal: AbortSignal;
  /** Aborted only when the runner stops: what uncancellable work (stop jobs) still has to respect. */
  lifetime: AbortSignal;
  /**
   * Runs background work (cleanups) detached from the action; `signal` aborts when the engine stops (leadership
   * lost), and shutdown waits for it.
   */
  background: (work: (signal: AbortSignal) => Promise<unknown>) => void;
}

export type ServiceAction = (ctx: ActionContext) => Promise<LocalServiceState>;

/** The steady state the stored record's activation maps to, or DESTROYED when the record is gone. */
export function mappedState(info: LocalServiceInfo | undefined): LocalServiceState {
  return info ? steadyStateOf(info.activationState) : 'DESTROYED';
}
