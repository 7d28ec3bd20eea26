import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { RetryDelay } from '../model/backoff.js';
import type { Clock } from '../model/clock.js';
import type {
  ExecutorNodeData,
  ExecutorMessage,
  LocalServiceInstanceResources,
  MessageResponse,
} from '../model/executor.js';
import type { LocalServiceInstanceInfo } from '../model/instance.js';
import type { ExecutorState } from '../model/states.js';
import { PlacementPolicySchema, placementAllows, type PlacementPolicy } from '../model/placement.js';
import { EXECUTOR_ELIGIBLE_STATES, EXECUTOR_STATES, isTerminal } from '../model/states.js';
import { errorText } from './checks.js';
import type { ControllerClient } from './controller-client.js';
import type { InstanceEngine } from './instances/instance-engine.js';
import { parseExecutorMessage, respond } from './message-parser.js';
import { Reporter } from './reporter.js';
import type { ResourceManager } from './resources.js';

export interface AgentOptions {
  hostname: string;
  port: number;
  /** HTTPS when the executor's listener serves TLS (config `server.tls`): the leader then messages it over HTTPS. */
  transportType: ExecutorNodeData['transportType'];
  executorId: string;
  tags: readonly string[];
  /** Shown in the node data (config resources.metadata, read at start: metadata.ts). */
  metadata: Readonly<Record<string, string>>;
  dataDir: string;
  heartbeatMs: number;
  leaderRetryInitialMs: number;
  leaderRetryMaxMs: number;
  reportBatchWindowMs: number;
  readinessPollMs: number;
}

export interface AgentDeps {
  client: ControllerClient;
  engine: InstanceEngine;
  resources: ResourceManager;
  clock: Clock;
  logger: Logger;
}

const RESERVED_PATH = '/apis/v1/internal/cluster/resources/reserved';
const STATE_FILE = 'executor-state.json';

/**
 * The executor agent: owns the executor state (UNREADY -> ACTIVE by readiness gating, blacklisting), answers
 * controller messages, reports instance changes and sends node data (EXECUTOR_SNAPSHOT) every heartbeat and on
 * change, retrying with backoff while no leader answers.
 */
export class ExecutorAgent {
  private executorState: ExecutorState;
  private readonly reporter: Reporter;
  private cancelHeartbeat: (() => void) | undefined;
  private cancelGating: (() => void) | undefined;
  private readonly heartbeatRetry: RetryDelay;
  private heartbeatInFlight: Promise<void> | undefined;
  private heartbeatAgain = false;
  private stopped = false;
  private readonly unsubscribe: () => void;
  /** The leader that accepted the last node data sent; undefined until one did, and after a delivery failed. */
  private registeredWith: string | undefined;

  constructor(
    private readonly options: AgentOptions,
    private readonly deps: AgentDeps,
  ) {
    this.executorState = this.loadPersistedState();
    this.heartbeatRetry = new RetryDelay(options.leaderRetryInitialMs, options.leaderRetryMaxMs);
    this.reporter = new Reporter(deps.client, () => deps.resources.snapshot(), deps.clock, deps.logger, {
      batchWindowMs: options.reportBatchWindowMs,
      retryInitialMs: options.leaderRetryInitialMs,
      retryMaxMs: options.leaderRetryMaxMs,
      maxAnsweredFailures: 5,
    });
    this.unsubscribe = deps.engine.onChange((info) => this.instanceChanged(info));
  }

  get state(): ExecutorState {
    return this.executorState;
  }

  /** Whether the last heartbeat reached a leader, and which (the executor's readiness, health.ts). */
  leaderContact(): { registered: boolean; leader: string | null } {
    return { registered: this.registeredWith !== undefined, leader: this.registeredWith ?? null };
  }

  start(): void {
    this.scheduleHeartbeat(0);
    if (this.executorState === 'UNREADY') this.scheduleGating(0);
  }

  /** Configured tags and, always, the hostname (Drove's executors do the same). */
  tags(): string[] {
    return [...new Set([this.options.hostname, ...this.options.tags])];
  }

  nodeData(): ExecutorNodeData {
    const tags = this.tags();
    return {
      type: 'EXECUTOR',
      hostname: this.options.hostname,
      port: this.options.port,
      transportType: this.options.transportType,
      updated: this.deps.clock.now(),
      state: this.deps.resources.snapshot(),
      instances: [],
      tasks: [],
      serviceInstances: this.deps.engine.infos(),
      tags,
      metadata: { ...this.options.metadata },
      executorState: this.executorState,
    };
  }

  /**
   * `POST /apis/v1/messages`: always a MessageResponse, never an exception. `requestId` is the controller's
   * (docs/request-ids.md): every START and STOP is logged with it.
   */
  handle(raw: unknown, context: { requestId?: string } = {}): MessageResponse {
    const parsed = parseExecutorMessage(raw, this.deps.clock.now());
    if (!parsed.ok) {
      this.deps.logger.warn({ reason: parsed.response.message }, 'malformed executor message');
      return parsed.response;
    }
    const message = parsed.message;
    try {
      const response = this.dispatch(message);
      this.logHandled(message, response, context.requestId);
      return response;
    } catch (error) {
      this.deps.logger.error({ type: message.type, error: errorText(error) }, 'executor message failed');
      return respond(message.header, 'FAILED', errorText(error));
    }
  }

  private dispatch(message: ExecutorMessage): MessageResponse {
    if (message.address.executorId !== this.options.executorId) {
      return respond(
        message.header,
        'FAILED',
        `Message addressed to executor ${message.address.executorId}; this is ${this.options.executorId}`,
      );
    }
    switch (message.type) {
      case 'START_LOCAL_SERVICE_INSTANCE': {
        if (!EXECUTOR_ELIGIBLE_STATES.has(this.executorState)) {
          return respond(message.header, 'FAILED', `Executor is ${this.executorState}; it does not start instances`);
        }
        const result = this.deps.engine.start(message.spec);
        return result.ok ? respond(message.header, 'ACCEPTED') : respond(message.header, 'FAILED', result.reason);
      }
      case 'STOP_LOCAL_SERVICE_INSTANCE': {
        // A STOP again for an instance already stopping is the same message again (a re-send, or a pipelined
        // connection's replay: docs/design/executor-protocol.md#transport), not a refused one.
        if (this.deps.engine.get(message.instanceId)?.stopRequested()) return respond(message.header, 'ACCEPTED');
        const result = this.deps.engine.stop(message.instanceId);
        return result.ok ? respond(message.header, 'ACCEPTED') : respond(message.header, 'FAILED', result.reason);
      }
      case 'BLACKLIST_REQUESTED':
        this.setState('BLACKLIST_REQUESTED');
        return respond(message.header, 'ACCEPTED');
      case 'BLACKLIST':
        // Local services keep running on a blacklisted executor; there are no app instances to drain here.
        this.setState('BLACKLISTED');
        return respond(message.header, 'ACCEPTED');
      case 'UNBLACKLIST':
        this.setState('UNREADY');
        return respond(message.header, 'ACCEPTED');
    }
  }

  private logHandled(message: ExecutorMessage, response: MessageResponse, requestId: string | undefined): void {
    const instance =
      message.type === 'START_LOCAL_SERVICE_INSTANCE'
        ? { serviceId: message.spec.serviceId, instanceId: message.spec.instanceId }
        : message.type === 'STOP_LOCAL_SERVICE_INSTANCE'
          ? { serviceId: this.deps.engine.get(message.instanceId)?.spec.serviceId ?? null, instanceId: message.instanceId }
          : undefined;
    if (!instance) return;
    const fields = { type: message.type, ...instance, requestId: requestId ?? null, status: response.status };
    if (response.status === 'ACCEPTED') this.deps.logger.info(fields, 'instance message handled');
    else this.deps.logger.warn({ ...fields, reason: response.message }, 'instance message refused');
  }

  private setState(state: ExecutorState): void {
    if (state === this.executorState) return;
    this.deps.logger.info({ from: this.executorState, to: state }, 'executor state change');
    this.executorState = state;
    this.persistState();
    if (state === 'UNREADY') this.scheduleGating(0);
    else this.cancelGating?.();
    this.heartbeatSoon();
  }

  private instanceChanged(info: LocalServiceInstanceInfo): void {
    this.reporter.report(info);
    // Resources were locked (new or adopted instance) or freed (terminal): node data goes out too.
    if (info.state === 'PENDING' || info.state === 'UNKNOWN' || isTerminal(info.state)) this.heartbeatSoon();
    if (isTerminal(info.state) && this.executorState === 'UNREADY') this.scheduleGating(0);
  }

  // ---- readiness gating (docs/design/placement.md#readiness-gating) ----

  private scheduleGating(ms: number): void {
    this.cancelGating?.();
    if (this.stopped) return;
    this.cancelGating = this.deps.clock.setTimer(() => {
      this.cancelGating = undefined;
      void this.evaluateReadiness().then(
        (ready) => {
          if (!ready && this.executorState === 'UNREADY') this.scheduleGating(this.options.readinessPollMs);
        },
        (error: unknown) => {
          // A check that throws must not end the polling: the executor would stay UNREADY for good (and an
          // unhandled rejection ends the process).
          this.deps.logger.warn({ err: error }, 'Readiness check failed; checking again');
          if (this.executorState === 'UNREADY') this.scheduleGating(this.options.readinessPollMs);
        },
      );
    }, ms);
  }

  /**
   * ACTIVE once every service the leader says must run here has at least that many HEALTHY instances. "At
   * least", not "exactly" (Drove): an executor with extra instances must not stay UNREADY. Re-fetched on
   * every poll, so services activated or deactivated meanwhile count. A service whose tag constraint this
   * executor's tags do not satisfy is never placed here and is not waited for (docs/design/placement.md#tag-constraints).
   */
  async evaluateReadiness(): Promise<boolean> {
    if (this.executorState !== 'UNREADY') return true;
    const reserved = await this.deps.client.get<LocalServiceInstanceResources>(RESERVED_PATH);
    if (!reserved || typeof reserved.requiredInstances !== 'object' || reserved.requiredInstances === null) return false;
    const healthy = new Map<string, number>();
    for (const instance of this.deps.engine.list()) {
      if (instance.state === 'HEALTHY') healthy.set(instance.spec.serviceId, (healthy.get(instance.spec.serviceId) ?? 0) + 1);
    }
    const self = { hostname: this.options.hostname, tags: this.tags() };
    const missing = Object.entries(reserved.requiredInstances).filter(
      ([serviceId, n]) => placementAllows(policyOf(reserved.placementPolicies, serviceId), self) && (healthy.get(serviceId) ?? 0) < n,
    );
    if (missing.length > 0 || this.executorState !== 'UNREADY') return false;
    this.setState('ACTIVE');
    return true;
  }

  // ---- heartbeat ----

  private scheduleHeartbeat(ms: number): void {
    this.cancelHeartbeat?.();
    if (this.stopped) return;
    this.cancelHeartbeat = this.deps.clock.setTimer(() => {
      this.cancelHeartbeat = undefined;
      this.heartbeatInFlight = this.sendHeartbeat().finally(() => {
        this.heartbeatInFlight = undefined;
        if (this.heartbeatAgain) {
          this.heartbeatAgain = false;
          this.scheduleHeartbeat(0);
        }
      });
    }, ms);
  }

  /** Node data goes out promptly after a change (coalesced with one already on its way). */
  heartbeatSoon(): void {
    if (this.heartbeatInFlight) this.heartbeatAgain = true;
    else this.scheduleHeartbeat(this.options.reportBatchWindowMs);
  }

  private async sendHeartbeat(): Promise<void> {
    const result = await this.deps.client.send({
      type: 'EXECUTOR_SNAPSHOT',
      header: this.deps.client.header(),
      nodeData: this.nodeData(),
    });
    this.registeredWith = result.status === 'ACCEPTED' ? (this.deps.client.currentLeader ?? 'unknown') : undefined;
    if (result.status === 'ACCEPTED') {
      this.heartbeatRetry.reset();
      this.scheduleHeartbeat(this.options.heartbeatMs);
      return;
    }
    const retryInMs = this.heartbeatRetry.next();
    this.deps.logger.warn({ status: result.status, reason: result.message, retryInMs }, 'node data not delivered');
    this.scheduleHeartbeat(retryInMs);
  }

  // ---- persisted executor state ----

  private loadPersistedState(): ExecutorState {
    try {
      const saved = JSON.parse(readFileSync(join(this.options.dataDir, STATE_FILE), 'utf8')) as { executorState?: string };
      // Blacklisting is an operator decision and survives restarts; everything else starts over at UNREADY.
      if (saved.executorState === 'BLACKLISTED' || saved.executorState === 'BLACKLIST_REQUESTED') {
        return EXECUTOR_STATES.find((s) => s === saved.executorState)!;
      }
    } catch {
      // No saved state yet.
    }
    return 'UNREADY';
  }

  private persistState(): void {
    try {
      mkdirSync(this.options.dataDir, { recursive: true });
      const file = join(this.options.dataDir, STATE_FILE);
      writeFileSync(`${file}.tmp`, JSON.stringify({ executorState: this.executorState }));
      renameSync(`${file}.tmp`, file);
    } catch (error) {
      this.deps.logger.error({ error: errorText(error) }, 'could not persist executor state');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelGating?.();
    this.cancelHeartbeat?.();
    this.unsubscribe();
    if (this.heartbeatInFlight) await this.heartbeatInFlight;
    this.cancelHeartbeat?.();
    await this.reporter.close();
  }
}

/**
 * A service's placement policy from the leader's answer, checked like any input: an entry that is not a policy
 * counts as no constraint, so the executor waits for the service (the safe side) rather than failing the poll.
 */
function policyOf(policies: unknown, serviceId: string): PlacementPolicy | undefined {
  if (typeof policies !== 'object' || policies === null || !Object.hasOwn(policies, serviceId)) return undefined;
  const parsed = PlacementPolicySchema.safeParse((policies as Record<string, unknown>)[serviceId]);
  return parsed.success ? parsed.data : undefined;
}
