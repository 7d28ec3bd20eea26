import type { Logger } from 'pino';
import type { Clock } from '../../model/clock.js';
import { sleep } from '../../model/clock.js';
import { durationMs } from '../../model/duration.js';
import type { LocalServiceInstanceSpec } from '../../model/executor.js';
import { PULL_INTERRUPTED_MESSAGE, type InstancePort, type LocalServiceInstanceInfo } from '../../model/instance.js';
import { INSTANCE_STOP_ACCEPTED_STATES, isTerminal, type LocalServiceInstanceState } from '../../model/states.js';
import type { CheckSpec, UserSpec } from '../../model/spec.js';
import type { Checker, CheckTarget, HookOptions } from '../checks.js';
import { errorText, runPreShutdownHooks } from '../checks.js';
import type { DockerAuth } from '../docker-auth.js';
import { isCredentialRefusal, registryOfImage } from '../docker-auth.js';
import type { InstanceLogWriter } from '../logs.js';
import type { ResourceManager } from '../resources.js';
import type { ContainerRuntime, LogFollower, LogsFrom } from '../runtime/runtime.js';
import { configTar, resolveConfigs, type ConfigFetchPolicy } from './configs.js';
import type { ExecutorContainerOptions } from './container-spec.js';
import { LABEL_INSTANCE_ID, LABEL_JOB_TYPE, LOCAL_SERVICE_JOB_TYPE, buildContainerSpec, hasFixedPorts } from './container-spec.js';
import { effectiveHostAccess } from '../../model/host-access.js';
import type { HostAccessPolicy } from './host-access.js';
import { hostAccessRefusal } from './host-access.js';
import type { HostPathPolicy } from './host-paths.js';
import { hostPathRefusal } from './host-paths.js';
import type { CheckKind, InstanceMetrics } from '../metrics/metrics.js';
import type { InstanceAction } from './transitions.js';
import { INSTANCE_TRANSITIONS, canTransition } from './transitions.js';

/** Docker's default pull timeout when a spec has none (Drove: 15 minutes). */
const DEFAULT_PULL_TIMEOUT_MS = 15 * 60_000;
/** Fresh host ports are tried this often when Docker finds the chosen one taken (a rare race). */
const PORT_CLASH_ATTEMPTS = 3;
/** A check without a timeout gets Drove's runtime default of 1 s. */
const DEFAULT_CHECK_TIMEOUT_MS = 1_000;

export interface InstanceDeps {
  runtime: ContainerRuntime;
  checker: Checker;
  clock: Clock;
  logger: Logger;
  hostname: string;
  executorId: string;
  resources: ResourceManager;
  numaPinning: boolean;
  cacheImages: boolean;
  /** Registry credentials (executor config dockerAuth), sent with every pull from their registry. */
  dockerAuth?: DockerAuth;
  defaultUserSpec?: UserSpec;
  maxOpenFiles?: number;
  /** Log driver buffer and cache, GPUs: the executor options every container gets. */
  containerOptions: ExecutorContainerOptions;
  executorEnv: Record<string, string | undefined>;
  /** A free host port for a non-host-level instance. */
  allocatePort(): Promise<number>;
  /** Opens the instance's output log, or undefined when logs are not kept (unit tests). */
  openLog(spec: LocalServiceInstanceSpec): InstanceLogWriter | undefined;
  hookOptions: HookOptions;
  /** Grace between SIGTERM and SIGKILL when stopping a container. */
  stopGraceSeconds: number;
  /** This host's bounds on volume mounts and local files, re-checked before a container is created. */
  hostPaths: HostPathPolicy;
  /** Where EXECUTOR_HTTP_FETCH configs may be fetched from. */
  configFetch: ConfigFetchPolicy;
  /** Which host namespaces and privileges this host lets instances have, re-checked before a container is created. */
  hostAccess: HostAccessPolicy;
  /** Pull and probe durations (metrics/metrics.ts); absent: not measured. */
  metrics?: InstanceMetrics;
}

interface Outcome {
  state: LocalServiceInstanceState;
  error?: string;
}

export type InstanceListener = (info: LocalServiceInstanceInfo) => void;

/**
 * One instance on this executor: runs the action of its current state until a terminal state, reporting every
 * change (docs/design/instance-lifecycle.md). A stop request is observed by the check actions, which route to
 * STOPPING.
 */
export class InstanceStateMachine {
  /**
   * The record as of the last transition, frozen all the way down (`setCurrent`): `info()` hands out copies that
   * share its parts, made on every heartbeat for every instance.
   */
  private current!: Readonly<LocalServiceInstanceInfo>;
  private containerId: string | undefined;
  private readonly stopController = new AbortController();
  /** Aborted when the executor shuts down leaving containers running: the loop ends, the container stays. */
  private readonly detachController = new AbortController();
  private readonly interrupt = AbortSignal.any([this.stopController.signal, this.detachController.signal]);
  private stopReason = '';
  private logWriter: InstanceLogWriter | undefined;
  private logFollower: LogFollower | undefined;
  private finished: Promise<void> | undefined;

  constructor(
    readonly spec: LocalServiceInstanceSpec,
    private readonly deps: InstanceDeps,
    private readonly listener: InstanceListener,
    recovered?: { info: LocalServiceInstanceInfo },
  ) {
    const now = deps.clock.now();
    this.setCurrent(
      recovered
      ? { ...recovered.info, state: 'UNKNOWN', executorId: deps.executorId, updated: now }
      : {
          serviceId: spec.serviceId,
          serviceName: spec.serviceName,
          instanceId: spec.instanceId,
          executorId: deps.executorId,
          resources: spec.resources,
          state: 'PENDING',
          metadata: {},
          errorMessage: '',
          created: now,
          updated: now,
        },
    );
    this.recovered = recovered !== undefined;
  }

  private readonly recovered: boolean;

  get instanceId(): string {
    return this.spec.instanceId;
  }

  get state(): LocalServiceInstanceState {
    return this.current.state;
  }

  get container(): string | undefined {
    return this.containerId;
  }

  /**
   * The record as reported, with a fresh `updated`. Its nested parts are the held record's, frozen, so nobody can
   * change them through it; a deep copy here was the hollow fleet's dearest function after garbage collection
   * (every heartbeat copies every instance; docs/scale.md).
   */
  info(): LocalServiceInstanceInfo {
    return { ...this.current, updated: this.deps.clock.now() };
  }

  /** A copy of `next`, frozen all the way down: the only way the held record changes. */
  private setCurrent(next: LocalServiceInstanceInfo): void {
    this.current = frozenCopy(next);
  }

  stopRequested(): boolean {
    return this.stopController.signal.aborted;
  }

  /** Asks the instance to stop; false when it is not in a state that can be stopped. */
  requestStop(reason = ''): boolean {
    if (!INSTANCE_STOP_ACCEPTED_STATES.has(this.current.state) || this.stopRequested()) return false;
    this.stopReason = reason;
    this.stopController.abort(new StopRequested());
    return true;
  }

  detach(): void {
    this.detachController.abort(new StopRequested());
  }

  /** Starts the loop once; resolves when the instance reaches a terminal state. */
  run(): Promise<void> {
    this.finished ??= this.loop();
    return this.finished;
  }

  private async loop(): Promise<void> {
    this.listener(this.info());
    while (!isTerminal(this.current.state)) {
      const from = this.current.state as Exclude<LocalServiceInstanceState, 'STOPPED' | 'LOST'>;
      const action = INSTANCE_TRANSITIONS[from].action;
      let outcome: Outcome;
      try {
        outcome = await this.act(action);
      } catch (error) {
        outcome = { state: 'LOST', error: `SM Execution error: ${errorText(error)}` };
      }
      if (this.detachController.signal.aborted) break;
      if (outcome.state !== 'LOST' && !canTransition(from, outcome.state)) {
        outcome = { state: 'LOST', error: `SM Execution error: illegal transition ${from} -> ${outcome.state}` };
      }
      this.transition(outcome);
    }
    this.closeLogs();
    if (isTerminal(this.current.state)) this.deps.resources.release(this.instanceId);
  }

  private transition(outcome: Outcome): void {
    const errorMessage = outcome.error ?? this.current.errorMessage;
    this.deps.logger.info(
      { instanceId: this.instanceId, from: this.current.state, to: outcome.state, error: errorMessage || undefined },
      'instance state change',
    );
    this.setCurrent({ ...this.current, state: outcome.state, errorMessage, updated: this.deps.clock.now() });
    this.listener(this.info());
  }

  private act(action: InstanceAction): Promise<Outcome> {
    switch (action) {
      case 'SpecValidator':
        return Promise.resolve({ state: this.stopRequested() ? 'STOPPING' : 'PROVISIONING' });
      case 'ExecutableFetch':
        return this.fetchImage();
      case 'Run':
        return this.runContainer();
      case 'Recovery':
        return this.recover();
      case 'ReadinessCheck':
        return this.readiness();
      case 'SingularHealthCheck':
        return this.initialHealth();
      case 'Healthcheck':
        return this.continuousHealth();
      case 'Stop':
        return this.stopContainer();
      case 'Destroy':
        return this.destroy();
      case 'ExecutableCleanup':
        return this.cleanupImage();
    }
  }

  private async fetchImage(): Promise<Outcome> {
    const url = this.spec.executable.url;
    const timeoutMs = durationMs(this.spec.executable.dockerPullTimeout, DEFAULT_PULL_TIMEOUT_MS);
    // dockerPullTimeout is enforced here on the injected clock (not only by the runtime), and the wait ends on
    // expiry or a stop request even if the runtime's pull does not honour its abort signal.
    const pull = new AbortController();
    const onStop = () => pull.abort(this.stopController.signal.reason);
    if (this.stopController.signal.aborted) onStop();
    else this.stopController.signal.addEventListener('abort', onStop, { once: true });
    const cancelTimer = this.deps.clock.setTimer(() => pull.abort(new Error(`Pull timed out after ${timeoutMs} ms`)), timeoutMs);
    const aborted = new Promise<never>((_resolve, reject) => {
      const fail = () => reject(pull.signal.reason instanceof Error ? pull.signal.reason : new Error('Pull operation interrupted'));
      if (pull.signal.aborted) fail();
      else pull.signal.addEventListener('abort', fail, { once: true });
    });
    const credentials = this.deps.dockerAuth?.credentialsFor(url);
    this.deps.logger.info(
      { instanceId: this.instanceId, image: url, registry: credentials?.registry ?? registryOfImage(url), dockerAuthEntry: credentials?.entry ?? null },
      'pulling image',
    );
    const pulled = this.deps.metrics?.pullStarted();
    try {
      const options = { timeoutMs, signal: pull.signal, ...(credentials ? { auth: credentials.auth } : {}) };
      await Promise.race([this.deps.runtime.pullImage(url, options), aborted]);
      pulled?.('success');
      return { state: 'STARTING' };
    } catch (error) {
      pulled?.(this.stopRequested() ? 'aborted' : 'failure');
      if (this.stopRequested()) return { state: 'PROVISIONING_FAILED', error: PULL_INTERRUPTED_MESSAGE };
      const message = errorText(error);
      // Refused credentials are a configuration error only the operator can fix: shown now, on every host, not
      // hidden by a cached copy until a host without one cannot start the service (docs/drove-config.md).
      if (credentials && isCredentialRefusal(message)) {
        return {
          state: 'PROVISIONING_FAILED',
          error:
            `Error while pulling image ${url}: ${message} (registry ${credentials.registry} refused the credentials of ` +
            `dockerAuth entry ${JSON.stringify(credentials.entry)}; a local copy of the image is not used when the registry refuses them)`,
        };
      }
      if (await this.deps.runtime.imageExists(url).catch(() => false)) {
        this.deps.logger.warn({ instanceId: this.instanceId, image: url, error: message }, 'pull failed; using the image present locally');
        return { state: 'STARTING' };
      }
      return { state: 'PROVISIONING_FAILED', error: `Error while pulling image ${url}: ${message}` };
    } finally {
      cancelTimer();
      this.stopController.signal.removeEventListener('abort', onStop);
    }
  }

  private async runContainer(): Promise<Outcome> {
    try {
      const refused = hostAccessRefusal(this.spec, this.deps.hostAccess) ?? (await hostPathRefusal(this.spec, this.deps.hostPaths));
      if (refused) return { state: 'START_FAILED', error: refused };
      const files = await resolveConfigs(this.spec.configs ?? [], this.deps.configFetch);
      for (let attempt = 1; ; attempt++) {
        try {
          await this.createAndStart(files);
          break;
        } catch (error) {
          // A free port found by binding 0 can be taken by someone else before Docker binds it: pick new ones.
          if (hasFixedPorts(this.spec) || attempt >= PORT_CLASH_ATTEMPTS || !isPortClash(error)) throw error;
          this.deps.logger.warn({ instanceId: this.instanceId, error: errorText(error) }, 'host port taken meanwhile; retrying');
          if (this.containerId) await this.deps.runtime.removeContainer(this.containerId);
          this.containerId = undefined;
        }
      }
      return { state: 'UNREADY', error: '' };
    } catch (error) {
      return { state: 'START_FAILED', error: errorText(error) };
    }
  }

  private async createAndStart(files: Awaited<ReturnType<typeof resolveConfigs>>): Promise<void> {
    const hostPorts: Record<string, number> = {};
    const ports: Record<string, InstancePort> = {};
    const fixed = hasFixedPorts(this.spec);
    for (const p of this.spec.ports) {
      hostPorts[p.name] = fixed ? p.port : await this.deps.allocatePort();
      ports[p.name] = { containerPort: p.port, hostPort: hostPorts[p.name]!, portType: p.type };
    }
    const hostAccess = effectiveHostAccess(this.spec.hostAccess);
    this.setCurrent({ ...this.current, localInfo: { hostname: this.deps.hostname, ports }, ...(hostAccess ? { hostAccess } : {}) });
    const cores = this.spec.resources.flatMap((r) => (r.type === 'CPU' ? Object.values(r.cores).flat() : []));
    const containerSpec = buildContainerSpec(this.spec, {
      hostname: this.deps.hostname,
      executorId: this.deps.executorId,
      hostPorts,
      physicalCores: this.deps.resources.physicalCores(cores),
      numaPinning: this.deps.numaPinning,
      executorEnv: this.deps.executorEnv,
      ...(this.deps.defaultUserSpec ? { defaultUserSpec: this.deps.defaultUserSpec } : {}),
      ...(this.deps.maxOpenFiles ? { maxOpenFiles: this.deps.maxOpenFiles } : {}),
      containerOptions: this.deps.containerOptions,
      info: { ...this.current, state: 'UNREADY', errorMessage: '' },
    });
    this.containerId = await this.deps.runtime.createContainer(containerSpec);
    if (files.length > 0) await this.deps.runtime.putArchive(this.containerId, await configTar(files));
    // Attached before the start, the copy has the container's first line; attached after, a line written in between
    // could reach neither the attach nor Docker's log store as read then (1 start in 80 on a loaded 2-core VM).
    await this.attachLogs('beforeStart');
    try {
      await this.deps.runtime.startContainer(this.containerId);
    } catch (error) {
      this.closeFollower();
      throw error;
    }
  }

  private async recover(): Promise<Outcome> {
    const found = await this.deps.runtime.listContainers({
      [LABEL_JOB_TYPE]: LOCAL_SERVICE_JOB_TYPE,
      [LABEL_INSTANCE_ID]: this.instanceId,
    });
    const running = found.find((c) => c.running);
    if (!running) {
      for (const c of found) await this.deps.runtime.removeContainer(c.id);
      return { state: 'STOPPED', error: `No container found with drove id: ${this.instanceId}` };
    }
    this.containerId = running.id;
    this.logWriter = this.deps.openLog(this.spec);
    await this.attachLogs(this.logWriter ? this.logWriter.lastWriteSeconds() : 0);
    return { state: 'UNREADY' };
  }

  private async attachLogs(from: LogsFrom): Promise<void> {
    this.logWriter ??= this.deps.openLog(this.spec);
    const writer = this.logWriter;
    if (!writer || !this.containerId) return;
    try {
      this.logFollower = await this.deps.runtime.followLogs(this.containerId, from, (_stream, chunk) => writer.write(chunk));
    } catch (error) {
      // The service runs fine without its log copy; say so and go on.
      this.deps.logger.warn({ instanceId: this.instanceId, error: errorText(error) }, 'could not follow container logs');
    }
  }

  private closeLogs(): void {
    this.closeFollower();
    this.logWriter?.close();
    this.logWriter = undefined;
  }

  private closeFollower(): void {
    this.logFollower?.close();
    this.logFollower = undefined;
  }

  private target(): CheckTarget {
    return { ...(this.containerId ? { containerId: this.containerId } : {}), ports: this.current.localInfo?.ports ?? {} };
  }

  /** Sleeps unless a stop request comes first; true when stopped. */
  private async pause(ms: number): Promise<boolean> {
    if (this.interrupt.aborted) return true;
    if (ms <= 0) return false;
    try {
      await sleep(this.deps.clock, ms, this.interrupt);
      return false;
    } catch {
      return true;
    }
  }

  private async probe(kind: CheckKind, check: CheckSpec) {
    const done = this.deps.metrics?.checkStarted(kind, check.mode.type);
    const result = await this.deps.checker.check(
      check.mode,
      this.target(),
      durationMs(check.timeout, DEFAULT_CHECK_TIMEOUT_MS),
      this.interrupt,
    );
    done?.(result.healthy);
    return result;
  }

  private stopping(): Outcome {
    return this.stopReason ? { state: 'STOPPING', error: this.stopReason } : { state: 'STOPPING' };
  }

  /**
   * Readiness and the first health check alike: after the check's initial delay (none for a re-adopted container),
   * up to `attempts` probes `interval` apart until one passes. 'stopped' when a stop request comes first;
   * otherwise whether one passed, and the last failure's message.
   */
  private async firstPass(kind: CheckKind, check: CheckSpec): Promise<'stopped' | { passed: boolean; last: string }> {
    if (await this.pause(this.recovered ? 0 : durationMs(check.initialDelay))) return 'stopped';
    let last = '';
    for (let attempt = 1; attempt <= check.attempts; attempt++) {
      const result = await this.probe(kind, check);
      if (this.stopRequested()) return 'stopped';
      if (result.healthy) return { passed: true, last };
      last = result.message;
      if (attempt < check.attempts && (await this.pause(durationMs(check.interval)))) return 'stopped';
    }
    return { passed: false, last };
  }

  private async readiness(): Promise<Outcome> {
    const result = await this.firstPass('readiness', this.spec.readiness);
    if (result === 'stopped') return this.stopping();
    if (result.passed) return { state: 'READY' };
    this.deps.logger.info({ instanceId: this.instanceId, last: result.last }, 'readiness check failed');
    return { state: 'READINESS_CHECK_FAILED', error: 'Readiness check failed' };
  }

  private async initialHealth(): Promise<Outcome> {
    const result = await this.firstPass('health', this.spec.healthcheck);
    if (result === 'stopped') return this.stopping();
    if (result.passed) return { state: 'HEALTHY' };
    return { state: 'STOPPING', error: `Healthcheck failed:${result.last}` };
  }

  private async continuousHealth(): Promise<Outcome> {
    const check = this.spec.healthcheck;
    let failures = 0;
    for (;;) {
      if (this.interrupt.aborted) return this.stopping();
      const result = await this.probe('health', check);
      if (this.stopRequested()) return this.stopping();
      // `attempts` consecutive failures, always: no counter-reset quirk
      // (docs/design/instance-lifecycle.md#health-checks).
      failures = result.healthy ? 0 : failures + 1;
      if (failures >= check.attempts) return { state: 'UNHEALTHY', error: `Healthcheck failed:${result.message}` };
      if (await this.pause(durationMs(check.interval))) return this.stopping();
    }
  }

  private async stopContainer(): Promise<Outcome> {
    if (!this.containerId) return { state: 'DEPROVISIONING' };
    // A container that already died (killed outside Drove, crashed) cannot drain: its hooks would only retry
    // against a closed port for up to 30 s and waitBeforeKill would delay its replacement for nothing.
    const status = await this.deps.runtime.inspectContainer(this.containerId).catch(() => undefined);
    if (status?.running) {
      const pre = this.spec.preShutdown;
      const outcomes = await runPreShutdownHooks(pre?.hooks ?? [], this.target(), this.deps.checker, this.deps.clock, this.deps.hookOptions);
      for (const o of outcomes) {
        if (!o.ok) this.deps.logger.warn({ instanceId: this.instanceId, attempts: o.attempts, error: o.message }, 'pre-shutdown hook failed');
      }
      const wait = durationMs(pre?.waitBeforeKill);
      if (wait > 0) await sleep(this.deps.clock, wait);
      else if (pre) this.deps.logger.warn({ instanceId: this.instanceId }, 'waitBeforeKill is 0: stopping at once');
    } else {
      this.deps.logger.info({ instanceId: this.instanceId }, 'container is not running: pre-shutdown hooks and waitBeforeKill skipped');
    }
    try {
      await this.deps.runtime.stopContainer(this.containerId, this.deps.stopGraceSeconds);
      await this.deps.runtime.removeContainer(this.containerId);
      this.closeLogs();
      return { state: 'DEPROVISIONING' };
    } catch (error) {
      return { state: 'DEPROVISIONING', error: `Error stopping container ${this.containerId}: ${errorText(error)}` };
    }
  }

  private async destroy(): Promise<Outcome> {
    if (!this.containerId) return { state: 'DEPROVISIONING' };
    try {
      await this.deps.runtime.removeContainer(this.containerId);
    } catch (error) {
      this.deps.logger.warn({ instanceId: this.instanceId, error: errorText(error) }, 'could not remove failed container');
    }
    return { state: 'DEPROVISIONING' };
  }

  private async cleanupImage(): Promise<Outcome> {
    if (!this.deps.cacheImages) {
      try {
        await this.deps.runtime.removeImage(this.spec.executable.url);
      } catch (error) {
        this.deps.logger.warn({ instanceId: this.instanceId, error: errorText(error) }, 'could not remove image');
      }
    }
    return { state: 'STOPPED' };
  }
}

function isPortClash(error: unknown): boolean {
  return /port is already allocated|address already in use/i.test(errorText(error));
}

class StopRequested extends Error {
  constructor() {
    super('Stop requested');
    this.name = 'AbortError';
  }
}

/** What frozenCopy made: frozen all the way down, so a later copy shares it instead of copying it again. */
const deeplyFrozen = new WeakSet<object>();

/**
 * `value` (JSON data) copied and frozen all the way down, sharing the parts an earlier call made. A transition
 * changes a field or two of the held record, and copying its unchanged resources and metadata again on every
 * transition (structuredClone) was 5.6 % of a hollow fleet's CPU during a rollout (docs/scale.md). Only what this
 * function made is shared: a value frozen elsewhere may be frozen at its top only, or be changed through a part.
 */
function frozenCopy<T>(value: T): T {
  if (value === null || typeof value !== 'object' || deeplyFrozen.has(value)) return value;
  let copy: unknown;
  if (Array.isArray(value)) copy = value.map((item: unknown) => frozenCopy(item));
  else {
    // A loop of assignments: three times faster than Object.fromEntries(Object.entries(...)) per record.
    const object: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const item = frozenCopy((value as Record<string, unknown>)[key]);
      // Assigning `__proto__` would set the copy's prototype: that key is defined as data, as it was in `value`.
      if (key === '__proto__') Object.defineProperty(object, key, { value: item, enumerable: true, writable: true, configurable: true });
      else object[key] = item;
    }
    copy = object;
  }
  Object.freeze(copy);
  deeplyFrozen.add(copy as object);
  return copy as T;
}
