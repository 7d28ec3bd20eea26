import type { Logger } from 'pino';
import {
  RunLifecycle,
  crashLoopHolds,
  isInstanceFailure,
  isReplacementOf,
  localServiceCrashLoopMetadata,
  nextCrashLoop,
  type Clock,
  type CrashLoop,
  type CrashLoopPolicy,
  type CrashLoopSummary,
  type LocalServiceInstanceInfo,
  type RunState,
  type Runnable,
} from '../../model/index.js';
import type { CrashLoopGate, EventSink } from '../engine/ports.js';
import type { StateStore } from '../store/store.js';
import type { InstanceChange } from './working-set.js';

export interface CrashLoopsDeps {
  store: Pick<StateStore, 'putCrashLoop' | 'deleteCrashLoops'>;
  events: EventSink;
  clock: Clock;
  logger: Logger;
  policy: CrashLoopPolicy;
  /** The loops in the store when this term began. */
  stored: readonly CrashLoop[];
  /** The service's instance records (the working set's), to find replacements that are HEALTHY already. */
  instances(serviceId: string): readonly LocalServiceInstanceInfo[];
  /** An executor's hostname, for summaries and events, when the registry knows it. */
  hostnameOf(executorId: string): string | undefined;
}

interface HealthWatch {
  key: string;
  cancel: () => void;
}

/**
 * The leader's crash loops, one per (service, executor) that is in one (docs/design/crash-loop-backoff.md). Part of a
 * leader term; its records are in the store, so a new leader carries a loop on where the old one left it (its count
 * and its next attempt), neither forgetting it nor starting it over at the first delay.
 *
 * It watches the working set's changes: a failed instance raises its loop (model/crash-loop.ts), a replacement
 * HEALTHY for `resetAfterMs` ends it. That time is watched by this leader on its clock, from when it saw the
 * instance HEALTHY (or from the term's start for one that already was): a leader change makes a loop last up to
 * `resetAfterMs` longer, never shorter. Every change is written to the store before memory (write-through), one at
 * a time in arrival order. When a held executor's next attempt is due, `onDue` listeners (the reconciler) hear it.
 */
export class CrashLoops implements Runnable, CrashLoopGate {
  private readonly lifecycle = new RunLifecycle('crash loops');
  private readonly loops = new Map<string, CrashLoop>();
  private readonly healthWatches = new Map<string, HealthWatch>();
  private readonly dueListeners = new Set<() => void>();
  private cancelDue: (() => void) | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: CrashLoopsDeps) {
    for (const loop of deps.stored) this.loops.set(keyOf(loop.serviceId, loop.executorId), loop);
  }

  get runState(): RunState {
    return this.lifecycle.state;
  }

  start(): void {
    this.lifecycle.start();
    for (const loop of this.loops.values()) this.watchReplacements(loop);
    this.armDue();
  }

  stop(): Promise<void> {
    return this.lifecycle.stop(async () => {
      this.cancelDue?.();
      for (const watch of this.healthWatches.values()) watch.cancel();
      this.healthWatches.clear();
      await this.queue.catch(() => undefined);
    });
  }

  // ---- reads ----

  /** The service's loops, by executor id. */
  loopsOf(serviceId: string): CrashLoop[] {
    return [...this.loops.values()].filter((l) => l.serviceId === serviceId).sort((a, b) => (a.executorId < b.executorId ? -1 : 1));
  }

  /** What the service summary shows (`crashLoops`). */
  summaries(serviceId: string): CrashLoopSummary[] {
    return this.loopsOf(serviceId).map((loop) => {
      const hostname = this.deps.hostnameOf(loop.executorId);
      return {
        executorId: loop.executorId,
        ...(hostname ? { hostname } : {}),
        restartCount: loop.restartCount,
        lastFailure: { ...loop.lastFailure },
        nextAttemptAt: loop.nextAttemptAt,
      };
    });
  }

  heldExecutors(serviceId: string, now: number): ReadonlySet<string> {
    const held = new Set<string>();
    for (const loop of this.loops.values()) if (loop.serviceId === serviceId && crashLoopHolds(loop, now)) held.add(loop.executorId);
    return held;
  }

  holds(serviceId: string, executorId: string, now: number): boolean {
    return crashLoopHolds(this.loops.get(keyOf(serviceId, executorId)), now);
  }

  onDue(listener: () => void): () => void {
    this.dueListeners.add(listener);
    return () => this.dueListeners.delete(listener);
  }

  // ---- changes ----

  /** The working set's change listener. */
  observe(changes: readonly InstanceChange[]): void {
    if (!this.lifecycle.running) return;
    for (const { instance, previous } of changes) {
      if (isInstanceFailure(previous, instance)) {
        this.recordFailure(instance).catch((error: unknown) =>
          this.deps.logger.error({ err: error, instanceId: instance.instanceId }, 'Could not record a crash-loop failure'),
        );
      } else {
        this.watchHealth(instance);
      }
    }
  }

  recordFailure(instance: LocalServiceInstanceInfo, reason?: string): Promise<void> {
    return this.serially(async () => {
      const key = keyOf(instance.serviceId, instance.executorId);
      const loop = this.loops.get(key);
      const next = nextCrashLoop(loop, instance, reason ?? instance.errorMessage, this.deps.clock.now(), this.deps.policy);
      if (!next) return;
      await this.deps.store.putCrashLoop(next);
      this.loops.set(key, next);
      this.deps.logger.warn(
        { serviceId: next.serviceId, executorId: next.executorId, restartCount: next.restartCount, nextAttemptAt: next.nextAttemptAt, reason: next.lastFailure.reason },
        'Local service instance failed: crash-loop backoff',
      );
      this.emit(next.serviceId, instance.serviceName, next.executorId, { kind: 'BACKING_OFF', loop: next }, instance);
      this.cancelWatches(key);
      this.watchReplacements(next);
      this.armDue();
    });
  }

  /**
   * Ends every loop of the service (an operator asked for its instances to run, docs/design/crash-loop-backoff.md).
   * Never rejects: loops the store could not delete stay, in memory too, and the failure is logged.
   */
  resetService(serviceId: string, reason: string): Promise<void> {
    return this.serially(async () => {
      const ended = this.loopsOf(serviceId);
      if (ended.length === 0) return;
      await this.deps.store.deleteCrashLoops(serviceId);
      for (const loop of ended) this.end(loop, reason);
      this.armDue();
    }).catch((error: unknown) => this.deps.logger.warn({ serviceId, err: error }, 'Could not end the crash loops of a local service'));
  }

  /** A destroyed service: its loops went with its store records. */
  forget(serviceId: string): void {
    for (const loop of this.loopsOf(serviceId)) {
      const key = keyOf(loop.serviceId, loop.executorId);
      this.loops.delete(key);
      this.cancelWatches(key);
    }
  }

  private end(loop: CrashLoop, reason: string): void {
    const key = keyOf(loop.serviceId, loop.executorId);
    this.loops.delete(key);
    this.cancelWatches(key);
    const serviceName = this.deps.instances(loop.serviceId).find((i) => i.executorId === loop.executorId)?.serviceName ?? '';
    this.deps.logger.info({ serviceId: loop.serviceId, executorId: loop.executorId, reason }, 'Crash loop ended');
    this.emit(loop.serviceId, serviceName, loop.executorId, { kind: 'RESET', reason });
  }

  /** Starts or stops the health watch of one instance: only a HEALTHY replacement in a loop is watched. */
  private watchHealth(instance: LocalServiceInstanceInfo): void {
    const watched = this.healthWatches.get(instance.instanceId);
    if (instance.state !== 'HEALTHY') {
      if (watched) {
        watched.cancel();
        this.healthWatches.delete(instance.instanceId);
      }
      return;
    }
    if (watched) return;
    const key = keyOf(instance.serviceId, instance.executorId);
    const loop = this.loops.get(key);
    if (!loop || !isReplacementOf(loop, instance)) return;
    const cancel = this.deps.clock.setTimer(() => {
      this.healthWatches.delete(instance.instanceId);
      this.serially(async () => {
        const current = this.loops.get(key);
        if (!current || !isReplacementOf(current, instance)) return;
        await this.deps.store.deleteCrashLoops(current.serviceId, [current.executorId]);
        this.end(current, `Instance ${instance.instanceId} HEALTHY for ${Math.round(this.deps.policy.resetAfterMs / 1000)} seconds`);
        this.armDue();
      }).catch((error: unknown) => this.deps.logger.error({ err: error, key }, 'Could not end a crash loop'));
    }, this.deps.policy.resetAfterMs);
    this.healthWatches.set(instance.instanceId, { key, cancel });
  }

  private watchReplacements(loop: CrashLoop): void {
    for (const instance of this.deps.instances(loop.serviceId)) {
      if (instance.executorId === loop.executorId) this.watchHealth(instance);
    }
  }

  private cancelWatches(key: string): void {
    for (const [instanceId, watch] of this.healthWatches) {
      if (watch.key !== key) continue;
      watch.cancel();
      this.healthWatches.delete(instanceId);
    }
  }

  /** One timer, for the earliest next attempt still ahead; when it fires, the reconciler is woken. */
  private armDue(): void {
    this.cancelDue?.();
    this.cancelDue = undefined;
    if (!this.lifecycle.running) return;
    const now = this.deps.clock.now();
    let earliest = Number.POSITIVE_INFINITY;
    for (const loop of this.loops.values()) if (loop.nextAttemptAt > now) earliest = Math.min(earliest, loop.nextAttemptAt);
    if (earliest === Number.POSITIVE_INFINITY) return;
    this.cancelDue = this.deps.clock.setTimer(() => {
      this.cancelDue = undefined;
      // A timer may fire a little before the clock reads its time: re-arm instead of waking the reconciler early.
      if (this.deps.clock.now() >= earliest) for (const listener of this.dueListeners) listener();
      this.armDue();
    }, earliest - now);
  }

  private emit(
    serviceId: string,
    serviceName: string,
    executorId: string,
    event: Parameters<typeof localServiceCrashLoopMetadata>[1],
    instance?: LocalServiceInstanceInfo,
  ): void {
    const executorHost = instance?.localInfo?.hostname ?? this.deps.hostnameOf(executorId);
    this.deps.events.emit('LOCAL_SERVICE_CRASH_LOOP', localServiceCrashLoopMetadata({ serviceId, serviceName, executorId, executorHost }, event));
  }

  /** Changes apply one at a time, in order; none once the term is stopping (its successor owns the loops). */
  private serially(work: () => Promise<void>): Promise<void> {
    const guarded = () => (this.lifecycle.running ? work() : Promise.resolve());
    const run = this.queue.then(guarded, guarded);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

function keyOf(serviceId: string, executorId: string): string {
  return `${serviceId}\u0000${executorId}`;
}
