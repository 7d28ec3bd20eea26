import type { Logger } from 'pino';
import {
  INSTANCE_LIVE_STATES,
  INSTANCE_LOST_MESSAGE,
  Periodic,
  RunLifecycle,
  isSteady,
  type Clock,
  type ExecutorNodeData,
  type LocalServiceInstanceInfo,
  type RunState,
  type Runnable,
} from '../../model/index.js';
import type { ResolvedOptions } from '../config.js';
import type { LocalServiceEngine } from '../engine/local-service-engine.js';
import type { CrashLoopGate, ExecutorDirectory } from '../engine/ports.js';
import type { ReconcilerMetrics } from '../metrics/hooks.js';
import { plan, planIsEmpty } from './plan.js';
import type { WorkingSet } from '../term/working-set.js';

export interface ReconcilerDeps {
  engine: LocalServiceEngine;
  workingSet: WorkingSet;
  executors: ExecutorDirectory;
  /** Executors in crash-loop backoff get no start until it is over; the term wakes the reconciler then. */
  crashLoops: Pick<CrashLoopGate, 'heldExecutors'>;
  /** Removes executors whose heartbeats stopped; returns their ids (ExecutorRegistry.sweepStale). */
  sweepExecutors(): Promise<string[]>;
  /** Stale executors the sweep held in disruption mode (ExecutorRegistry.heldStale). */
  heldStaleExecutors(): ReadonlySet<string>;
  inMaintenanceWindow(): boolean;
  clock: Clock;
  options: ResolvedOptions;
  logger: Logger;
  /** Pass durations and the ADJUST_INSTANCES submitted (metrics/hooks.ts). */
  metrics: ReconcilerMetrics;
}

/**
 * How long a live executor's heartbeats must leave out an instance whose record is still running before the record
 * is marked LOST. A final report still on its way gets there first: an executor that reaches the leader with its
 * heartbeats delivers its pending reports within its report retry cap (leaderRetryMax, 10 s by default).
 */
export const VANISHED_INSTANCE_GRACE_MS = 15_000;

export interface PassReport {
  skipped?: 'maintenance' | 'disruption';
  adjusted: string[];
  lost: number;
}

/**
 * Level-based reconciliation (docs/design/reconciliation.md#level-based): compares every steady service's desired
 * instances with the current records and submits ADJUST_INSTANCES where the pure plan is not empty. Runs every
 * `reconcileIntervalMs` as a safety net and at once when woken by a trigger (executor joined or left, an instance
 * left the running states, a service reached a steady state). Part of a leader term, so it exists only while this
 * controller leads; paused in the maintenance window.
 */
export class Reconciler implements Runnable {
  private readonly lifecycle = new RunLifecycle('reconciler');
  private readonly periodic: Periodic;
  private running = false;
  private dirty = false;
  private scheduled = false;
  private current: Promise<void> = Promise.resolve();
  private readonly passListeners = new Set<(report: PassReport) => void>();
  /** The last ADJUST submitted per service: the plan it was for, and when. */
  private readonly lastAdjust = new Map<string, { key: string; at: number }>();
  /** Running records their executor's heartbeats leave out: since which heartbeat (executor clock). */
  private readonly missingSince = new Map<string, number>();
  /** The last pass found the fleet in disruption mode (logged once per episode). */
  private disrupted = false;
  /**
   * The next pass checks every record for staleness (markLost). Staleness is a matter of time (60 s), so the periodic
   * pass is soon enough; the passes that triggers wake (one per joining executor while a fleet comes up, hundreds
   * at 5,000 executors) then cost O(services x executors), not O(all instances) as well.
   */
  private scanDue = true;

  constructor(private readonly deps: ReconcilerDeps) {
    this.periodic = new Periodic({
      name: 'periodic reconciliation',
      clock: deps.clock,
      intervalMs: deps.options.reconcileIntervalMs,
      run: () => {
        this.scanDue = true;
        this.trigger();
      },
    });
  }

  get runState(): RunState {
    return this.lifecycle.state;
  }

  start(): void {
    this.lifecycle.start();
    this.periodic.start();
    this.trigger();
  }

  stop(): Promise<void> {
    return this.lifecycle.stop(async () => {
      await this.periodic.stop();
      await this.current;
    });
  }

  /** Wakes the reconciler now; bursts of triggers coalesce into one pass. */
  trigger(): void {
    if (!this.lifecycle.running) return;
    this.dirty = true;
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  /** Observes finished passes (tests, bench). */
  onPass(listener: (report: PassReport) => void): () => void {
    this.passListeners.add(listener);
    return () => this.passListeners.delete(listener);
  }

  /** One full pass, callable directly (tests). */
  async pass(): Promise<PassReport> {
    const d = this.deps;
    if (d.inMaintenanceWindow()) return this.report({ skipped: 'maintenance', adjusted: [], lost: 0 });
    const removed = await d.sweepExecutors();
    const held = d.heldStaleExecutors();
    const scan = this.scanDue || removed.length > 0;
    this.scanDue = false;
    const lost = scan ? await this.markLost(removed, held) : 0;
    if (held.size > 0) {
      // Most of the fleet is silent at once (docs/design/reconciliation.md#disruption-mode): our view of it is too
      // old to plan on, and starts placed now would land on executors that may well run the instances already.
      if (!this.disrupted) d.logger.warn({ held: held.size }, 'Most executors went silent at once: holding them, not planning');
      this.disrupted = true;
      return this.report({ skipped: 'disruption', adjusted: [], lost });
    }
    if (this.disrupted) d.logger.info('Executor heartbeats are back: disruption mode over');
    this.disrupted = false;
    // Read only when a service is there to plan: while a rollout runs, its service is not steady, and the passes
    // its new records trigger (hundreds a second at 5,000 executors) would copy the whole fleet's list for nothing.
    let executors: ReturnType<typeof d.executors.all> | undefined;
    const now = d.clock.now();
    const adjusted: string[] = [];
    for (const info of d.workingSet.services()) {
      const state = d.engine.stateOf(info.serviceId);
      if (!state || !isSteady(state) || d.engine.hasPendingOperation(info.serviceId)) continue;
      executors ??= d.executors.all();
      // Taken whatever the plan: an ADJUST submitted later, for another reason, must not carry it.
      const cause = d.engine.takeCause(info.serviceId);
      const current = d.workingSet.plannableInstances(info.serviceId, now, d.options.instanceStaleAgeMs);
      const todo = plan(info, executors, current, d.crashLoops.heldExecutors(info.serviceId, now));
      if (planIsEmpty(todo)) {
        this.lastAdjust.delete(info.serviceId);
        continue;
      }
      // The same unfinished plan right after an ADJUST (e.g. an executor without free cores) waits for the
      // periodic pass instead of spinning; a different plan (an executor joined, an instance died) goes at once.
      const key = planKey(todo);
      const last = this.lastAdjust.get(info.serviceId);
      if (last && last.key === key && now - last.at < d.options.reconcileIntervalMs) continue;
      const result = d.engine.submit({ type: 'ADJUST_INSTANCES', serviceId: info.serviceId }, cause ? { requestId: cause } : {});
      if (result.ok) {
        adjusted.push(info.serviceId);
        this.lastAdjust.set(info.serviceId, { key, at: now });
      }
      else d.logger.info({ serviceId: info.serviceId, errors: result.errors }, 'Reconciliation ADJUST not accepted');
    }
    return this.report({ adjusted, lost });
  }

  private report(report: PassReport): PassReport {
    for (const listener of this.passListeners) listener(report);
    return report;
  }

  private async drain(): Promise<void> {
    if (this.running || !this.lifecycle.running) return;
    this.running = true;
    const work = (async () => {
      try {
        while (this.dirty && this.lifecycle.running) {
          this.dirty = false;
          const done = this.deps.metrics.passStarted();
          try {
            const report = await this.pass();
            done(report.skipped ? 'skipped' : 'completed', report.adjusted.length);
          } catch (error) {
            done('failed', 0);
            this.deps.logger.error({ err: error }, 'Reconciliation pass failed');
          }
        }
      } finally {
        this.running = false;
      }
    })();
    this.current = work;
    await work;
  }

  /**
   * Instances whose executor was removed, that were not refreshed for `instanceStaleAgeMs`, or that their live
   * executor no longer has become LOST "Instance lost", kept as history, with an instance event
   * (docs/design/reconciliation.md#lost-instances).
   */
  private async markLost(removedExecutors: readonly string[], heldExecutors: ReadonlySet<string>): Promise<number> {
    const d = this.deps;
    const now = d.clock.now();
    const removed = new Set(removedExecutors);
    const lost: LocalServiceInstanceInfo[] = [];
    const tracked = new Set<string>();
    for (const instance of d.workingSet.allInstances()) {
      // UNKNOWN too: being recovered by a restarted executor; if that never finishes it is lost as well.
      if (!INSTANCE_LIVE_STATES.has(instance.state)) continue;
      // Silent only because the controller could not hear it (disruption mode): its records go stale with it.
      if (heldExecutors.has(instance.executorId)) continue;
      if (
        removed.has(instance.executorId) ||
        d.workingSet.isStale(instance, now, d.options.instanceStaleAgeMs) ||
        this.vanished(instance, tracked)
      ) {
        lost.push({ ...instance, state: 'LOST', errorMessage: INSTANCE_LOST_MESSAGE, updated: now });
      }
    }
    for (const instanceId of this.missingSince.keys()) if (!tracked.has(instanceId)) this.missingSince.delete(instanceId);
    if (lost.length > 0) {
      d.logger.warn({ count: lost.length }, 'Marking local service instances LOST');
      await d.workingSet.overwrite(lost);
    }
    return lost.length;
  }

  /**
   * A running record whose live executor's heartbeats have left it out for `VANISHED_INSTANCE_GRACE_MS`: the
   * executor does not run it any more, and its final report is lost (a leader answered ACCEPTED, then could not
   * store it; or the executor died before sending it). No heartbeat will ever mention it again, so without this
   * the record would count as running until it went stale, which each leader change postpones (records count as
   * refreshed when a leader loads them), and every ADJUST would try to stop it in vain meanwhile.
   */
  private vanished(instance: LocalServiceInstanceInfo, tracked: Set<string>): boolean {
    const snapshot = instancesSnapshotOf(this.deps.executors.byId(instance.executorId)?.nodeData);
    // Listed, or the heartbeat is not newer than the record (the instance may have started after it was taken).
    if (!snapshot || snapshot.instanceIds.has(instance.instanceId) || snapshot.updated <= instance.updated) return false;
    tracked.add(instance.instanceId);
    const since = this.missingSince.get(instance.instanceId) ?? snapshot.updated;
    this.missingSince.set(instance.instanceId, since);
    return snapshot.updated - since >= VANISHED_INSTANCE_GRACE_MS;
  }
}

/** What an executor's last heartbeat (EXECUTOR_SNAPSHOT) said: when (its clock) and which instances it runs. */
interface ExecutorInstancesSnapshot {
  updated: number;
  instanceIds: ReadonlySet<string>;
}

/** Instance ids of a heartbeat document, built once per document (every pass asks for each running record). */
const heartbeatInstances = new WeakMap<ExecutorNodeData, ExecutorInstancesSnapshot>();

function instancesSnapshotOf(nodeData: ExecutorNodeData | undefined): ExecutorInstancesSnapshot | undefined {
  if (!nodeData) return undefined;
  let snapshot = heartbeatInstances.get(nodeData);
  if (!snapshot) {
    snapshot = { updated: nodeData.updated, instanceIds: new Set(nodeData.serviceInstances.map((i) => i.instanceId)) };
    heartbeatInstances.set(nodeData, snapshot);
  }
  return snapshot;
}

function planKey(p: ReturnType<typeof plan>): string {
  const starts = p.start.map((s) => `${s.executorId}x${s.count}`).sort();
  return `${starts.join(',')}|${[...p.stop].sort().join(',')}`;
}
