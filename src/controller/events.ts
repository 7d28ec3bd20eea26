import { randomUUID } from 'node:crypto';
import {
  Periodic,
  type Clock,
  type DroveEvent,
  type DroveEventsList,
  type DroveEventsSummary,
  type DroveEventType,
  type ExecutorNodeData,
  type RunState,
  type Runnable,
} from '../model/index.js';

/**
 * The leader's in-memory Drove event store (docs/design/api-compatibility.md#events): events are appended in time
 * order, read by polling clients (`/cluster/events/latest`, `/summary`, the deprecated `/cluster/events`), swept
 * after `maxEventsStorageMs` and cleared on every leadership change.
 */

export interface EventLogOptions {
  /** Retention (Drove's `maxEventsStorageDuration`, default 60 minutes). */
  maxEventsStorageMs: number;
  /** How often old events are swept; Drove sweeps every minute, which bounds overshoot to one minute. */
  sweepIntervalMs?: number;
}

export type EventListener = (event: DroveEvent) => void;

/**
 * What the event stream (api/event-stream.ts) reads: the log in time order, what it still holds, and when it
 * forgets everything. Times are strictly increasing in one log, so a time names one event and orders all of them.
 */
export interface EventFeed {
  /** Events with time strictly greater than `time`, oldest first, at most `limit`. */
  after(time: number, limit: number): DroveEvent[];
  /** The log holds every event it emitted with a time greater than this; older ones were swept or cleared. */
  horizon(): number;
  /** Time of the newest event emitted (kept across clears), or the horizon when none was. */
  newestTime(): number;
  subscribe(listener: EventListener): () => void;
  /** Called when the log forgets all it holds (leadership change, shutdown). */
  onReset(listener: () => void): () => void;
}

const DEFAULT_SWEEP_INTERVAL_MS = 60_000;

export class EventLog implements Runnable, EventFeed {
  /** Oldest first; times strictly increasing, so reads can binary-search. */
  private events: DroveEvent[] = [];
  private lastTime = 0;
  /** Every event emitted with a later time is still in `events` (EventFeed.horizon). */
  private horizonTime: number;
  private readonly listeners = new Set<EventListener>();
  private readonly resetListeners = new Set<() => void>();
  private readonly sweeper: Periodic;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly options: EventLogOptions,
  ) {
    if (!(options.maxEventsStorageMs > 0)) throw new Error('maxEventsStorageMs must be a positive number of ms');
    // Nothing was emitted before the log existed; every event gets at least the clock's time from now on.
    this.horizonTime = clock.now() - 1;
    this.sweeper = new Periodic({
      name: 'event log sweep',
      clock,
      intervalMs: options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS,
      run: () => this.sweep(),
    });
  }

  get runState(): RunState {
    return this.sweeper.runState;
  }

  /** Starts sweeping old events; the log takes and serves events before that too. */
  start(): void {
    this.sweeper.start();
  }

  emit(type: DroveEventType, metadata: Record<string, string | number>): DroveEvent {
    // Times are strictly increasing per log: a client polling with lastSyncTime = time of the newest event it
    // saw asks for `time > lastSyncTime`, so a second event emitted in the same millisecond (or after a
    // backwards clock step) would be missed forever if it carried the same or an earlier time.
    const time = Math.max(this.clock.now(), this.lastTime + 1);
    this.lastTime = time;
    const event: DroveEvent = { type, id: randomUUID(), time, metadata: { ...metadata } };
    if (this.closed) return event;
    this.events.push(event);
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // A faulty subscriber must not break the emitter (the engine emits from inside state transitions).
      }
    }
    return event;
  }

  /** Events with time strictly greater than `lastSyncTime`, newest first, at most `size`. */
  latest(lastSyncTime: number, size: number): DroveEventsList {
    const newest = this.events[this.events.length - 1];
    return {
      events: this.since(lastSyncTime, size),
      lastSyncTime: newest ? newest.time : lastSyncTime,
    };
  }

  /** The deprecated `/cluster/events` selection: a bare array with the same rules as `latest`. */
  since(lastSyncTime: number, size: number): DroveEvent[] {
    const result: DroveEvent[] = [];
    for (let i = this.events.length - 1; i >= 0 && result.length < size; i--) {
      const event = this.events[i]!;
      if (event.time <= lastSyncTime) break;
      result.push(event);
    }
    return result;
  }

  summary(lastSyncTime: number): DroveEventsSummary {
    const eventsCount: Partial<Record<DroveEventType, number>> = {};
    for (let i = this.events.length - 1; i >= 0; i--) {
      const event = this.events[i]!;
      if (event.time <= lastSyncTime) break;
      eventsCount[event.type] = (eventsCount[event.type] ?? 0) + 1;
    }
    const newest = this.events[this.events.length - 1];
    return { eventsCount, lastSyncTime: newest ? newest.time : lastSyncTime };
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  onReset(listener: () => void): () => void {
    this.resetListeners.add(listener);
    return () => {
      this.resetListeners.delete(listener);
    };
  }

  after(time: number, limit: number): DroveEvent[] {
    // First index whose time is greater than `time` (binary search: times are strictly increasing).
    let low = 0;
    let high = this.events.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.events[mid]!.time <= time) low = mid + 1;
      else high = mid;
    }
    return this.events.slice(low, low + limit);
  }

  horizon(): number {
    return this.horizonTime;
  }

  newestTime(): number {
    return Math.max(this.lastTime, this.horizonTime);
  }

  size(): number {
    return this.events.length;
  }

  /** Drops every event older than the retention; runs on the sweep timer, exposed for tests. */
  sweep(): number {
    const cutoff = this.clock.now() - this.options.maxEventsStorageMs;
    let drop = 0;
    while (drop < this.events.length && this.events[drop]!.time < cutoff) drop++;
    if (drop > 0) {
      this.horizonTime = Math.max(this.horizonTime, this.events[drop - 1]!.time);
      this.events = this.events.slice(drop);
    }
    return drop;
  }

  /**
   * Forgets all events (leadership change: events are the leader's own). The time floor is kept so that a client that
   * synced against this log before never misses an event emitted afterwards.
   */
  clear(): void {
    this.events = [];
    this.horizonTime = this.newestTime();
    this.notifyReset();
  }

  /** Shutdown: the sweep ends, subscribers are let go, and nothing is kept any more. */
  async stop(): Promise<void> {
    this.closed = true;
    this.events = [];
    this.horizonTime = this.newestTime();
    this.notifyReset();
    this.listeners.clear();
    this.resetListeners.clear();
    await this.sweeper.stop();
  }

  private notifyReset(): void {
    for (const listener of [...this.resetListeners]) {
      try {
        listener();
      } catch {
        // As for event listeners: a faulty one must not break a leadership change.
      }
    }
  }

  // ---- executor, maintenance and leadership events, with Drove's metadata ----

  executorAdded(nodeData: ExecutorNodeData): DroveEvent {
    return this.emit('EXECUTOR_ADDED', executorMetadata(nodeData));
  }

  /** EXECUTOR_REMOVED carries only the id, as Drove's does. */
  executorRemoved(executorId: string): DroveEvent {
    return this.emit('EXECUTOR_REMOVED', { EXECUTOR_ID: executorId });
  }

  executorBlacklistRequested(nodeData: ExecutorNodeData): DroveEvent {
    return this.emit('EXECUTOR_BLACKLIST_REQUESTED', executorMetadata(nodeData));
  }

  executorBlacklisted(nodeData: ExecutorNodeData): DroveEvent {
    return this.emit('EXECUTOR_BLACKLISTED', executorMetadata(nodeData));
  }

  executorUnblacklisted(nodeData: ExecutorNodeData): DroveEvent {
    return this.emit('EXECUTOR_UN_BLACKLISTED', executorMetadata(nodeData));
  }

  maintenanceModeSet(controllerHostname: string): DroveEvent {
    return this.emit('MAINTENANCE_MODE_SET', { HOSTNAME: controllerHostname });
  }

  maintenanceModeRemoved(controllerHostname: string): DroveEvent {
    return this.emit('MAINTENANCE_MODE_REMOVED', { HOSTNAME: controllerHostname });
  }

  leadershipAcquired(controllerHostname: string): DroveEvent {
    return this.emit('LEADERSHIP_ACQUIRED', { HOSTNAME: controllerHostname });
  }

  leadershipLost(controllerHostname: string): DroveEvent {
    return this.emit('LEADERSHIP_LOST', { HOSTNAME: controllerHostname });
  }
}

export function executorMetadata(nodeData: ExecutorNodeData): Record<string, string | number> {
  return { EXECUTOR_ID: nodeData.state.executorId, HOSTNAME: nodeData.hostname, PORT: nodeData.port };
}
