import type { Logger } from 'pino';
import {
  INSTANCE_LIVE_STATES,
  INSTANCE_LOST_MESSAGE,
  Periodic,
  RunLifecycle,
  isSteady,
  type Clock,
  type LocalServiceInstanceInfo,
  type RunState,
  type Runnable,
} from '../../model/index.js';
import type { ResolvedOptions } from '../config.js';
import type { LocalServiceEngine } from '../engine/local-service-engine.js';
import type { CrashLoopGate, ExecutorDirectory } from '../engine/ports.js';
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
  inMaintenanceWindow(): boolean;
  clock: Clock;
  options: ResolvedOptions;
  logger: Logger;
}

export interface PassReport {
  skipped?: 'maintenance';
  adjusted: string[];
  lost: number;
}

/**
 * Level-based reconciliation (§5.3, decision 5): compares every steady service's desired instances with the
 * current records and submits ADJUST_INSTANCES where the pure plan is not empty. Runs every
 * `reconcileIntervalMs` as a safety net and at once when woken by a trigger (executor joined or left, an
 * instance left the running states, a service reached a steady state). Part of a leader term, so it exists only
 * while this controller leads; paused in the maintenance window.
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

  constructor(private readonly deps: ReconcilerDeps) {
    this.periodic = new Periodic({
      name: 'periodic reconciliation',
      clock: deps.clock,
      intervalMs: deps.options.reconcileIntervalMs,
      run: () => this.trigger(),
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
    const lost = await this.markLost(await d.sweepExecutors());
    const executors = d.executors.all();
    const now = d.clock.now();
    const adjusted: string[] = [];
    for (const info of d.workingSet.services()) {
      const state = d.engine.stateOf(info.serviceId);
      if (!state || !isSteady(state) || d.engine.hasPendingOperation(info.serviceId)) continue;
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
      const result = d.engine.submit({ type: 'ADJUST_INSTANCES', serviceId: info.serviceId });
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
          try {
            await this.pass();
          } catch (error) {
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
   * Instances whose executor was removed (decision 14) or that were not refreshed for `instanceStaleAgeMs`
   * become LOST "Instance lost", kept as history, with an instance event (decision 7).
   */
  private async markLost(removedExecutors: readonly string[]): Promise<number> {
    const d = this.deps;
    const now = d.clock.now();
    const removed = new Set(removedExecutors);
    const lost: LocalServiceInstanceInfo[] = [];
    for (const instance of d.workingSet.allInstances()) {
      // UNKNOWN too: being recovered by a restarted executor; if that never finishes it is lost as well.
      if (!INSTANCE_LIVE_STATES.has(instance.state)) continue;
      if (removed.has(instance.executorId) || d.workingSet.isStale(instance, now, d.options.instanceStaleAgeMs)) {
        lost.push({ ...instance, state: 'LOST', errorMessage: INSTANCE_LOST_MESSAGE, updated: now });
      }
    }
    if (lost.length > 0) {
      d.logger.warn({ count: lost.length }, 'Marking local service instances LOST');
      await d.workingSet.overwrite(lost);
    }
    return lost.length;
  }
}

function planKey(p: ReturnType<typeof plan>): string {
  const starts = p.start.map((s) => `${s.executorId}x${s.count}`).sort();
  return `${starts.join(',')}|${[...p.stop].sort().join(',')}`;
}
