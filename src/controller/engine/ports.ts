import type { DroveEventType, LocalServiceInstanceInfo } from '../../model/index.js';
import type { ExecutorChangeListener, ExecutorRecord } from '../cluster/registry.js';

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
  /** Calls `listener` on every change of the fleet (an executor joined, reported, left...); returns the unsubscribe. */
  onChange(listener: ExecutorChangeListener): () => void;
}

/**
 * The crash-loop backoff the engine obeys (the term's CrashLoops, docs/design/crash-loop-backoff.md): ADJUST plans no
 * start on a held executor, and a start job neither retries there nor forgets to count the failure it saw.
 */
export interface CrashLoopGate {
  /** Executors of the service where starts wait for the backoff at `now`. */
  heldExecutors(serviceId: string, now: number): ReadonlySet<string>;
  holds(serviceId: string, executorId: string, now: number): boolean;
  /** Counts a failed instance (a second call for the same failure changes nothing); resolves once stored. */
  recordFailure(instance: LocalServiceInstanceInfo, reason?: string): Promise<void>;
}
