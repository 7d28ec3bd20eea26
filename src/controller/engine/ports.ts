import type { DroveEventType } from '../../model/index.js';
import type { ExecutorRecord } from '../cluster/registry.js';

/**
 * What the engine needs from its neighbours in the leader term, stated narrowly so that engine tests can use
 * in-process fakes and the cluster package can change behind them. The term wires the real ones in: the event
 * log, the executor registry, the scheduler (cluster/scheduler.ts) and the messenger (cluster/messenger.ts).
 */

export interface EventSink {
  emit(type: DroveEventType, metadata: Record<string, string | number>): void;
}

/** The executors instances are placed on and messages go to (the term's executor registry). */
export interface ExecutorDirectory {
  /** Every executor currently known (any state, removed ones excluded). */
  all(): ExecutorRecord[];
  byId(executorId: string): ExecutorRecord | undefined;
}
