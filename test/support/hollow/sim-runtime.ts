import type { Checker, CheckResult, CheckTarget } from '../../../src/executor/checks.js';
import type { HostTopology } from '../../../src/executor/resources.js';
import type {
  ContainerRuntime,
  ContainerSpec,
  ContainerStats,
  ContainerStatus,
  ContainerSummary,
  ExecOptions,
  ExecResult,
  LogFollower,
  LogsFrom,
  LogStreamName,
  PullOptions,
} from '../../../src/executor/runtime/runtime.js';
import type { Clock } from '../../../src/model/clock.js';
import { sleep } from '../../../src/model/clock.js';
import type { CheckModeSpec } from '../../../src/model/spec.js';

/**
 * The container engine of one hollow executor's host (docs/hollow.md): containers are records in memory, so the
 * real executor code above the ContainerRuntime seam (state machines, recovery, the zombie reaper, reporting) runs
 * unchanged while nothing is started on the machine. Time and chance are injected, so unit tests drive start
 * latency and failures exactly.
 */

export interface SimRuntimeOptions {
  clock: Clock;
  /** Uniform [0, 1): jitter and failure draws (tests pass a scripted one). Default Math.random. */
  random?: () => number;
  /** Simulated container start latency (docker create+start of a small image takes tens of ms). Default 50. */
  startLatencyMs?: number;
  /** Up to this much more latency, drawn uniformly per start. Default 0. */
  startJitterMs?: number;
  /** Share of container starts that fail, 0..1. Default 0. */
  failStartRatio?: number;
  /** What each running container's stats answer. Default: 0.5 CPU seconds, 32 MiB. */
  stats?: ContainerStats;
  /** When set, every followed log gets this one line on stdout (to exercise the log path); default: no output. */
  logLine?: string;
}

interface SimContainer {
  spec: ContainerSpec;
  running: boolean;
  startedAt: string;
}

export const SIM_START_FAILURE = 'simulated container start failure';

export class SimRuntime implements ContainerRuntime {
  /** What ping() rejects with; undefined: the engine answers (tests of readiness set it). */
  engineDown: Error | undefined;
  private readonly containers = new Map<string, SimContainer>();
  private readonly images = new Set<string>();
  private readonly random: () => number;
  private seq = 0;

  constructor(private readonly options: SimRuntimeOptions) {
    this.random = options.random ?? Math.random;
  }

  async ping(): Promise<void> {
    if (this.engineDown) throw this.engineDown;
  }

  async pullImage(image: string, options: PullOptions): Promise<void> {
    if (options.signal?.aborted) throw new Error('pull aborted');
    this.images.add(image);
  }

  async imageExists(image: string): Promise<boolean> {
    return this.images.has(image);
  }

  async removeImage(image: string): Promise<void> {
    this.images.delete(image);
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    if (!this.images.has(spec.image)) throw new Error(`No such image: ${spec.image}`);
    const id = `sim-${++this.seq}`;
    this.containers.set(id, { spec, running: false, startedAt: '' });
    return id;
  }

  async putArchive(containerId: string): Promise<void> {
    this.require(containerId);
  }

  async startContainer(containerId: string): Promise<void> {
    const latency = (this.options.startLatencyMs ?? 50) + (this.options.startJitterMs ?? 0) * this.random();
    await sleep(this.options.clock, latency);
    const container = this.require(containerId);
    if (this.random() < (this.options.failStartRatio ?? 0)) throw new Error(SIM_START_FAILURE);
    container.running = true;
    container.startedAt = new Date(this.options.clock.now()).toISOString();
  }

  async inspectContainer(containerId: string): Promise<ContainerStatus | undefined> {
    const c = this.containers.get(containerId);
    if (!c) return undefined;
    return { id: containerId, name: c.spec.name, running: c.running, labels: c.spec.labels, startedAt: c.startedAt, restartCount: 0 };
  }

  async containerStats(containerId: string): Promise<ContainerStats | undefined> {
    if (!this.containers.get(containerId)?.running) return undefined;
    return { ...(this.options.stats ?? { cpuSeconds: 0.5, memoryBytes: 32 * 2 ** 20, memoryLimitBytes: 64 * 2 ** 20 }) };
  }

  /** A command "runs" when its container does: exit 0 then, 1 (as docker exec fails) otherwise. */
  async exec(containerId: string, _command: string[], options: ExecOptions): Promise<ExecResult> {
    if (options.signal?.aborted) throw new Error('exec aborted');
    const running = this.containers.get(containerId)?.running ?? false;
    return { exitCode: running ? 0 : 1, output: running ? '' : `container ${containerId} is not running`, truncated: false };
  }

  async stopContainer(containerId: string): Promise<void> {
    const c = this.containers.get(containerId);
    if (c) c.running = false;
  }

  async removeContainer(containerId: string): Promise<void> {
    this.containers.delete(containerId);
  }

  async listContainers(labels: Record<string, string>): Promise<ContainerSummary[]> {
    return [...this.containers.entries()]
      .filter(([, c]) => Object.entries(labels).every(([k, v]) => c.spec.labels[k] === v))
      .map(([id, c]) => ({ id, running: c.running, labels: { ...c.spec.labels } }));
  }

  async followLogs(containerId: string, _from: LogsFrom, onData: (stream: LogStreamName, chunk: Buffer) => void): Promise<LogFollower> {
    this.require(containerId);
    const line = this.options.logLine;
    if (line === undefined) return { close: () => undefined };
    const cancel = this.options.clock.setTimer(() => onData('stdout', Buffer.from(`${line}\n`)), 0);
    return { close: cancel };
  }

  /** The container's process exits by itself (a crash): the reaper and health checks see it stopped. */
  crash(containerId: string): void {
    const c = this.containers.get(containerId);
    if (c) c.running = false;
  }

  /** Ids of the containers that run now. */
  runningIds(): string[] {
    return [...this.containers.entries()].filter(([, c]) => c.running).map(([id]) => id);
  }

  private require(containerId: string): SimContainer {
    const c = this.containers.get(containerId);
    if (!c) throw new Error(`No such container: ${containerId}`);
    return c;
  }
}

/**
 * Readiness and health answers without probes: no HTTP request goes to the fake host ports. A check passes when
 * the fleet says instances are healthy and the instance's container runs (a crashed one fails its checks, as a
 * real probe would).
 */
export class SimChecker implements Checker {
  constructor(
    private readonly runtime: SimRuntime,
    private readonly healthy: (mode: CheckModeSpec, target: CheckTarget) => boolean = () => true,
  ) {}

  async check(mode: CheckModeSpec, target: CheckTarget, _timeoutMs: number, _signal?: AbortSignal): Promise<CheckResult> {
    const running = target.containerId !== undefined && (await this.runtime.inspectContainer(target.containerId))?.running === true;
    if (!running) return { healthy: false, message: `simulated ${mode.type} check: container is not running` };
    return this.healthy(mode, target) ? { healthy: true, message: '' } : { healthy: false, message: `simulated ${mode.type} check: unhealthy` };
  }
}

/** The simulated host: one NUMA node of 8 cores and 16 GiB, room for several small instances per executor. */
export function simHostTopology(cores = 8, memoryMB = 16 * 1024): () => HostTopology {
  return () => ({ nodes: new Map([[0, { cores: Array.from({ length: cores }, (_, i) => i), memoryMB }]]) });
}
