import { pino, type Logger } from 'pino';
import {
  ACTIVATION_STATES,
  INSTANCE_ACTIVE_STATES,
  LOCAL_SERVICE_STATES,
  MAINTENANCE_MESSAGE,
  NOT_LEADER_MESSAGE,
  cpuCount,
  maskSpec,
  memoryMb,
  summarize,
  systemClock,
  type ActivationState,
  type BlacklistOperationResponse,
  type Clock,
  type ClusterStateData,
  type ClusterSummary,
  type ControllerMessage,
  type DroveEvent,
  type DroveEventsList,
  type DroveEventsSummary,
  type ExecutorAddress,
  type ExecutorNodeData,
  type ExecutorSummary,
  type KnownInstancesData,
  type LocalServiceInstanceInfo,
  type LocalServiceInstanceResources,
  type LocalServiceInstanceState,
  type LocalServiceOperation,
  type LocalServiceSpec,
  type LocalServiceState,
  type LocalServiceSummary,
  type MessageResponse,
} from '../model/index.js';
import { resolveOptions, type ControllerConfig, type ResolvedOptions } from './config.js';
import type { ControllerCore, DashboardData, OperationResult } from './core.js';
import type { StateStore } from './store/store.js';
import type { LeaderElector } from './leadership/leadership.js';
import { SingleLeaderElector } from './leadership/single.js';
import type { ExecutorMessenger } from './cluster/messenger.js';
import { EventLog } from './events.js';
import { ExecutorRegistry, addressOf } from './cluster/registry.js';
import { Scheduler } from './cluster/scheduler.js';
import { ClusterStateManager } from './cluster/maintenance.js';
import { BlacklistingService } from './cluster/blacklisting.js';
import { HttpExecutorMessenger } from './executor-client.js';
import { WorkingSet, type InstanceChange } from './working-set.js';
import { Engine } from './engine/engine.js';
import { DEFAULT_ENGINE_TIMINGS, type EngineDeps, type EngineTimings } from './engine/deps.js';
import type { ExecutorDirectory, ExecutorView, InstanceScheduler } from './engine/ports.js';
import { isSteady } from './engine/state-machine.js';
import { Reconciler, type ExecutorInstancesSnapshot } from './reconciler.js';
import { RUNNING_STATES, STARTING_STATES } from './reconciler-plan.js';
import { StaleCleaner } from './stale-cleaner.js';

export interface CreateControllerOptions {
  config: ControllerConfig;
  store: StateStore;
  leadership?: LeaderElector;
  clock?: Clock;
  messenger?: ExecutorMessenger;
  logger?: Logger;
  /** Name other nodes use for this controller (NodeId header, events, leader address). */
  hostname: string;
  port: number;
  /** Engine constants (message retry cadence, config fetch limits); tests and the bench shorten them. */
  timings?: Partial<EngineTimings>;
}

export interface Controller extends ControllerCore {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The parts, for tests, the bench and the embedded dev mode; not for the API. */
  readonly parts: ControllerParts;
}

export interface ControllerParts {
  engine: Engine;
  reconciler: Reconciler;
  workingSet: WorkingSet;
  registry: ExecutorRegistry;
  events: EventLog;
  maintenance: ClusterStateManager;
  staleCleaner: StaleCleaner;
  options: ResolvedOptions;
}

/** Top services on the dashboard. */
const DASHBOARD_TOP_SERVICES = 10;

export async function createController(opts: CreateControllerOptions): Promise<Controller> {
  return new DroveController(opts);
}

/**
 * The controller core behind the HTTP API: composes the working set, engine, reconciler and cluster parts,
 * and starts/stops the leader-only ones when leadership changes (decision 12).
 */
class DroveController implements Controller {
  readonly parts: ControllerParts;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly leadership: LeaderElector;
  private readonly messenger: ExecutorMessenger;
  private readonly ownsMessenger: boolean;
  private readonly blacklisting: BlacklistingService;
  private scheduler: Scheduler | undefined;
  private leading = false;
  private readonly unsubscribes: Array<() => void> = [];
  private transitions: Promise<void> = Promise.resolve();

  constructor(private readonly opts: CreateControllerOptions) {
    const { config, store, hostname } = opts;
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? pino({ level: config.logLevel, name: 'drove-controller' });
    this.leadership = opts.leadership ?? new SingleLeaderElector(`${hostname}:${opts.port}`);
    const options = resolveOptions(config.options);
    const clusterSecret = config.clusterAuth.secrets.find((s) => s.nodeType === 'CONTROLLER')?.secret;
    this.ownsMessenger = !opts.messenger;
    this.messenger = opts.messenger ?? new HttpExecutorMessenger({ controllerHostname: hostname, clusterSecret });
    const events = new EventLog(this.clock, { maxEventsStorageMs: options.maxEventsStorageMs });
    const registry = new ExecutorRegistry({
      clock: this.clock,
      store,
      events,
      options: { staleExecutorAgeMs: options.staleExecutorAgeMs },
    });
    const maintenance = new ClusterStateManager({
      clock: this.clock,
      store,
      events,
      options: { maintenanceGraceMs: options.maintenanceGraceMs, controllerHostname: hostname },
    });
    this.blacklisting = new BlacklistingService({ registry, messenger: this.messenger, clock: this.clock });
    const workingSet = new WorkingSet(store, events);
    const directory: ExecutorDirectory = {
      executors: () => registry.all().map(toView),
      executor: (id) => {
        const record = registry.byId(id);
        return record && toView(record);
      },
    };
    // One scheduler per leadership term (its reservations mean nothing to a successor); the engine sees a
    // stable facade.
    const scheduler: InstanceScheduler = {
      openSession: () => {
        if (!this.scheduler) throw new Error('Not the leader: no scheduler');
        return this.scheduler.openSession();
      },
    };
    const deps: EngineDeps = {
      options,
      timings: { ...DEFAULT_ENGINE_TIMINGS, ...opts.timings },
      clock: this.clock,
      logger: this.logger,
      workingSet,
      executors: directory,
      scheduler,
      messenger: this.messenger,
      events,
      instanceAuthSecret: config.instanceAuth.secret,
      controllerHostname: hostname,
    };
    const engine = new Engine(deps);
    const reconciler = new Reconciler({
      engine,
      workingSet,
      executors: directory,
      sweepExecutors: () => registry.sweepStale(),
      executorSnapshot: (executorId) => instancesSnapshotOf(registry.byId(executorId)?.nodeData),
      inMaintenanceWindow: () => maintenance.inMaintenanceWindow(),
      isLeader: () => this.isLeader(),
      clock: this.clock,
      options,
      logger: this.logger,
    });
    const staleCleaner = new StaleCleaner({
      engine,
      workingSet,
      isLeader: () => this.isLeader(),
      clock: this.clock,
      options,
      logger: this.logger,
    });
    this.parts = { engine, reconciler, workingSet, registry, events, maintenance, staleCleaner, options };

    // Reconciliation triggers (decision 5).
    this.unsubscribes.push(
      registry.onChange(() => reconciler.trigger()),
      workingSet.onChange((changes) => {
        if (changes.some(needsReconciliation)) reconciler.trigger();
      }),
      engine.onStateChange((_id, _from, to) => {
        if (isSteady(to)) reconciler.trigger();
      }),
    );
  }

  // ---- lifecycle ----

  async start(): Promise<void> {
    await this.leadership.start({
      onAcquired: () => this.serialise(() => this.acquire()),
      onLost: () => this.serialise(() => this.lose()),
    });
  }

  async stop(): Promise<void> {
    await this.leadership.stop();
    // An elector may have nothing to hand back (already not leading); make sure the leader-only parts are down.
    await this.serialise(() => this.lose());
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
    this.parts.events.close();
    if (this.ownsMessenger && this.messenger instanceof HttpExecutorMessenger) await this.messenger.close();
  }

  private serialise(work: () => Promise<void>): Promise<void> {
    const next = this.transitions.then(work, work);
    this.transitions = next.catch(() => undefined);
    return next;
  }

  private async acquire(): Promise<void> {
    if (this.leading) return;
    const { workingSet, registry, maintenance, engine, events, reconciler, staleCleaner } = this.parts;
    const stored = await this.opts.store.load();
    workingSet.load(stored.services, stored.instances, this.clock.now());
    registry.restore(stored.executors);
    maintenance.restore(stored.clusterState);
    this.scheduler = new Scheduler({ registry, clock: this.clock });
    // Decision 13: stored services get their state machine back without re-validation.
    engine.restore(stored.services);
    events.clear();
    events.leadershipAcquired(this.opts.hostname);
    this.leading = true;
    reconciler.start();
    staleCleaner.start();
    this.logger.info({ services: stored.services.length, instances: stored.instances.length }, 'Leadership acquired');
  }

  private async lose(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    const { workingSet, registry, engine, events, reconciler, staleCleaner } = this.parts;
    await reconciler.stop();
    await staleCleaner.stop();
    // Decision 12: drop every state machine; a later gain rebuilds them from the store.
    await engine.stop();
    this.scheduler?.close();
    this.scheduler = undefined;
    workingSet.clear();
    registry.clear();
    events.clear();
    events.leadershipLost(this.opts.hostname);
    this.logger.info('Leadership lost');
  }

  // ---- leadership ----

  isLeader(): boolean {
    return this.leading && this.leadership.isLeader();
  }

  leaderAddress(): string | undefined {
    return this.leadership.leaderAddress();
  }

  // ---- operations ----

  async submitOperation(op: LocalServiceOperation): Promise<OperationResult> {
    if (!this.isLeader()) return { ok: false, errors: [NOT_LEADER_MESSAGE] };
    if (this.inMaintenanceWindow()) return { ok: false, errors: [MAINTENANCE_MESSAGE] };
    return this.parts.engine.submit(op);
  }

  validateSpec(spec: LocalServiceSpec): string[] {
    return this.parts.engine.validateSpec(spec);
  }

  cancelOperation(serviceId: string): boolean {
    return this.parts.engine.cancel(serviceId);
  }

  inMaintenanceWindow(): boolean {
    return this.parts.maintenance.inMaintenanceWindow();
  }

  // ---- reads ----

  listServices(from: number, size: number): Record<string, LocalServiceSummary> {
    const services = this.parts.workingSet.services().sort((a, b) => (a.serviceId < b.serviceId ? -1 : a.serviceId > b.serviceId ? 1 : 0));
    const out: Record<string, LocalServiceSummary> = {};
    for (const info of services.slice(Math.max(0, from), Math.max(0, from) + Math.max(0, size))) {
      out[info.serviceId] = this.summaryOf(info.serviceId)!;
    }
    return out;
  }

  serviceSummary(serviceId: string): LocalServiceSummary | undefined {
    return this.summaryOf(serviceId);
  }

  serviceSpec(serviceId: string): LocalServiceSpec | undefined {
    const info = this.parts.workingSet.service(serviceId);
    return info && maskSpec(info.spec);
  }

  serviceInstances(serviceId: string, states?: readonly LocalServiceInstanceState[]): LocalServiceInstanceInfo[] {
    const { workingSet, options } = this.parts;
    const current = workingSet.currentInstances(serviceId, this.clock.now(), options.instanceStaleAgeMs);
    if (!states || states.length === 0) return current;
    const wanted = new Set(states);
    return current.filter((i) => wanted.has(i.state));
  }

  serviceInstance(serviceId: string, instanceId: string): LocalServiceInstanceInfo | undefined {
    return this.parts.workingSet.instance(serviceId, instanceId);
  }

  oldServiceInstances(serviceId: string): LocalServiceInstanceInfo[] {
    return this.parts.workingSet.instances(serviceId).filter((i) => !INSTANCE_ACTIVE_STATES.has(i.state));
  }

  private summaryOf(serviceId: string): LocalServiceSummary | undefined {
    const info = this.parts.workingSet.service(serviceId);
    if (!info) return undefined;
    return summarize(info, this.parts.workingSet.instances(serviceId), this.parts.engine.stateOf(serviceId));
  }

  // ---- cluster ----

  clusterSummary(): ClusterSummary {
    const { registry, workingSet, engine, maintenance } = this.parts;
    let numExecutors = 0;
    let freeCores = 0;
    let usedCores = 0;
    let freeMemory = 0;
    let usedMemory = 0;
    for (const record of registry.all()) {
      if (record.state !== 'ACTIVE') continue;
      numExecutors++;
      const snapshot = record.nodeData.state;
      for (const ids of Object.values(snapshot.cpus.freeCores)) freeCores += ids.length;
      for (const ids of Object.values(snapshot.cpus.usedCores)) usedCores += ids.length;
      for (const mb of Object.values(snapshot.memory.freeMemory)) freeMemory += mb;
      for (const mb of Object.values(snapshot.memory.usedMemory)) usedMemory += mb;
    }
    let numActiveLocalServices = 0;
    for (const id of engine.serviceIds()) {
      const state = engine.stateOf(id);
      if (state === 'ACTIVE' || state === 'CONFIG_TESTING') numActiveLocalServices++;
    }
    return {
      leader: this.leaderAddress() ?? 'Leader election underway',
      state: maintenance.state().state,
      numExecutors,
      numApplications: 0,
      numActiveApplications: 0,
      numActiveTasks: 0,
      numLocalServices: workingSet.serviceCount(),
      numActiveLocalServices,
      freeCores,
      usedCores,
      totalCores: freeCores + usedCores,
      freeMemory,
      usedMemory,
      totalMemory: freeMemory + usedMemory,
    };
  }

  dashboard(): DashboardData {
    const serviceCountByState = Object.fromEntries(LOCAL_SERVICE_STATES.map((s) => [s, 0])) as Record<LocalServiceState, number>;
    const serviceCountByActivationState = Object.fromEntries(ACTIVATION_STATES.map((s) => [s, 0])) as Record<ActivationState, number>;
    const summaries: LocalServiceSummary[] = [];
    let totalHealthyInstances = 0;
    for (const info of this.parts.workingSet.services()) {
      const summary = this.summaryOf(info.serviceId)!;
      summaries.push(summary);
      if (summary.state) serviceCountByState[summary.state]++;
      serviceCountByActivationState[summary.activationState]++;
      totalHealthyInstances += summary.healthyInstances;
    }
    const topServices = summaries
      .sort((a, b) => b.healthyInstances - a.healthyInstances || (a.id < b.id ? -1 : 1))
      .slice(0, DASHBOARD_TOP_SERVICES);
    return {
      serviceStats: { serviceCountByState, serviceCountByActivationState, topServices, totalHealthyInstances },
      clusterSummary: this.clusterSummary(),
    };
  }

  executorSummaries(): ExecutorSummary[] {
    return this.parts.registry.summaries();
  }

  executorNodeData(executorId: string): ExecutorNodeData | undefined {
    const { registry } = this.parts;
    return registry.byId(executorId)?.nodeData ?? registry.lastKnown(executorId)?.nodeData;
  }

  blacklist(executorIds: string[]): Promise<BlacklistOperationResponse> {
    return this.blacklisting.blacklist(executorIds);
  }

  unblacklist(executorIds: string[]): Promise<BlacklistOperationResponse> {
    return this.blacklisting.unblacklist(executorIds);
  }

  setMaintenance(on: boolean): Promise<ClusterStateData> {
    return this.parts.maintenance.set(on);
  }

  // ---- events ----

  latestEvents(lastSyncTime: number, size: number): DroveEventsList {
    return this.parts.events.latest(lastSyncTime, size);
  }

  eventsSummary(lastSyncTime: number): DroveEventsSummary {
    return this.parts.events.summary(lastSyncTime);
  }

  onEvent(listener: (event: DroveEvent) => void): () => void {
    return this.parts.events.subscribe(listener);
  }

  // ---- internal APIs ----

  /**
   * What an UNREADY executor waits for (§6.7, §6.9). Only ACTIVE services: a CONFIG_TESTING service runs one
   * instance cluster-wide, so no executor can be required to run it (decision 8). Keyed on the activation
   * state rather than the runner's state so an executor joining during an ADJUST still waits for its instances.
   */
  reservedResources(): LocalServiceInstanceResources {
    const out: LocalServiceInstanceResources = { cpus: 0, memory: 0, requiredInstances: {} };
    for (const info of this.parts.workingSet.services()) {
      if (info.activationState !== 'ACTIVE' || !this.parts.engine.stateOf(info.serviceId)) continue;
      out.requiredInstances[info.serviceId] = info.instancesPerHost;
      out.cpus += info.instancesPerHost * cpuCount(info.spec);
      out.memory += info.instancesPerHost * memoryMb(info.spec);
    }
    return out;
  }

  knownInstances(executorId: string, which: 'last' | 'current'): KnownInstancesData | undefined {
    const { registry, workingSet, engine } = this.parts;
    const current = registry.byId(executorId)?.nodeData;
    // `last` serves an executor that restarted: its removed-executor snapshot if it was removed meanwhile,
    // otherwise the snapshot from before the restart.
    const nodeData = which === 'current' ? current : (registry.lastKnown(executorId)?.nodeData ?? current);
    if (!nodeData) return undefined;
    const known: string[] = [];
    const stale: string[] = [];
    const byService = new Map<string, string[]>();
    for (const instance of nodeData.serviceInstances) {
      let ids = byService.get(instance.serviceId);
      if (!ids) byService.set(instance.serviceId, (ids = []));
      ids.push(instance.instanceId);
    }
    for (const [serviceId, ids] of byService) {
      const info = workingSet.service(serviceId);
      const state = engine.stateOf(serviceId);
      const running = info && state && info.activationState !== 'INACTIVE';
      const keep = running ? info.instancesPerHost : 0;
      known.push(...ids.slice(0, keep));
      stale.push(...ids.slice(keep));
    }
    return {
      appInstanceIds: [],
      staleAppInstanceIds: [],
      taskInstanceIds: [],
      staleTaskInstanceIds: [],
      localServiceInstanceIds: known,
      staleLocalServiceInstanceIds: stale,
    };
  }

  async handleControllerMessage(message: ControllerMessage): Promise<MessageResponse> {
    const reply = (status: MessageResponse['status'], reason?: string): MessageResponse =>
      reason === undefined ? { header: message.header, status } : { header: message.header, status, message: reason };
    if (!this.isLeader()) return reply('REJECTED', NOT_LEADER_MESSAGE);
    const { registry, workingSet } = this.parts;
    try {
      switch (message.type) {
        case 'LOCAL_SERVICE_INSTANCE_STATE_REPORT':
          registry.resourceSnapshot(message.resourceSnapshot, [message.instanceInfo]);
          this.queueReports([message.instanceInfo]);
          return reply('ACCEPTED');
        case 'LOCAL_SERVICE_INSTANCE_STATE_REPORTS':
          registry.resourceSnapshot(message.resourceSnapshot, message.instanceInfos);
          this.queueReports(message.instanceInfos);
          return reply('ACCEPTED');
        case 'EXECUTOR_SNAPSHOT':
          await registry.heartbeat(message.nodeData);
          await workingSet.applyReports(message.nodeData.serviceInstances);
          // Only once its instances are known may anything be started there (a new leader's store may miss some).
          registry.markReported(message.nodeData.state.executorId);
          return reply('ACCEPTED');
      }
    } catch (error) {
      this.logger.error({ err: error, type: message.type }, 'Could not apply executor message');
      return reply('FAILED', (error as Error).message);
    }
  }

  /**
   * ACCEPTED means queued, as in Drove (§6.8): the executor may send its next report at once, so the reports of
   * a busy rollout share store transactions instead of each waiting for its own. A report lost to a store
   * failure is repaired by the executor's next heartbeat, which carries every instance again.
   */
  private queueReports(reports: readonly LocalServiceInstanceInfo[]): void {
    this.parts.workingSet.applyReports(reports).catch((error: unknown) => {
      this.logger.error({ err: error, count: reports.length }, 'Could not store instance reports');
    });
  }

  instanceExecutorAddress(serviceId: string, instanceId: string): ExecutorAddress | undefined {
    const instance = this.parts.workingSet.instance(serviceId, instanceId);
    if (!instance) return undefined;
    const { registry } = this.parts;
    const nodeData = registry.byId(instance.executorId)?.nodeData ?? registry.lastKnown(instance.executorId)?.nodeData;
    return nodeData && addressOf(nodeData);
  }
}

function toView(record: { executorId: string; state: ExecutorView['state']; nodeData: ExecutorNodeData; reported: boolean }): ExecutorView {
  return { executorId: record.executorId, state: record.state, address: addressOf(record.nodeData), reported: record.reported };
}

/** Instance ids of a heartbeat document, built once per document (the reconciler asks on every pass). */
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

/** A new record, or one that stopped counting towards the desired instances, can mean work for the reconciler. */
function needsReconciliation(change: InstanceChange): boolean {
  if (!change.previous) return true;
  if (change.previous.state === change.instance.state) return false;
  const counted = (s: LocalServiceInstanceState) => STARTING_STATES.has(s) || RUNNING_STATES.has(s);
  return counted(change.previous.state) && !counted(change.instance.state);
}
