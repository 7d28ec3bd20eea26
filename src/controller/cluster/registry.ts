import {
  EXECUTOR_BLACKLISTED_STATES,
  EXECUTOR_ELIGIBLE_STATES,
  jsonEqual,
  type Clock,
  type ExecutorAddress,
  type ExecutorNodeData,
  type ExecutorResourceSnapshot,
  type ExecutorState,
  type ExecutorSummary,
  type LocalServiceInfo,
  type LocalServiceInstanceInfo,
  requiredInstanceCount,
} from '../../model/index.js';
import type { EventLog } from '../events.js';
import type { StateStore, StoredExecutor } from '../store/store.js';
import { BatchingWriter } from './batching-writer.js';
import { FleetTotalsCounter, resourceTotals, type FleetTotals } from './fleet-totals.js';
import { decideStale, defaultDisruptionPolicy, type DisruptionPolicy } from './disruption.js';

/**
 * The leader's view of the executors (docs/design/executor-protocol.md#heartbeats): fed by heartbeats
 * (EXECUTOR_SNAPSHOT) and by the resource snapshots that ride on every instance report. The executor is the source of
 * truth of its own state (ACTIVE / UNREADY / BLACKLISTED...); the only thing the controller overlays is a blacklist
 * it has asked for and the executor has not confirmed yet, so nothing is scheduled there in the meantime.
 *
 * One registry per leader term, built from the stored executors when leadership is gained. A follower keeps
 * none: it refuses executor messages, and the next leader gives every stored executor a full staleness period
 * to send it a heartbeat.
 */

export interface ExecutorRegistryOptions {
  /** An executor silent this long is removed (Drove: 45 s = two missed 20 s heartbeats plus slack). */
  staleExecutorAgeMs: number;
  /** Removed executors are remembered this long for `/instances/last` and the executor list (Drove: 2 days). */
  lastKnownRetentionMs?: number;
  /**
   * How long node data waits to share one store transaction with other executors' (default 0: until the end of
   * the current event-loop turn, which already gathers a heartbeat round arriving together without delaying a
   * lone heartbeat; it does not use the clock, so code awaiting a heartbeat under a ManualClock does not stall).
   * A positive window waits on the injected clock and gathers heartbeats spread over that many ms.
   */
  storeWriteWindowMs?: number;
  /** When a mass of stale executors is held instead of removed (default: defaultDisruptionPolicy). */
  disruption?: DisruptionPolicy;
}

const DEFAULT_LAST_KNOWN_RETENTION_MS = 2 * 24 * 60 * 60 * 1000;

/** A live executor as the controller sees it: what the engine, the scheduler and the queries read. */
export interface ExecutorRecord {
  readonly executorId: string;
  /** The last heartbeat document, its `state` replaced by the newest resource snapshot seen. */
  readonly nodeData: ExecutorNodeData;
  /** Where controller -> executor messages go (from the node data). */
  readonly address: ExecutorAddress;
  /** Effective state: the executor's own, overlaid by a pending controller blacklist request. */
  readonly state: ExecutorState;
  /** Controller-clock time of the last heartbeat or report (liveness never trusts executor clocks). */
  readonly lastSeen: number;
  /**
   * The instances of a heartbeat of it are in this leader's working set (markReported). Until then (an executor
   * restored from the store at leadership gain, or one that joins) the records may miss instances it runs, so
   * nothing is started there (see `reported` in plan()).
   */
  readonly reported: boolean;
}

export type ExecutorChange =
  | { kind: 'joined'; executorId: string; state: ExecutorState }
  /** The first heartbeat this leader received from an executor it restored from the store. */
  | { kind: 'reported'; executorId: string }
  | { kind: 'left'; executorId: string }
  | { kind: 'stateChanged'; executorId: string; previous: ExecutorState; state: ExecutorState }
  /** Its tags are different (it restarted with another config): the services it takes may have changed. */
  | { kind: 'tagsChanged'; executorId: string; previous: readonly string[]; tags: readonly string[] };

export type ExecutorChangeListener = (change: ExecutorChange) => void;

/**
 * A resource snapshot was accepted for `executorId`; it accounts for every instance in `reflectedInstanceIds`
 * (the scheduler drops its soft reservations for those).
 */
export type ResourceListener = (executorId: string, reflectedInstanceIds: readonly string[]) => void;

interface Entry {
  executorId: string;
  nodeData: ExecutorNodeData;
  /** Executor-clock time of `nodeData.state`; older snapshots arriving late are ignored. */
  snapshotTime: number;
  lastSeen: number;
  blacklistRequested: boolean;
  state: ExecutorState;
  reported: boolean;
  /** The record last made of this entry (toRecord); good while the fields it was made of are the same. */
  record?: ExecutorRecord;
}

export class ExecutorRegistry {
  private readonly live = new Map<string, Entry>();
  /** Removed executors still remembered, as the store keeps them. */
  private readonly removed = new Map<string, Required<StoredExecutor>>();
  private readonly changeListeners = new Set<ExecutorChangeListener>();
  private readonly resourceListeners = new Set<ResourceListener>();
  private readonly writer: BatchingWriter;
  private readonly lastKnownRetentionMs: number;
  /** What the store holds for each executor as far as we know (compared by `sameStored`); absent = unknown. */
  private readonly persisted = new Map<string, StoredExecutor>();
  private readonly disruption: DisruptionPolicy;
  /** Stale executors the last sweep kept as members (disruption mode); empty when the fleet is healthy. */
  private held: ReadonlySet<string> = new Set();
  /** The ACTIVE executors' resources, kept as entries change (`recount`). */
  private readonly activeTotals = new FleetTotalsCounter();
  /**
   * Bumped whenever what placement reads of the fleet may have changed (an executor joined or left, changed state,
   * tags or hostname): `requiredInstances` is good while it stays the same.
   */
  private placementVersion = 0;
  private readonly required = new WeakMap<LocalServiceInfo, { version: number; count: number }>();

  /**
   * @param deps.stored the executors in the store when this leader term began. Live ones count as seen now: the new
   *   leader has simply not received their heartbeats yet and must give them a full staleness period.
   */
  constructor(
    private readonly deps: {
      clock: Clock;
      store: StateStore;
      events: EventLog;
      options: ExecutorRegistryOptions;
      stored?: readonly StoredExecutor[];
    },
  ) {
    if (!(deps.options.staleExecutorAgeMs > 0)) throw new Error('staleExecutorAgeMs must be a positive number of ms');
    this.lastKnownRetentionMs = deps.options.lastKnownRetentionMs ?? DEFAULT_LAST_KNOWN_RETENTION_MS;
    this.disruption = deps.options.disruption ?? defaultDisruptionPolicy(deps.options.staleExecutorAgeMs);
    const windowMs = deps.options.storeWriteWindowMs ?? 0;
    if (!(windowMs >= 0)) throw new Error('storeWriteWindowMs must be zero or a positive number of ms');
    this.writer = new BatchingWriter(
      (ids) => this.writeThrough(ids),
      windowMs > 0
        ? (fn) => deps.clock.setTimer(fn, windowMs)
        : (fn) => {
            const handle = setImmediate(fn);
            return () => clearImmediate(handle);
          },
    );
    this.load(deps.stored ?? []);
  }

  // ---- ingestion ----

  /**
   * Applies a heartbeat (EXECUTOR_SNAPSHOT). Resolves once the node data is persisted; a heartbeat older than
   * the one already held (delivered out of order) only refreshes liveness.
   */
  heartbeat(nodeData: ExecutorNodeData): Promise<void> {
    const executorId = nodeData.state.executorId;
    const now = this.deps.clock.now();
    const entry = this.live.get(executorId);
    if (!entry) {
      // A removed executor that comes back is a new member again.
      this.removed.delete(executorId);
      const fresh: Entry = {
        executorId,
        nodeData,
        snapshotTime: nodeData.updated,
        lastSeen: now,
        blacklistRequested: false,
        state: nodeData.executorState,
        // Not before the caller has applied this heartbeat's instances (markReported): a member that was removed
        // (or never stored) may run instances whose records a previous leader never stored.
        reported: false,
      };
      this.live.set(executorId, fresh);
      this.recount(fresh);
      this.deps.events.executorAdded(nodeData);
      this.notifyChange({ kind: 'joined', executorId, state: fresh.state });
      this.notifyResources(executorId, nodeData.serviceInstances);
      return this.writer.request(executorId);
    }
    entry.lastSeen = now;
    if (nodeData.updated < entry.nodeData.updated) return Promise.resolve();
    const previousTags = entry.nodeData.tags;
    if (nodeData.hostname !== entry.nodeData.hostname) this.placementVersion++;
    const snapshotIsNewer = nodeData.updated >= entry.snapshotTime;
    entry.nodeData = snapshotIsNewer ? nodeData : { ...nodeData, state: entry.nodeData.state };
    if (snapshotIsNewer) entry.snapshotTime = nodeData.updated;
    if (EXECUTOR_BLACKLISTED_STATES.has(nodeData.executorState)) entry.blacklistRequested = false;
    this.refreshState(entry);
    this.recount(entry);
    if (!sameTags(previousTags, nodeData.tags)) {
      this.notifyChange({ kind: 'tagsChanged', executorId, previous: previousTags, tags: nodeData.tags });
    }
    if (snapshotIsNewer) this.notifyResources(executorId, nodeData.serviceInstances);
    return this.writer.request(executorId);
  }

  /**
   * The instances of a heartbeat of this executor are in the working set now (the caller applied them): from here
   * on, what it runs is known and instances may be started there (see ExecutorRecord.reported).
   */
  markReported(executorId: string): void {
    const entry = this.live.get(executorId);
    if (!entry || entry.reported) return;
    entry.reported = true;
    this.notifyChange({ kind: 'reported', executorId });
  }

  /**
   * Applies the resource snapshot carried by instance reports. Not persisted by itself (the next heartbeat
   * is); returns false when the executor is unknown (no heartbeat yet) or the snapshot is older than held.
   */
  resourceSnapshot(snapshot: ExecutorResourceSnapshot, reportedInstances: readonly LocalServiceInstanceInfo[]): boolean {
    const entry = this.live.get(snapshot.executorId);
    if (!entry) return false;
    entry.lastSeen = this.deps.clock.now();
    // The snapshot was built when the executor sent these reports; their `updated` is our best executor-clock
    // timestamp for it.
    const time = reportedInstances.reduce((max, i) => Math.max(max, i.updated), Number.NEGATIVE_INFINITY);
    if (time < entry.snapshotTime) return false;
    entry.snapshotTime = time;
    entry.nodeData = { ...entry.nodeData, state: snapshot };
    this.recount(entry);
    this.notifyResources(entry.executorId, reportedInstances);
    return true;
  }

  // ---- blacklist overlay (driven by blacklisting.ts) ----

  /** The controller asked this executor to blacklist itself; treat it as BLACKLIST_REQUESTED until it confirms. */
  requestBlacklist(executorId: string): boolean {
    const entry = this.live.get(executorId);
    if (!entry) return false;
    if (EXECUTOR_BLACKLISTED_STATES.has(entry.nodeData.executorState)) return true;
    entry.blacklistRequested = true;
    this.refreshState(entry);
    return true;
  }

  /** Drops a pending blacklist request (unblacklist asked for, or the executor never confirmed). */
  cancelBlacklistRequest(executorId: string): void {
    const entry = this.live.get(executorId);
    if (!entry || !entry.blacklistRequested) return;
    entry.blacklistRequested = false;
    this.refreshState(entry);
  }

  /** The executor's own reported state, without the controller's overlay. */
  reportedState(executorId: string): ExecutorState | undefined {
    return this.live.get(executorId)?.nodeData.executorState;
  }

  // ---- liveness ----

  /**
   * Removes executors not heard from for `staleExecutorAgeMs` (EXECUTOR_REMOVED), keeps them as last known,
   * and prunes last-known entries past their retention. Returns the ids removed now, so the engine can mark
   * their instances LOST (docs/design/reconciliation.md#lost-instances). When most of the fleet is stale at once,
   * holds them instead (see disruption.ts and `heldStale`).
   */
  async sweepStale(): Promise<string[]> {
    const now = this.deps.clock.now();
    const staleAgeMs = this.deps.options.staleExecutorAgeMs;
    const stale: Entry[] = [];
    for (const entry of this.live.values()) if (now - entry.lastSeen > staleAgeMs) stale.push(entry);
    const decision = decideStale(stale, this.live.size, now, staleAgeMs, this.disruption);
    this.held = new Set(decision.hold);
    const removedNow: string[] = [];
    const toRemove = new Set(decision.remove);
    for (const entry of stale) {
      if (!toRemove.has(entry.executorId)) continue;
      this.live.delete(entry.executorId);
      this.activeTotals.set(entry.executorId, undefined);
      this.removed.set(entry.executorId, { executorId: entry.executorId, nodeData: entry.nodeData, removedAt: now });
      removedNow.push(entry.executorId);
      this.deps.events.executorRemoved(entry.executorId);
      this.notifyChange({ kind: 'left', executorId: entry.executorId });
    }
    const pruned: string[] = [];
    for (const last of [...this.removed.values()]) {
      if (now - last.removedAt > this.lastKnownRetentionMs) {
        this.removed.delete(last.executorId);
        pruned.push(last.executorId);
      }
    }
    await Promise.all([...removedNow, ...pruned].map((id) => this.writer.request(id)));
    return removedNow;
  }

  private load(stored: readonly StoredExecutor[]): void {
    const now = this.deps.clock.now();
    for (const record of stored) {
      if (record.removedAt !== undefined) {
        if (now - record.removedAt <= this.lastKnownRetentionMs) {
          this.removed.set(record.executorId, { executorId: record.executorId, nodeData: record.nodeData, removedAt: record.removedAt });
          this.persisted.set(record.executorId, record);
        }
        continue;
      }
      this.persisted.set(record.executorId, record);
      const entry: Entry = {
        executorId: record.executorId,
        nodeData: record.nodeData,
        snapshotTime: record.nodeData.updated,
        lastSeen: now,
        blacklistRequested: false,
        state: record.nodeData.executorState,
        reported: false,
      };
      this.live.set(record.executorId, entry);
      this.recount(entry);
    }
  }

  /**
   * Stale executors the last sweep held rather than removed because a mass of the fleet went silent at once
   * (disruption mode); the reconciler neither marks their instances LOST nor plans while any is held.
   */
  heldStale(): ReadonlySet<string> {
    return this.held;
  }

  /** Writes pending node data without waiting out the window; resolves once no store write is pending (tests, shutdown). */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  // ---- queries ----

  all(): ExecutorRecord[] {
    const out: ExecutorRecord[] = [];
    for (const entry of this.live.values()) out.push(toRecord(entry));
    return out;
  }

  /** Resources of the ACTIVE executors, summed (the cluster summary's), without walking the fleet. */
  activeResources(): FleetTotals {
    return this.activeTotals.totals();
  }

  /**
   * requiredInstanceCount over the live executors, walked again only when the fleet changed in a way placement
   * reads or the service's record was replaced: every service summary asks for it, and the walk over 5,000
   * executors cost as much as counting the service's 20,000 records (docs/scale.md).
   */
  requiredInstances(info: LocalServiceInfo): number {
    const known = this.required.get(info);
    if (known && known.version === this.placementVersion) return known.count;
    const count = requiredInstanceCount(info, this.live.values());
    this.required.set(info, { version: this.placementVersion, count });
    return count;
  }

  byId(executorId: string): ExecutorRecord | undefined {
    const entry = this.live.get(executorId);
    return entry && toRecord(entry);
  }

  /** A removed executor still remembered (for `/instances/last`), with its `removedAt`. */
  /** Removed executors still remembered (listed as REMOVED). */
  removedCount(): number {
    return this.removed.size;
  }

  lastKnown(executorId: string): Required<StoredExecutor> | undefined {
    return this.removed.get(executorId);
  }

  /** `GET /cluster/executors`: every live executor, then the remembered removed ones as REMOVED. */
  summaries(): ExecutorSummary[] {
    return [
      ...[...this.live.values()].map((e) => summaryOf(e.nodeData, e.state)),
      ...[...this.removed.values()].map((r) => summaryOf(r.nodeData, 'REMOVED')),
    ];
  }

  // ---- notifications ----

  onChange(listener: ExecutorChangeListener): () => void {
    this.changeListeners.add(listener);
    return () => {
      this.changeListeners.delete(listener);
    };
  }

  onResources(listener: ResourceListener): () => void {
    this.resourceListeners.add(listener);
    return () => {
      this.resourceListeners.delete(listener);
    };
  }

  // ---- internals ----

  /** After any change of an entry's state or snapshot: what it adds to the ACTIVE totals now. */
  private recount(entry: Entry): void {
    this.activeTotals.set(entry.executorId, entry.state === 'ACTIVE' ? resourceTotals(entry.nodeData.state) : undefined);
  }

  private refreshState(entry: Entry): void {
    const previous = entry.state;
    const own = entry.nodeData.executorState;
    const next: ExecutorState = entry.blacklistRequested && !EXECUTOR_BLACKLISTED_STATES.has(own) ? 'BLACKLIST_REQUESTED' : own;
    if (next === previous) return;
    entry.state = next;
    this.recount(entry);
    const events = this.deps.events;
    if (next === 'BLACKLIST_REQUESTED') events.executorBlacklistRequested(entry.nodeData);
    else if (next === 'BLACKLISTED') events.executorBlacklisted(entry.nodeData);
    else if (EXECUTOR_BLACKLISTED_STATES.has(previous) && EXECUTOR_ELIGIBLE_STATES.has(next)) {
      events.executorUnblacklisted(entry.nodeData);
    }
    this.notifyChange({ kind: 'stateChanged', executorId: entry.executorId, previous, state: next });
  }

  private notifyChange(change: ExecutorChange): void {
    this.placementVersion++;
    for (const listener of [...this.changeListeners]) {
      try {
        listener(change);
      } catch {
        // Listeners are wake-up triggers; one failing must not stop ingestion or the others.
      }
    }
  }

  private notifyResources(executorId: string, instances: readonly LocalServiceInstanceInfo[]): void {
    const ids = instances.map((i) => i.instanceId);
    for (const listener of [...this.resourceListeners]) {
      try {
        listener(executorId, ids);
      } catch {
        // As above.
      }
    }
  }

  /**
   * Makes the store match memory for these executors (live, last known, or gone): every record in one
   * putExecutors, then the rare deletes (last-known executors past retention).
   *
   * A record whose store copy already holds everything but timestamps is not written again, so a steady cluster's
   * heartbeat rounds cost no store writes at all. Safe because nothing reads those timestamps from the store
   * for liveness or ordering: a new leader treats every restored executor as seen at its own "now" (restore), and
   * the `updated` it restores only makes it drop heartbeats older than the stored copy, which every later
   * heartbeat is not. What a new leader does use (state, tags, metadata, address, the resource snapshot with
   * its layout and free/used cores, the instance list with each instance's state) is in the comparison.
   */
  private async writeThrough(executorIds: readonly string[]): Promise<void> {
    const puts: StoredExecutor[] = [];
    const deletes: string[] = [];
    for (const executorId of executorIds) {
      const record = this.storedRecord(executorId);
      if (!record) {
        deletes.push(executorId);
        continue;
      }
      const held = this.persisted.get(executorId);
      if (held && sameStored(held, record)) continue;
      puts.push(record);
    }
    if (puts.length > 0) {
      try {
        await this.deps.store.putExecutors(puts);
      } catch (error) {
        // The store may hold the old copies, the new ones, or (etcd, chunked) some of each.
        for (const record of puts) this.persisted.delete(record.executorId);
        throw error;
      }
      for (const record of puts) this.persisted.set(record.executorId, record);
    }
    for (const executorId of deletes) {
      this.persisted.delete(executorId);
      await this.deps.store.deleteExecutor(executorId);
    }
  }

  private storedRecord(executorId: string): StoredExecutor | undefined {
    const entry = this.live.get(executorId);
    if (entry) return { executorId, nodeData: entry.nodeData };
    const last = this.removed.get(executorId);
    if (last) return { executorId, nodeData: last.nodeData, removedAt: last.removedAt };
    return undefined;
  }
}

function sameTags(a: readonly string[], b: readonly string[]): boolean {
  const set = new Set(a);
  return set.size === new Set(b).size && b.every((tag) => set.has(tag));
}

/**
 * The same store record but for its timestamps (the node data's and each instance's `updated`); see `writeThrough`.
 * Node data is never changed in place (a heartbeat or snapshot replaces it), so the held record is what was written.
 */
function sameStored(held: StoredExecutor, record: StoredExecutor): boolean {
  if (held.removedAt !== record.removedAt) return false;
  if (!jsonEqual(held.nodeData, record.nodeData, ['updated', 'serviceInstances'])) return false;
  const a = held.nodeData.serviceInstances;
  const b = record.nodeData.serviceInstances;
  return a.length === b.length && a.every((instance, i) => jsonEqual(instance, b[i], ['updated']));
}

/**
 * The entry as a record, made again only when one of its fields changed since the last call. Readers (the cluster
 * summary, every service summary, the reconciler) ask for all 5,000 records of a large fleet several times a
 * second, while a heartbeat changes one entry: a new object per executor per call was 8.6 % of the controller's
 * CPU there (docs/scale.md). Comparing the fields, rather than clearing the cache at each change, cannot miss one.
 */
function toRecord(entry: Entry): ExecutorRecord {
  const made = entry.record;
  if (
    made !== undefined &&
    made.nodeData === entry.nodeData &&
    made.state === entry.state &&
    made.lastSeen === entry.lastSeen &&
    made.reported === entry.reported
  ) {
    return made;
  }
  const record: ExecutorRecord = Object.freeze({
    executorId: entry.executorId,
    nodeData: entry.nodeData,
    address: addressOf(entry.nodeData),
    state: entry.state,
    lastSeen: entry.lastSeen,
    reported: entry.reported,
  });
  entry.record = record;
  return record;
}

export function addressOf(nodeData: ExecutorNodeData): ExecutorAddress {
  return {
    executorId: nodeData.state.executorId,
    hostname: nodeData.hostname,
    port: nodeData.port,
    transportType: nodeData.transportType,
  };
}

/** Key order is the column order of the Python CLI's `executor list`. */
export function summaryOf(nodeData: ExecutorNodeData, state: ExecutorState): ExecutorSummary {
  const snapshot = nodeData.state;
  const count = (map: Record<string, number[]>) => Object.values(map).reduce((n, ids) => n + ids.length, 0);
  const sum = (map: Record<string, number>) => Object.values(map).reduce((n, mb) => n + mb, 0);
  return {
    executorId: snapshot.executorId,
    hostname: nodeData.hostname,
    port: nodeData.port,
    transportType: nodeData.transportType,
    freeCores: count(snapshot.cpus.freeCores),
    usedCores: count(snapshot.cpus.usedCores),
    freeMemory: sum(snapshot.memory.freeMemory),
    usedMemory: sum(snapshot.memory.usedMemory),
    tags: [...nodeData.tags],
    state,
  };
}
