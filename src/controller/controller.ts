import { pino, type Logger } from 'pino';
import {
  MAINTENANCE_MESSAGE,
  NOT_LEADER_MESSAGE,
  RunLifecycle,
  durationMs,
  systemClock,
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
  type LocalServiceSummary,
  type MessageResponse,
  type RunState,
  type Runnable,
} from '../model/index.js';
import { peerTlsOptions } from '../model/tls.js';
import { resolveOptions, type ControllerConfig, type ResolvedOptions } from './config.js';
import { NotLeaderError, type ControllerCore, type DashboardData, type OperationResult } from './core.js';
import { HttpExecutorMessenger } from './cluster/http-messenger.js';
import type { ExecutorMessenger } from './cluster/messenger.js';
import { DEFAULT_ENGINE_TIMINGS, type EngineTimings } from './engine/deps.js';
import { validateSpec } from './engine/validator.js';
import { EventLog } from './events.js';
import { generateSecret } from './instance-secret.js';
import type { LeaderElector } from './leadership/leadership.js';
import { SingleLeaderElector } from './leadership/single.js';
import * as cluster from './queries/cluster.js';
import * as internal from './queries/internal.js';
import * as services from './queries/services.js';
import { EMPTY_VIEW, type TermView } from './queries/view.js';
import type { StateStore } from './store/store.js';
import { reply } from './term/intake.js';
import { LeaderTerm, type TermContext } from './term/term.js';

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

export async function createController(opts: CreateControllerOptions): Promise<Controller> {
  return new Controller(opts);
}

/**
 * The controller: an elector, and the leader term it starts when this controller gains leadership and stops when
 * it loses it (leadership changes run one at a time, in order). Behind the API seam (ControllerCore) every call
 * goes to the current term; with none, reads answer as an empty cluster and writes as a non-leader.
 */
export class Controller implements ControllerCore, Runnable {
  readonly options: ResolvedOptions;
  readonly events: EventLog;
  private readonly lifecycle = new RunLifecycle('controller');
  private readonly context: TermContext;
  private readonly leadership: LeaderElector;
  private readonly ownedMessenger: HttpExecutorMessenger | undefined;
  private current: LeaderTerm | undefined;
  private transitions: Promise<void> = Promise.resolve();

  constructor(opts: CreateControllerOptions) {
    const { config, hostname } = opts;
    const clock = opts.clock ?? systemClock;
    const logger = opts.logger ?? pino({ level: config.logLevel, name: 'drove-controller' });
    this.leadership = opts.leadership ?? new SingleLeaderElector(`${hostname}:${opts.port}`);
    this.options = resolveOptions(config.options);
    this.events = new EventLog(clock, { maxEventsStorageMs: this.options.maxEventsStorageMs });
    const clusterSecret = config.clusterAuth.secrets.find((s) => s.nodeType === 'CONTROLLER')?.secret;
    this.ownedMessenger = opts.messenger
      ? undefined
      : new HttpExecutorMessenger({ controllerHostname: hostname, clusterSecret, tls: peerTlsOptions(config.clusterTls) });
    this.context = {
      store: opts.store,
      events: this.events,
      messenger: opts.messenger ?? this.ownedMessenger!,
      clock,
      logger,
      options: this.options,
      timings: { ...DEFAULT_ENGINE_TIMINGS, ...opts.timings },
      hostname,
      // startControllerServer always sets it (safe-defaults.ts); a controller embedded without it (tests, bench)
      // signs with a secret of this process only, never a well-known one.
      instanceAuthSecret: config.instanceAuth.secret ?? generateSecret(),
      instanceTokenLifetimeMs: durationMs(config.instanceAuth.tokenLifetime),
    };
  }

  get runState(): RunState {
    return this.lifecycle.state;
  }

  /** The current leader term, while this controller leads (tests, the bench and the embedded dev mode). */
  get term(): LeaderTerm | undefined {
    return this.current;
  }

  // ---- lifecycle ----

  async start(): Promise<void> {
    this.lifecycle.start();
    this.events.start();
    await this.leadership.start({
      onAcquired: () => this.serialise(() => this.beginTerm()),
      onLost: () => this.serialise(() => this.endTerm()),
    });
  }

  stop(): Promise<void> {
    return this.lifecycle.stop(async () => {
      await this.leadership.stop();
      // An elector may have nothing to hand back (already not leading); make sure the term has ended.
      await this.serialise(() => this.endTerm());
      await this.events.stop();
      await this.ownedMessenger?.close();
    });
  }

  private serialise(work: () => Promise<void>): Promise<void> {
    const next = this.transitions.then(work, work);
    this.transitions = next.catch(() => undefined);
    return next;
  }

  private async beginTerm(): Promise<void> {
    if (this.current || !this.lifecycle.running) return;
    const term = await LeaderTerm.load(this.context);
    // Events are the leader's own: a term starts with none but its LEADERSHIP_ACQUIRED.
    this.events.clear();
    this.events.leadershipAcquired(this.context.hostname);
    this.current = term;
    term.start();
    const { workingSet } = term;
    this.context.logger.info({ services: workingSet.serviceCount(), instances: [...workingSet.allInstances()].length }, 'Leadership acquired');
  }

  private async endTerm(): Promise<void> {
    const term = this.current;
    if (!term) return;
    this.current = undefined;
    await term.stop();
    this.events.clear();
    this.events.leadershipLost(this.context.hostname);
    this.context.logger.info('Leadership lost');
  }

  /** The term, while the elector still says this controller leads (it may know of a loss before onLost runs). */
  private leading(): LeaderTerm | undefined {
    return this.current && this.leadership.isLeader() ? this.current : undefined;
  }

  private view(): TermView {
    return this.leading()?.view ?? EMPTY_VIEW;
  }

  private now(): number {
    return this.context.clock.now();
  }

  // ---- leadership ----

  isLeader(): boolean {
    return this.leading() !== undefined;
  }

  leaderAddress(): string | undefined {
    return this.leadership.leaderAddress();
  }

  // ---- operations ----

  async submitOperation(op: LocalServiceOperation): Promise<OperationResult> {
    const term = this.leading();
    if (!term) return { ok: false, errors: [NOT_LEADER_MESSAGE] };
    if (term.maintenance.inMaintenanceWindow()) return { ok: false, errors: [MAINTENANCE_MESSAGE] };
    return term.engine.submit(op);
  }

  validateSpec(spec: LocalServiceSpec): string[] {
    return validateSpec(spec, this.options.raw);
  }

  cancelOperation(serviceId: string): boolean {
    return this.leading()?.engine.cancel(serviceId) ?? false;
  }

  inMaintenanceWindow(): boolean {
    return this.leading()?.maintenance.inMaintenanceWindow() ?? false;
  }

  // ---- reads ----

  listServices(from: number, size: number): Record<string, LocalServiceSummary> {
    return services.listServices(this.view(), from, size);
  }

  serviceSummary(serviceId: string): LocalServiceSummary | undefined {
    return services.serviceSummary(this.view(), serviceId);
  }

  serviceSpec(serviceId: string): LocalServiceSpec | undefined {
    return services.serviceSpec(this.view(), serviceId);
  }

  serviceInstances(serviceId: string, states?: readonly LocalServiceInstanceState[]): LocalServiceInstanceInfo[] {
    return services.serviceInstances(this.view(), serviceId, states, this.now(), this.options.instanceStaleAgeMs);
  }

  serviceInstance(serviceId: string, instanceId: string): LocalServiceInstanceInfo | undefined {
    return this.view().workingSet.instance(serviceId, instanceId);
  }

  oldServiceInstances(serviceId: string): LocalServiceInstanceInfo[] {
    return services.oldServiceInstances(this.view(), serviceId);
  }

  // ---- cluster ----

  clusterSummary(): ClusterSummary {
    return cluster.clusterSummary(this.view(), this.leaderAddress());
  }

  dashboard(): DashboardData {
    return cluster.dashboard(this.view(), this.leaderAddress());
  }

  executorSummaries(): ExecutorSummary[] {
    return this.view().registry.summaries();
  }

  executorNodeData(executorId: string): ExecutorNodeData | undefined {
    return cluster.executorNodeData(this.view(), executorId);
  }

  async blacklist(executorIds: string[]): Promise<BlacklistOperationResponse> {
    return this.leadingOrRefuse().blacklisting.blacklist(executorIds);
  }

  async unblacklist(executorIds: string[]): Promise<BlacklistOperationResponse> {
    return this.leadingOrRefuse().blacklisting.unblacklist(executorIds);
  }

  async setMaintenance(on: boolean): Promise<ClusterStateData> {
    return this.leadingOrRefuse().maintenance.set(on);
  }

  /** Writes a follower must not make (the API's leader guard stops them first; this covers a term ending meanwhile). */
  private leadingOrRefuse(): LeaderTerm {
    const term = this.leading();
    if (!term) throw new NotLeaderError();
    return term;
  }

  // ---- events ----

  latestEvents(lastSyncTime: number, size: number): DroveEventsList {
    return this.events.latest(lastSyncTime, size);
  }

  eventsSummary(lastSyncTime: number): DroveEventsSummary {
    return this.events.summary(lastSyncTime);
  }

  onEvent(listener: (event: DroveEvent) => void): () => void {
    return this.events.subscribe(listener);
  }

  // ---- internal APIs and executor messages ----

  reservedResources(): LocalServiceInstanceResources {
    return internal.reservedResources(this.view());
  }

  knownInstances(executorId: string, which: 'last' | 'current'): KnownInstancesData | undefined {
    return internal.knownInstances(this.view(), executorId, which);
  }

  async handleControllerMessage(message: ControllerMessage): Promise<MessageResponse> {
    const term = this.leading();
    if (!term) return reply(message, 'REJECTED', NOT_LEADER_MESSAGE);
    return term.intake.take(message);
  }

  instanceExecutorAddress(serviceId: string, instanceId: string): ExecutorAddress | undefined {
    return internal.instanceExecutorAddress(this.view(), serviceId, instanceId);
  }
}
