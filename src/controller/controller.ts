import { pino, type Logger } from 'pino';
import { RunLifecycle, durationMs, systemClock, type Clock, type RunState } from '../model/index.js';
import { peerTlsOptions } from '../model/tls.js';
import { resolveOptions, type ControllerConfig, type ResolvedOptions } from './config.js';
import { HttpExecutorMessenger } from './cluster/http-messenger.js';
import type { ExecutorMessenger } from './cluster/messenger.js';
import { DEFAULT_ENGINE_TIMINGS, type EngineTimings } from './engine/deps.js';
import { EventLog } from './events.js';
import { generateSecret } from './instance-secret.js';
import type { LeaderElector } from './leadership/leadership.js';
import { SingleLeaderElector } from './leadership/single.js';
import type { StateStore } from './store/store.js';
import { TermCore } from './term-core.js';
import { LeaderTerm, type TermContext } from './term/term.js';
import { NO_METRICS, type ControllerMetricsHooks } from './metrics/hooks.js';

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
  /** Where the engine, the reconciler and leadership changes are reported (metrics/metrics.ts); default: nowhere. */
  metrics?: ControllerMetricsHooks;
}

export async function createController(opts: CreateControllerOptions): Promise<Controller> {
  return new Controller(opts);
}

/**
 * The controller: an elector, and the leader term it starts when this controller gains leadership and stops when
 * it loses it (leadership changes run one at a time, in order). What the API asks goes to the current term
 * (term-core.ts). Not a Runnable: its start() resolves only once the elector has started (an embedded elector
 * may grant leadership, and so load a term, before it returns).
 */
export class Controller extends TermCore {
  private readonly lifecycle = new RunLifecycle('controller');
  private readonly context: TermContext;
  private readonly leadership: LeaderElector;
  private readonly ownedMessenger: HttpExecutorMessenger | undefined;
  private current: LeaderTerm | undefined;
  private transitions: Promise<void> = Promise.resolve();

  constructor(opts: CreateControllerOptions) {
    const { config, hostname } = opts;
    const clock = opts.clock ?? systemClock;
    const options = resolveOptions(config.options);
    const events = new EventLog(clock, { maxEventsStorageMs: options.maxEventsStorageMs });
    super({ options, events, clock });
    const logger = opts.logger ?? pino({ level: config.logLevel, name: 'drove-controller' });
    this.leadership = opts.leadership ?? new SingleLeaderElector(`${hostname}:${opts.port}`);
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
      metrics: opts.metrics ?? NO_METRICS,
    };
  }

  /** Operator options, durations in ms; shared by every term. */
  get options(): ResolvedOptions {
    return this.shared.options;
  }

  /** The event log; it outlives terms. */
  get events(): EventLog {
    return this.shared.events;
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
    this.context.metrics.leadershipAcquired();
    const { workingSet } = term;
    this.context.logger.info({ services: workingSet.serviceCount(), instances: [...workingSet.allInstances()].length }, 'Leadership acquired');
  }

  private async endTerm(): Promise<void> {
    const term = this.current;
    if (!term) return;
    this.current = undefined;
    await term.stop();
    this.context.metrics.leadershipLost();
    this.events.clear();
    this.events.leadershipLost(this.context.hostname);
    this.context.logger.info('Leadership lost');
  }

  /** The term, while the elector still says this controller leads (it may know of a loss before onLost runs). */
  protected leading(): LeaderTerm | undefined {
    return this.current && this.leadership.isLeader() ? this.current : undefined;
  }

  leaderAddress(): string | undefined {
    return this.leadership.leaderAddress();
  }
}
