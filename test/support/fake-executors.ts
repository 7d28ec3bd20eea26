import { randomUUID } from 'node:crypto';
import {
  INSTANCE_STOP_ACCEPTED_STATES,
  INSTANCE_TERMINAL_STATES,
  executorIdOf,
  jsonEqual,
  sleep,
  type Clock,
  type ControllerMessage,
  type ExecutorAddress,
  type ExecutorMessage,
  type ExecutorNodeData,
  type ExecutorResourceSnapshot,
  type ExecutorState,
  type LocalServiceInstanceInfo,
  type LocalServiceInstanceSpec,
  type LocalServiceInstanceState,
  type MessageResponse,
} from '../../src/model/index.js';
import { instanceInfo } from './records.js';

/**
 * In-process executors for engine tests and the engine benchmark: an `ExecutorMessenger` that answers START /
 * STOP / BLACKLIST like a Drove executor and drives the instance lifecycle by calling the controller's
 * `handleControllerMessage`, exactly as real executors' reports arrive over HTTP. Time comes from the injected
 * clock, so tests run on a ManualClock.
 */

export type StartBehaviour =
  /** PENDING .. HEALTHY, each step `stepMs` apart (0: all at once). */
  | { kind: 'healthy'; stepMs?: number }
  /** PENDING, PROVISIONING, then the given error state and STOPPED. */
  | { kind: 'fail'; state: 'PROVISIONING_FAILED' | 'START_FAILED' | 'READINESS_CHECK_FAILED' }
  /** PENDING, PROVISIONING, then nothing until `release` is called. */
  | { kind: 'hang' }
  /** The executor answers FAILED. */
  | { kind: 'reject' };

export interface FakeExecutorOptions {
  cores?: number;
  memoryMb?: number;
  state?: ExecutorState;
  /** Delay before answering START (the executor is slow: the emergency cancellation test). */
  answerDelayMs?: number;
  onStart?: (spec: LocalServiceInstanceSpec) => StartBehaviour;
  /** 'hang': STOP is accepted but the instance never gets past its first step out (STOPPING, or the failed pull). */
  onStop?: 'normal' | 'hang';
  /** Configured tags; the hostname is always advertised too. */
  tags?: string[];
}

export interface ControllerEndpoint {
  handleControllerMessage(message: ControllerMessage): Promise<MessageResponse>;
}

interface FakeInstance {
  info: LocalServiceInstanceInfo;
  /** What its START carried (unknown for a restored one): the same START again is accepted, as a real executor does. */
  spec?: LocalServiceInstanceSpec;
  cores: number[];
  memoryMb: number;
  hung: boolean;
  /** Set by STOP: the start's remaining steps are dropped, as the executor's next action routes to STOPPING. */
  stopping: boolean;
}

export class FakeExecutor {
  readonly executorId: string;
  readonly address: ExecutorAddress;
  state: ExecutorState;
  /** Configured tags (change them and heartbeat: an executor restarted with another config). */
  tags: string[];
  readonly instances = new Map<string, FakeInstance>();
  private readonly freeCores: Set<number>;
  private freeMemory: number;
  readonly totalCores: number;
  readonly totalMemory: number;
  private lastUpdated = 0;

  constructor(
    readonly hostname: string,
    readonly port: number,
    readonly options: FakeExecutorOptions,
  ) {
    this.executorId = executorIdOf(hostname, port);
    this.address = { executorId: this.executorId, hostname, port, transportType: 'HTTP' };
    this.state = options.state ?? 'ACTIVE';
    this.tags = [...(options.tags ?? [])];
    this.totalCores = options.cores ?? 8;
    this.totalMemory = options.memoryMb ?? 16_384;
    this.freeCores = new Set(Array.from({ length: this.totalCores }, (_, i) => i));
    this.freeMemory = this.totalMemory;
  }

  /** A strictly increasing `updated` so every report is newer than the previous one. */
  stamp(now: number): number {
    this.lastUpdated = Math.max(now, this.lastUpdated + 1);
    return this.lastUpdated;
  }

  snapshot(): ExecutorResourceSnapshot {
    const free = [...this.freeCores].sort((a, b) => a - b);
    const all = Array.from({ length: this.totalCores }, (_, i) => i);
    const used = all.filter((c) => !this.freeCores.has(c));
    return {
      executorId: this.executorId,
      cpus: { type: 'CPU', freeCores: { '0': free }, usedCores: { '0': used } },
      memory: { type: 'MEMORY', freeMemory: { '0': this.freeMemory }, usedMemory: { '0': this.totalMemory - this.freeMemory } },
      layout: { cores: { '0': all }, memory: { '0': this.totalMemory } },
    };
  }

  nodeData(now: number): ExecutorNodeData {
    const updated = this.stamp(now);
    return {
      type: 'EXECUTOR',
      hostname: this.hostname,
      port: this.port,
      transportType: 'HTTP',
      updated,
      state: this.snapshot(),
      instances: [],
      tasks: [],
      serviceInstances: [...this.instances.values()]
        .filter((i) => !TERMINAL.has(i.info.state))
        .map((i) => ({ ...i.info, updated })),
      tags: [...new Set([this.hostname, ...this.tags])],
      metadata: {},
      executorState: this.state,
    };
  }

  lock(spec: LocalServiceInstanceSpec): { cores: number[]; memoryMb: number } | undefined {
    const cores: number[] = [];
    let memoryMb = 0;
    for (const r of spec.resources) {
      if (r.type === 'CPU') for (const ids of Object.values(r.cores)) cores.push(...ids);
      else for (const mb of Object.values(r.memoryInMB)) memoryMb += mb;
    }
    if (cores.some((c) => !this.freeCores.has(c)) || memoryMb > this.freeMemory) return undefined;
    for (const c of cores) this.freeCores.delete(c);
    this.freeMemory -= memoryMb;
    return { cores, memoryMb };
  }

  unlock(instance: FakeInstance): void {
    for (const c of instance.cores) this.freeCores.add(c);
    this.freeMemory += instance.memoryMb;
    instance.cores = [];
    instance.memoryMb = 0;
  }

  running(): LocalServiceInstanceInfo[] {
    return [...this.instances.values()].filter((i) => !TERMINAL.has(i.info.state)).map((i) => i.info);
  }
}

const UP: LocalServiceInstanceState[] = ['PENDING', 'PROVISIONING', 'STARTING', 'UNREADY', 'READY', 'HEALTHY'];
const TERMINAL = INSTANCE_TERMINAL_STATES;

/**
 * The way out from each state that takes STOP, as the executor's state machine walks it: a pull is interrupted
 * (PROVISIONING_FAILED), a container being created comes up first, everything else goes through STOPPING.
 */
function stopPath(state: LocalServiceInstanceState): LocalServiceInstanceState[] {
  switch (state) {
    case 'PROVISIONING':
      return ['PROVISIONING_FAILED', 'DEPROVISIONING', 'STOPPED'];
    case 'STARTING':
    case 'UNKNOWN':
      return ['UNREADY', 'STOPPING', 'DEPROVISIONING', 'STOPPED'];
    default:
      return ['STOPPING', 'DEPROVISIONING', 'STOPPED'];
  }
}

export class FakeExecutorFleet {
  readonly executors = new Map<string, FakeExecutor>();
  /** Every message the controller sent, in order (tests assert on it). */
  readonly sent: ExecutorMessage[] = [];
  private readonly listeners = new Set<(message: ExecutorMessage) => void>();
  private cancelHeartbeats: (() => void) | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly controller: () => ControllerEndpoint,
    private readonly clock: Clock,
    /** Called after every change of an instance on any executor (crash tests persist the fleet with it). */
    private readonly onChange: () => void = () => undefined,
  ) {}

  /**
   * Adds an executor that already runs instances (an executor that outlived a controller crash: its containers
   * are still there). Sends no heartbeat; call `heartbeat` when it should be heard.
   */
  restore(hostname: string, instances: readonly LocalServiceInstanceInfo[], options: FakeExecutorOptions = {}, port = 3000): FakeExecutor {
    const executor = new FakeExecutor(hostname, port, options);
    for (const info of instances) {
      const cores: number[] = [];
      let memoryMb = 0;
      for (const r of info.resources) {
        if (r.type === 'CPU') for (const ids of Object.values(r.cores)) cores.push(...ids);
        else for (const mb of Object.values(r.memoryInMB)) memoryMb += mb;
      }
      const instance: FakeInstance = { info, cores: [], memoryMb: 0, hung: false, stopping: false };
      if (!TERMINAL.has(info.state)) {
        executor.lock({ resources: info.resources } as LocalServiceInstanceSpec);
        instance.cores = cores;
        instance.memoryMb = memoryMb;
      }
      executor.instances.set(info.instanceId, instance);
    }
    this.executors.set(executor.executorId, executor);
    return executor;
  }

  /** Moves every instance still on its way up (hung or interrupted) on to HEALTHY. */
  finishStarting(): void {
    for (const executor of this.executors.values()) {
      for (const instance of executor.instances.values()) {
        const remaining = UP.slice(UP.indexOf(instance.info.state) + 1);
        if (UP.indexOf(instance.info.state) < 0 || remaining.length === 0) continue;
        instance.hung = false;
        this.track(this.progress(executor, instance, remaining, 0));
      }
    }
  }

  /** Adds an executor and sends its first heartbeat (it "joins"). */
  async add(hostname: string, options: FakeExecutorOptions = {}, port = 3000): Promise<FakeExecutor> {
    const executor = new FakeExecutor(hostname, port, options);
    this.executors.set(executor.executorId, executor);
    await this.heartbeat(executor);
    return executor;
  }

  get(executorId: string): FakeExecutor {
    const e = this.executors.get(executorId);
    if (!e) throw new Error(`No fake executor ${executorId}`);
    return e;
  }

  /** Forgets an executor without telling anyone (its heartbeats stop, as when a host dies). */
  kill(executorId: string): void {
    this.executors.delete(executorId);
  }

  async heartbeat(executor: FakeExecutor): Promise<MessageResponse> {
    return this.controller().handleControllerMessage({
      type: 'EXECUTOR_SNAPSHOT',
      header: header(this.clock.now(), 'EXECUTOR'),
      nodeData: executor.nodeData(this.clock.now()),
    });
  }

  async heartbeatAll(): Promise<void> {
    await Promise.all([...this.executors.values()].map((e) => this.heartbeat(e)));
  }

  /** Heartbeats every `intervalMs` on the clock (Drove executors: 20 s). */
  startHeartbeats(intervalMs: number): void {
    const tick = () => {
      this.track(this.heartbeatAll());
      this.cancelHeartbeats = this.clock.setTimer(tick, intervalMs);
    };
    this.cancelHeartbeats = this.clock.setTimer(tick, intervalMs);
  }

  stopHeartbeats(): void {
    this.cancelHeartbeats?.();
  }

  onMessage(listener: (message: ExecutorMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** All instances not STOPPED/LOST, on every executor. */
  running(): LocalServiceInstanceInfo[] {
    return [...this.executors.values()].flatMap((e) => e.running());
  }

  /** Lets a hung instance go on to HEALTHY. */
  release(instanceId: string): void {
    for (const executor of this.executors.values()) {
      const instance = executor.instances.get(instanceId);
      if (instance?.hung) {
        instance.hung = false;
        this.track(this.progress(executor, instance, ['STARTING', 'UNREADY', 'READY', 'HEALTHY'], 0));
      }
    }
  }

  /** Reports an instance state from the executor side (a crash, an unhealthy container). */
  async setState(instanceId: string, state: LocalServiceInstanceState, errorMessage = ''): Promise<void> {
    for (const executor of this.executors.values()) {
      const instance = executor.instances.get(instanceId);
      if (!instance) continue;
      await this.report(executor, instance, state, errorMessage);
      if (TERMINAL.has(state)) executor.unlock(instance);
    }
  }

  /** Resolves when no simulated lifecycle step is pending (for real-clock use). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  async send(address: ExecutorAddress, message: ExecutorMessage): Promise<MessageResponse> {
    this.sent.push(message);
    for (const listener of this.listeners) listener(message);
    const executor = this.executors.get(address.executorId);
    const reply = (status: MessageResponse['status'], reason?: string): MessageResponse => ({
      header: { ...message.header, direction: 'REPLY', replyToId: message.header.id },
      status,
      ...(reason ? { message: reason } : {}),
    });
    if (!executor) return reply('FAILED', `Executor ${address.executorId} unreachable`);
    switch (message.type) {
      case 'START_LOCAL_SERVICE_INSTANCE': {
        if (executor.options.answerDelayMs) await sleep(this.clock, executor.options.answerDelayMs);
        if (executor.state !== 'ACTIVE' && executor.state !== 'UNREADY') return reply('FAILED', 'Executor blacklisted');
        const spec = message.spec;
        const existing = executor.instances.get(spec.instanceId);
        if (existing) return jsonEqual(existing.spec, spec) ? reply('ACCEPTED') : reply('FAILED', 'Instance already exists');
        const behaviour = executor.options.onStart?.(spec) ?? { kind: 'healthy' };
        if (behaviour.kind === 'reject') return reply('FAILED', 'Rejected by test');
        const locked = executor.lock(spec);
        if (!locked) return reply('FAILED', 'Could not lock resources');
        const now = this.clock.now();
        const instance: FakeInstance = {
          info: instanceInfo({
            serviceId: spec.serviceId,
            serviceName: spec.serviceName,
            instanceId: spec.instanceId,
            executorId: executor.executorId,
            resources: spec.resources,
            state: 'PENDING',
            updated: now,
          }),
          spec,
          cores: locked.cores,
          memoryMb: locked.memoryMb,
          hung: behaviour.kind === 'hang',
          stopping: false,
        };
        executor.instances.set(spec.instanceId, instance);
        this.onChange();
        const steps: LocalServiceInstanceState[] =
          behaviour.kind === 'healthy'
            ? ['PENDING', 'PROVISIONING', 'STARTING', 'UNREADY', 'READY', 'HEALTHY']
            : behaviour.kind === 'fail'
              ? ['PENDING', 'PROVISIONING', behaviour.state, 'DEPROVISIONING', 'STOPPED']
              : ['PENDING', 'PROVISIONING'];
        this.track(this.progress(executor, instance, steps, behaviour.kind === 'healthy' ? (behaviour.stepMs ?? 0) : 0));
        return reply('ACCEPTED');
      }
      case 'STOP_LOCAL_SERVICE_INSTANCE': {
        const instance = executor.instances.get(message.instanceId);
        if (instance?.stopping) return reply('ACCEPTED');
        if (!instance || !INSTANCE_STOP_ACCEPTED_STATES.has(instance.info.state)) {
          return reply('FAILED', `Instance ${message.instanceId} cannot be stopped in state ${instance?.info.state ?? 'none'}`);
        }
        instance.stopping = true;
        instance.hung = false;
        const path = stopPath(instance.info.state);
        const steps = executor.options.onStop === 'hang' ? path.slice(0, path.indexOf('DEPROVISIONING')) : path;
        this.track(this.progress(executor, instance, steps, 0, true));
        return reply('ACCEPTED');
      }
      case 'BLACKLIST':
      case 'BLACKLIST_REQUESTED':
        executor.state = 'BLACKLISTED';
        this.track(this.heartbeat(executor));
        return reply('ACCEPTED');
      case 'UNBLACKLIST':
        executor.state = 'UNREADY';
        this.track(this.heartbeat(executor));
        return reply('ACCEPTED');
    }
  }

  private track(work: Promise<unknown>): void {
    const tracked = work.catch(() => undefined).finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /**
   * Reports each state in turn (in a later tick than the ACCEPTED answer, as a real executor would). A start's
   * steps end once the instance is being stopped; only the stop's own steps go on.
   */
  private async progress(
    executor: FakeExecutor,
    instance: FakeInstance,
    steps: LocalServiceInstanceState[],
    stepMs: number,
    stopSteps = false,
  ): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (const state of steps) {
      if (stepMs > 0) await sleep(this.clock, stepMs);
      if (!this.executors.has(executor.executorId)) return;
      if (instance.stopping && !stopSteps) return;
      if (instance.info.state === state && state !== 'PENDING') continue;
      if (TERMINAL.has(instance.info.state)) return;
      const error = state === 'PROVISIONING_FAILED' && stopSteps ? 'Pull operation interrupted' : state.endsWith('_FAILED') ? `${state} by test` : instance.info.errorMessage;
      await this.report(executor, instance, state, error);
      if (TERMINAL.has(state)) executor.unlock(instance);
    }
  }

  private async report(executor: FakeExecutor, instance: FakeInstance, state: LocalServiceInstanceState, errorMessage: string): Promise<void> {
    const running = state === 'UNREADY' || state === 'READY' || state === 'HEALTHY' || state === 'STOPPING';
    instance.info = {
      ...instance.info,
      state,
      errorMessage,
      updated: executor.stamp(this.clock.now()),
      ...(running || instance.info.localInfo
        ? { localInfo: { hostname: executor.hostname, ports: { main: { containerPort: 8000, hostPort: 32000, portType: 'HTTP' as const } } } }
        : {}),
    };
    this.onChange();
    await this.controller().handleControllerMessage({
      type: 'LOCAL_SERVICE_INSTANCE_STATE_REPORT',
      header: header(this.clock.now(), 'EXECUTOR'),
      resourceSnapshot: executor.snapshot(),
      instanceInfo: instance.info,
    });
  }
}

function header(now: number, senderType: 'CONTROLLER' | 'EXECUTOR') {
  return { id: randomUUID(), senderType, direction: 'REQUEST' as const, messageTime: now };
}
