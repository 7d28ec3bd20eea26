import {
  INSTANCE_ACTIVE_STATES,
  INSTANCE_STATE_RANK,
  INSTANCE_LIVE_STATES,
  jsonEqual,
  localServiceInstanceStateChangeMetadata,
  tallyInstance,
  type Clock,
  type InstanceCounts,
  type LocalServiceInfo,
  type LocalServiceInstanceInfo,
} from '../../model/index.js';
import type { StateStore } from '../store/store.js';
import type { EventSink } from '../engine/ports.js';

export interface InstanceChange {
  instance: LocalServiceInstanceInfo;
  previous: LocalServiceInstanceInfo | undefined;
}

type ChangeListener = (changes: readonly InstanceChange[]) => void;

interface PendingBatch {
  reports: LocalServiceInstanceInfo[];
  resolve: (changes: InstanceChange[]) => void;
  reject: (error: unknown) => void;
}

/**
 * The leader's in-memory copy of services and instance records, one per leader term. Every write goes to the store first and to
 * memory only once the store took it (write-through), so memory never runs ahead of what a successor would load.
 * Reads never touch the store. Instance reports that arrive together are applied in one store transaction;
 * a report only wins when its `updated` is newer than the record held
 * (docs/design/executor-protocol.md#newer-report-wins). Held records are frozen: a change is a new record.
 */
export class WorkingSet {
  private readonly serviceMap = new Map<string, LocalServiceInfo>();
  private readonly instanceMap = new Map<string, Map<string, LocalServiceInstanceInfo>>();
  private readonly listeners = new Set<ChangeListener>();
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Per service, its records counted by state as they come and go (`tally`), for the summaries. */
  private readonly counts = new Map<string, InstanceCounts>();
  private queue: PendingBatch[] = [];
  /**
   * When this leader loaded the records. Records loaded from the store count as refreshed at that moment: the
   * executors have not had a chance to report to the new leader yet, and a controller that was down for a
   * while must not declare every instance lost (and start duplicates) before the first heartbeats arrive.
   */
  private readonly loadedAt: number;
  private flushing = false;

  /** @param stored the records in the store when this leader term began, and when they were read. */
  constructor(
    private readonly store: StateStore,
    private readonly events: EventSink,
    stored?: { services: readonly LocalServiceInfo[]; instances: readonly LocalServiceInstanceInfo[]; loadedAt: number },
  ) {
    this.loadedAt = stored?.loadedAt ?? Number.NEGATIVE_INFINITY;
    for (const s of stored?.services ?? []) this.serviceMap.set(s.serviceId, s);
    for (const i of stored?.instances ?? []) {
      this.instanceBucket(i.serviceId).set(i.instanceId, Object.freeze(i));
      this.tally(i, 1);
    }
  }

  // ---- services ----

  service(serviceId: string): LocalServiceInfo | undefined {
    return this.serviceMap.get(serviceId);
  }

  services(): LocalServiceInfo[] {
    return [...this.serviceMap.values()];
  }

  serviceCount(): number {
    return this.serviceMap.size;
  }

  async putService(info: LocalServiceInfo): Promise<void> {
    await this.store.putService(info);
    this.serviceMap.set(info.serviceId, info);
  }

  async deleteService(serviceId: string): Promise<void> {
    await this.store.deleteService(serviceId);
    this.serviceMap.delete(serviceId);
    this.instanceMap.delete(serviceId);
    this.counts.delete(serviceId);
  }

  // ---- instances ----

  instance(serviceId: string, instanceId: string): LocalServiceInstanceInfo | undefined {
    return this.instanceMap.get(serviceId)?.get(instanceId);
  }

  /**
   * The service's records counted by state (all of them, stale or not, as the summaries count), kept as records
   * come and go: a summary read is O(1) instead of a walk over the service's 20,000 records (docs/scale.md).
   */
  instanceCounts(serviceId: string): InstanceCounts {
    const counts = this.counts.get(serviceId);
    return counts ? { ...counts } : { healthy: 0, active: 0 };
  }

  /** All records of a service, in insertion order. */
  instances(serviceId: string): LocalServiceInstanceInfo[] {
    const bucket = this.instanceMap.get(serviceId);
    return bucket ? [...bucket.values()] : [];
  }

  /** Records in active states refreshed within `staleAgeMs` of `now` (what the API lists as current). */
  currentInstances(serviceId: string, now: number, staleAgeMs: number): LocalServiceInstanceInfo[] {
    return this.fresh(serviceId, now, staleAgeMs, (s) => INSTANCE_ACTIVE_STATES.has(s));
  }

  /**
   * What planning counts: the current records plus UNKNOWN ones (a restarted executor re-adopting its
   * containers), which are about to be running again and must not be started a second time.
   */
  plannableInstances(serviceId: string, now: number, staleAgeMs: number): LocalServiceInstanceInfo[] {
    return this.fresh(serviceId, now, staleAgeMs, (s) => INSTANCE_LIVE_STATES.has(s));
  }

  private fresh(
    serviceId: string,
    now: number,
    staleAgeMs: number,
    wanted: (state: LocalServiceInstanceInfo['state']) => boolean,
  ): LocalServiceInstanceInfo[] {
    const out: LocalServiceInstanceInfo[] = [];
    for (const i of this.instanceMap.get(serviceId)?.values() ?? []) {
      if (wanted(i.state) && !this.isStale(i, now, staleAgeMs)) out.push(i);
    }
    return out;
  }

  /** Not refreshed for `staleAgeMs` (by its own `updated`, or since this leader loaded it). */
  isStale(instance: LocalServiceInstanceInfo, now: number, staleAgeMs: number): boolean {
    return now - Math.max(instance.updated, this.loadedAt) > staleAgeMs;
  }

  *allInstances(): IterableIterator<LocalServiceInstanceInfo> {
    for (const bucket of this.instanceMap.values()) yield* bucket.values();
  }

  /**
   * Applies reports (newer `updated` wins; reports for unknown services are dropped, the executor's zombie
   * reaper removes such containers). Resolves with the records that changed once they are in the store.
   */
  applyReports(reports: readonly LocalServiceInstanceInfo[]): Promise<InstanceChange[]> {
    if (reports.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.queue.push({ reports: [...reports], resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        // Let every report that arrives in this turn of the event loop join the batch: one store transaction
        // for a burst of reports instead of one per message.
        setImmediate(() => void this.flush());
      }
    });
  }

  /** Writes records the controller itself decided (LOST marking); always wins over what is held. */
  async overwrite(records: readonly LocalServiceInstanceInfo[]): Promise<InstanceChange[]> {
    const live = records.filter((r) => this.serviceMap.has(r.serviceId));
    if (live.length === 0) return [];
    await this.store.putInstances(live);
    return this.commit(live);
  }

  async deleteInstances(serviceId: string, instanceIds: readonly string[]): Promise<void> {
    if (instanceIds.length === 0) return;
    await this.store.deleteInstances(serviceId, instanceIds);
    const bucket = this.instanceMap.get(serviceId);
    for (const id of instanceIds) {
      const record = bucket?.get(id);
      if (!record) continue;
      bucket!.delete(id);
      this.tally(record, -1);
    }
  }

  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Waits until `done(record)` holds for the instance, re-checking on every change of that instance (and every
   * `recheckMs` as a safety net). Resolves with the record, or `undefined` on timeout. Rejects when `signal` aborts.
   */
  async waitForInstance(
    serviceId: string,
    instanceId: string,
    done: (record: LocalServiceInstanceInfo | undefined) => boolean,
    opts: { clock: Clock; timeoutMs: number; recheckMs: number; signal?: AbortSignal },
  ): Promise<LocalServiceInstanceInfo | undefined> {
    const check = () => {
      const record = this.instance(serviceId, instanceId);
      return done(record) ? { record } : undefined;
    };
    const first = check();
    if (first) return first.record;
    return new Promise((resolve, reject) => {
      let settled = false;
      const cancelTimers: Array<() => void> = [];
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        for (const c of cancelTimers) c();
        this.waiters.get(instanceId)?.delete(wake);
        if (this.waiters.get(instanceId)?.size === 0) this.waiters.delete(instanceId);
        opts.signal?.removeEventListener('abort', onAbort);
        fn();
      };
      const wake = () => {
        const hit = check();
        if (hit) finish(() => resolve(hit.record));
      };
      const onAbort = () => finish(() => reject(opts.signal!.reason ?? new Error('Aborted')));
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      let set = this.waiters.get(instanceId);
      if (!set) this.waiters.set(instanceId, (set = new Set()));
      set.add(wake);
      cancelTimers.push(opts.clock.setTimer(() => finish(() => resolve(undefined)), opts.timeoutMs));
      const recheck = () => {
        wake();
        if (!settled) cancelTimers.push(opts.clock.setTimer(recheck, opts.recheckMs));
      };
      if (opts.recheckMs > 0) cancelTimers.push(opts.clock.setTimer(recheck, opts.recheckMs));
    });
  }

  private tally(record: LocalServiceInstanceInfo, sign: 1 | -1): void {
    let counts = this.counts.get(record.serviceId);
    if (!counts) this.counts.set(record.serviceId, (counts = { healthy: 0, active: 0 }));
    tallyInstance(counts, record, sign);
  }

  private instanceBucket(serviceId: string): Map<string, LocalServiceInstanceInfo> {
    let bucket = this.instanceMap.get(serviceId);
    if (!bucket) this.instanceMap.set(serviceId, (bucket = new Map<string, LocalServiceInstanceInfo>()));
    return bucket;
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batches = this.queue;
        this.queue = [];
        // Every accepted report counts for events (a batch may carry PENDING..HEALTHY of one instance); only
        // the newest of each instance is written.
        const newest = new Map<string, LocalServiceInstanceInfo>();
        const accepted: LocalServiceInstanceInfo[] = [];
        for (const batch of batches) {
          for (const report of batch.reports) {
            if (!this.serviceMap.has(report.serviceId)) continue;
            const held = newest.get(report.instanceId) ?? this.instance(report.serviceId, report.instanceId);
            if (held && !isNewer(report, held)) continue;
            newest.set(report.instanceId, report);
            accepted.push(report);
          }
        }
        // A heartbeat carries every instance again with only a fresh `updated`: such records stay in memory only,
        // so a steady fleet's heartbeats cost no store transaction (at 5,000 executors x 4 instances they were a
        // third of the controller's CPU). Safe for the same reason as the executor records (registry.ts,
        // writeThrough): a new leader counts every loaded record as refreshed when it loaded it (`loadedAt`), and
        // the stored `updated` only makes it drop reports older than the stored copy, which no later one is.
        const changed = [...newest.values()].filter((r) => {
          const held = this.instance(r.serviceId, r.instanceId);
          return !held || !sameButUpdated(r, held);
        });
        try {
          if (changed.length > 0) await this.store.putInstances(changed);
        } catch (error) {
          for (const batch of batches) batch.reject(error);
          continue;
        }
        const changes = new Map(this.commit(accepted).map((c) => [c.instance, c]));
        for (const batch of batches) {
          batch.resolve(batch.reports.flatMap((r) => changes.get(r) ?? []));
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Puts stored records into memory, emits events for new records and state changes, wakes waiters. */
  private commit(records: readonly LocalServiceInstanceInfo[]): InstanceChange[] {
    const changes: InstanceChange[] = [];
    for (const record of records) {
      // The service was destroyed while this batch was being written: its records are gone for good.
      if (!this.serviceMap.has(record.serviceId)) continue;
      const bucket = this.instanceBucket(record.serviceId);
      const previous = bucket.get(record.instanceId);
      // Frozen: a held record is replaced, never changed in place, which the API's per-record JSON relies on
      // (api/record-list.ts); a write to one throws instead of serving stale JSON.
      bucket.set(record.instanceId, Object.freeze(record));
      if (previous) this.tally(previous, -1);
      this.tally(record, 1);
      changes.push({ instance: record, previous });
      if (!previous || previous.state !== record.state) {
        this.events.emit('LOCAL_SERVICE_INSTANCE_STATE_CHANGE', localServiceInstanceStateChangeMetadata(record));
      }
    }
    for (const change of changes) {
      const set = this.waiters.get(change.instance.instanceId);
      if (set) for (const wake of [...set]) wake();
    }
    if (changes.length > 0) for (const listener of this.listeners) listener(changes);
    return changes;
  }
}


/**
 * Drove applies a report only when it is newer than the held record. Executors stamp `updated` with their
 * millisecond clock, so two records of one instance can carry the same time: quick transitions (UNREADY, READY and
 * HEALTHY often share a millisecond), and a heartbeat built between two of them. Reports and heartbeats travel on
 * separate requests, so they do not arrive in order: a heartbeat saying READY can come after the report saying
 * HEALTHY at the same time, and taking it would undo HEALTHY until the next heartbeat (an ACTIVATE of 4,000 seen
 * complete 10 s late in bench:scale). At equal times the state later in the lifecycle wins (INSTANCE_STATE_RANK).
 */
function isNewer(report: LocalServiceInstanceInfo, held: LocalServiceInstanceInfo): boolean {
  if (report.updated !== held.updated) return report.updated > held.updated;
  if (report.state === held.state) return false;
  return INSTANCE_STATE_RANK[report.state] >= INSTANCE_STATE_RANK[held.state];
}

/** The same record but for `updated` (what a heartbeat changes in a steady instance's report). */
function sameButUpdated(a: LocalServiceInstanceInfo, b: LocalServiceInstanceInfo): boolean {
  return jsonEqual(a, b, ['updated']);
}
