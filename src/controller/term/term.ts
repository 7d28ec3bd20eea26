import type { Logger } from 'pino';
import {
  INSTANCE_COUNTED_STATES,
  RunLifecycle,
  isSteady,
  type Clock,
  type RunState,
  type Runnable,
} from '../../model/index.js';
import type { ResolvedOptions } from '../config.js';
import type { EventLog } from '../events.js';
import { BlacklistingService } from '../cluster/blacklisting.js';
import { ClusterStateManager } from '../cluster/maintenance.js';
import type { ExecutorMessenger } from '../cluster/messenger.js';
import { ExecutorRegistry } from '../cluster/registry.js';
import { Scheduler } from '../cluster/scheduler.js';
import type { EngineTimings } from '../engine/deps.js';
import type { ControllerMetricsHooks } from '../metrics/hooks.js';
import { LocalServiceEngine } from '../engine/local-service-engine.js';
import { Reconciler } from '../reconcile/reconciler.js';
import { StaleCleaner } from '../reconcile/stale-cleaner.js';
import type { StateStore, StoredState } from '../store/store.js';
import { WorkingSet, type InstanceChange } from './working-set.js';
import type { TermView } from '../queries/view.js';
import { MessageIntake } from './intake.js';
import { CrashLoops } from './crash-loops.js';

/**
 * What outlives leader terms, owned by the controller process: the store, the event log (its subscribers, such as
 * server-sent-event streams, stay connected through a leadership change, and its time floor keeps event times
 * increasing across terms), the messenger (its connection pool has nothing term-specific in it), options and the
 * instance token secret.
 */
export interface TermContext {
  store: StateStore;
  events: EventLog;
  messenger: ExecutorMessenger;
  clock: Clock;
  logger: Logger;
  options: ResolvedOptions;
  timings: EngineTimings;
  /** This controller's name, in events and message headers. */
  hostname: string;
  instanceAuthSecret: string;
  instanceTokenLifetimeMs: number;
  /** What the term's parts report to the process's metrics (they outlive terms). */
  metrics: ControllerMetricsHooks;
}

/**
 * One leadership term: built from the stored state when this controller gains leadership, stopped and discarded
 * when it loses it; a later gain builds a new one. It owns everything that only the leader has: the working set,
 * the executor registry, maintenance, the scheduler (its reservations mean nothing to a successor), the engine
 * with one state machine per service, the reconciler and the stale cleaner. Its parts never ask whether they lead:
 * they exist only while they do.
 */
export class LeaderTerm implements Runnable {
  readonly workingSet: WorkingSet;
  readonly registry: ExecutorRegistry;
  readonly maintenance: ClusterStateManager;
  readonly scheduler: Scheduler;
  readonly blacklisting: BlacklistingService;
  readonly engine: LocalServiceEngine;
  readonly reconciler: Reconciler;
  readonly staleCleaner: StaleCleaner;
  readonly intake: MessageIntake;
  readonly crashLoops: CrashLoops;
  private readonly lifecycle = new RunLifecycle('leader term');

  /** Reads the whole state from the store and builds a term on it (not started). */
  static async load(context: TermContext): Promise<LeaderTerm> {
    return new LeaderTerm(context, await context.store.load());
  }

  constructor(
    context: TermContext,
    stored: StoredState,
  ) {
    const { store, events, messenger, clock, logger, options } = context;
    this.workingSet = new WorkingSet(store, events, {
      services: stored.services,
      instances: stored.instances,
      loadedAt: clock.now(),
    });
    this.registry = new ExecutorRegistry({
      clock,
      store,
      events,
      options: { staleExecutorAgeMs: options.staleExecutorAgeMs },
      stored: stored.executors,
    });
    this.maintenance = new ClusterStateManager({
      clock,
      store,
      events,
      options: { maintenanceGraceMs: options.maintenanceGraceMs, controllerHostname: context.hostname },
      stored: stored.clusterState,
    });
    this.scheduler = new Scheduler({ registry: this.registry, clock });
    this.crashLoops = new CrashLoops({
      store,
      events,
      clock,
      logger,
      policy: options.crashLoopBackoff,
      stored: stored.crashLoops,
      instances: (serviceId) => this.workingSet.instances(serviceId),
      hostnameOf: (executorId) => this.registry.byId(executorId)?.address.hostname,
    });
    this.blacklisting = new BlacklistingService({ registry: this.registry, messenger, clock });
    this.engine = new LocalServiceEngine(
      {
        options,
        timings: context.timings,
        clock,
        logger,
        workingSet: this.workingSet,
        executors: this.registry,
        scheduler: this.scheduler,
        messenger,
        events,
        crashLoops: this.crashLoops,
        instanceAuthSecret: context.instanceAuthSecret,
        instanceTokenLifetimeMs: context.instanceTokenLifetimeMs,
        controllerHostname: context.hostname,
        metrics: context.metrics,
      },
      stored.services,
    );
    this.reconciler = new Reconciler({
      engine: this.engine,
      workingSet: this.workingSet,
      executors: this.registry,
      crashLoops: this.crashLoops,
      sweepExecutors: () => this.registry.sweepStale(),
      heldStaleExecutors: () => this.registry.heldStale(),
      inMaintenanceWindow: () => this.maintenance.inMaintenanceWindow(),
      clock,
      options,
      logger,
      metrics: context.metrics,
    });
    this.staleCleaner = new StaleCleaner({ engine: this.engine, workingSet: this.workingSet, clock, options, logger });
    this.intake = new MessageIntake({ registry: this.registry, workingSet: this.workingSet, logger });

    // What wakes the reconciler before its periodic pass: an executor joined, left, changed state or tags; an instance
    // appeared or stopped counting; a service reached a steady state; a crash-loop backoff is over.
    this.registry.onChange(() => this.reconciler.trigger());
    this.workingSet.onChange((changes) => {
      this.crashLoops.observe(changes);
      if (changes.some(needsReconciliation)) this.reconciler.trigger();
    });
    this.engine.onStateChange((serviceId, _from, to) => {
      if (to === 'DESTROYED') this.crashLoops.forget(serviceId);
      if (isSteady(to)) this.reconciler.trigger();
    });
    this.crashLoops.onDue(() => this.reconciler.trigger());
  }

  get runState(): RunState {
    return this.lifecycle.state;
  }

  /** The read-only view the queries answer from. */
  get view(): TermView {
    return this;
  }

  start(): void {
    this.lifecycle.start();
    this.crashLoops.start();
    this.engine.start();
    this.reconciler.start();
    this.staleCleaner.start();
  }

  /**
   * The reconciler and the cleaner first (they submit operations), then the engine, whose stop aborts every job
   * and waits for them: stop jobs end at once instead of waiting out their timeout, so a successor is not held up.
   */
  stop(): Promise<void> {
    return this.lifecycle.stop(async () => {
      await this.reconciler.stop();
      await this.staleCleaner.stop();
      await this.engine.stop();
      await this.crashLoops.stop();
      this.scheduler.close();
    });
  }
}

/** A new record, or one that stopped counting towards the desired instances, can mean work for the reconciler. */
function needsReconciliation(change: InstanceChange): boolean {
  if (!change.previous) return true;
  if (change.previous.state === change.instance.state) return false;
  return INSTANCE_COUNTED_STATES.has(change.previous.state) && !INSTANCE_COUNTED_STATES.has(change.instance.state);
}
