import { pino } from 'pino';
import type { Checker, CheckResult, CheckTarget } from '../../../src/executor/checks.js';
import { DEFAULT_HOOK_OPTIONS } from '../../../src/executor/checks.js';
import type { InstanceDeps } from '../../../src/executor/instances/instance.js';
import { ResourceManager, buildLayout } from '../../../src/executor/resources.js';
import { ExecutorResourcesSchema } from '../../../src/executor/config.js';
import type {
  ContainerRuntime,
  ContainerSpec,
  ContainerStats,
  ContainerStatus,
  ContainerSummary,
  ExecResult,
  LogFollower,
  LogsFrom,
  LogStreamName,
  PullOptions,
} from '../../../src/executor/runtime/runtime.js';
import type { LocalServiceInstanceSpec } from '../../../src/model/executor.js';
import type { CheckModeSpec } from '../../../src/model/spec.js';
import { ManualClock } from '../../../src/model/clock.js';
import { newInstanceId } from '../../../src/model/ids.js';

/** In-process ContainerRuntime: containers are records; every call is logged for assertions. */
export class FakeRuntime implements ContainerRuntime {
  readonly images = new Set<string>();
  readonly pullable = new Set<string>();
  readonly containers = new Map<string, { spec: ContainerSpec; running: boolean; archives: Buffer[]; startedAt: string }>();
  readonly calls: string[] = [];
  failCreate: Error | undefined;
  /** What the next startContainer() rejects with (once). */
  failStart: Error | undefined;
  /** What ping() rejects with; undefined: the engine answers. */
  pingError: Error | undefined;
  private seq = 0;

  /** Credentials each pull carried, in order (undefined: anonymous). */
  readonly pullAuths: Array<PullOptions['auth']> = [];
  /** Registry answer for pulls of these images, as dockerd reports it. */
  readonly pullRefusals = new Map<string, string>();

  async ping(): Promise<void> {
    if (this.pingError) throw this.pingError;
  }
  async pullImage(image: string, options: PullOptions): Promise<void> {
    this.calls.push(`pull ${image}`);
    this.pullAuths.push(options.auth);
    const refusal = this.pullRefusals.get(image);
    if (refusal) throw new Error(refusal);
    if (options.signal?.aborted) throw new Error('aborted');
    if (!this.pullable.has(image)) throw new Error(`pull access denied for ${image}`);
    this.images.add(image);
  }
  async imageExists(image: string): Promise<boolean> {
    return this.images.has(image);
  }
  async removeImage(image: string): Promise<void> {
    this.calls.push(`removeImage ${image}`);
    this.images.delete(image);
  }
  async createContainer(spec: ContainerSpec): Promise<string> {
    this.calls.push(`create ${spec.name}`);
    if (this.failCreate) throw this.failCreate;
    if (!this.images.has(spec.image)) throw new Error(`No such image: ${spec.image}`);
    const id = `c${++this.seq}`;
    this.containers.set(id, { spec, running: false, archives: [], startedAt: '' });
    return id;
  }
  async putArchive(id: string, tar: Buffer): Promise<void> {
    this.calls.push(`putArchive ${id}`);
    this.containers.get(id)!.archives.push(tar);
  }
  async startContainer(id: string): Promise<void> {
    this.calls.push(`start ${id}`);
    const failure = this.failStart;
    this.failStart = undefined;
    if (failure) throw failure;
    const c = this.containers.get(id)!;
    c.running = true;
    c.startedAt = new Date().toISOString();
  }
  async inspectContainer(id: string): Promise<ContainerStatus | undefined> {
    const c = this.containers.get(id);
    if (!c) return undefined;
    return { id, name: c.spec.name, running: c.running, labels: c.spec.labels, startedAt: c.startedAt, restartCount: 0 };
  }
  /** What containerStats answers for running containers (tests set it). */
  stats: ContainerStats = { cpuSeconds: 1.5, memoryBytes: 4 * 1024 * 1024, memoryLimitBytes: 32 * 1024 * 1024 };
  async containerStats(id: string): Promise<ContainerStats | undefined> {
    this.calls.push(`stats ${id}`);
    return this.containers.get(id)?.running ? { ...this.stats } : undefined;
  }
  async exec(id: string, command: string[]): Promise<ExecResult> {
    this.calls.push(`exec ${id} ${command.join(' ')}`);
    return { exitCode: this.containers.get(id)?.running ? 0 : 1, output: '', truncated: false };
  }
  async stopContainer(id: string): Promise<void> {
    this.calls.push(`stop ${id}`);
    const c = this.containers.get(id);
    if (c) c.running = false;
  }
  async removeContainer(id: string): Promise<void> {
    this.calls.push(`remove ${id}`);
    this.containers.delete(id);
  }
  async listContainers(labels: Record<string, string>): Promise<ContainerSummary[]> {
    return [...this.containers.entries()]
      .filter(([, c]) => Object.entries(labels).every(([k, v]) => c.spec.labels[k] === v))
      .map(([id, c]) => ({ id, running: c.running, labels: c.spec.labels }));
  }
  async followLogs(id: string, from: LogsFrom, _onData: (s: LogStreamName, c: Buffer) => void): Promise<LogFollower> {
    this.calls.push(`followLogs ${id} ${from}`);
    return {
      close: () => {
        this.calls.push(`closeLogs ${id}`);
      },
    };
  }
}

/** A checker answering from a script: each call takes the next result (the last one repeats). */
export class ScriptedChecker implements Checker {
  readonly calls: Array<{ mode: CheckModeSpec; target: CheckTarget }> = [];
  private scripts = new Map<string, CheckResult[]>();

  /** `key` is the HTTP path or the CMD command. */
  script(key: string, ...results: boolean[]): void {
    this.scripts.set(key, results.map((healthy) => ({ healthy, message: healthy ? '' : `probe ${key} failed` })));
  }

  async check(mode: CheckModeSpec, target: CheckTarget): Promise<CheckResult> {
    this.calls.push({ mode, target });
    const key = mode.type === 'HTTP' ? mode.path : mode.command;
    const script = this.scripts.get(key);
    if (!script || script.length === 0) return { healthy: true, message: '' };
    return script.length > 1 ? script.shift()! : script[0]!;
  }

  count(key: string): number {
    return this.calls.filter((c) => (c.mode.type === 'HTTP' ? c.mode.path : c.mode.command) === key).length;
  }
}

export const silentLogger = pino({ level: 'silent' });

export function testResources(executorId = 'E1', cores = [0, 1, 2, 3], memoryMB = 4096): ResourceManager {
  const config = ExecutorResourcesSchema.parse({ numaNodes: { '0': { cores, memoryMB } } });
  return new ResourceManager(executorId, buildLayout(config));
}

export function instanceDeps(overrides: Partial<InstanceDeps> = {}): InstanceDeps & {
  runtime: FakeRuntime;
  checker: ScriptedChecker;
  clock: ManualClock;
} {
  let port = 40000;
  return {
    runtime: new FakeRuntime(),
    checker: new ScriptedChecker(),
    clock: new ManualClock(),
    logger: silentLogger,
    hostname: 'ex1.local',
    executorId: 'E1',
    resources: testResources(),
    numaPinning: true,
    cacheImages: true,
    containerOptions: TEST_CONTAINER_OPTIONS,
    executorEnv: {},
    allocatePort: async () => ++port,
    openLog: () => undefined,
    hookOptions: DEFAULT_HOOK_OPTIONS,
    stopGraceSeconds: 10,
    hostPaths: { allowedMountDirs: [], allowedLocalFileDirs: [] },
    configFetch: { allowLocalAddresses: false },
    hostAccess: { enableHostNetwork: false, enableHostPid: false, enablePrivilegedContainers: false, allowedCapabilities: [] },
    ...overrides,
  } as InstanceDeps & { runtime: FakeRuntime; checker: ScriptedChecker; clock: ManualClock };
}

export const TEST_IMAGE = 'drove-ts/httpd:1';

/** The executor defaults (config.ts): 10 MB log buffer, a cache of 3 files of 20 MB, no GPUs. */
export const TEST_CONTAINER_OPTIONS = { logBufferMB: 10, logCacheFileMB: 20, logCacheFileCount: 3, enableNvidiaGpu: false };

export function instanceSpec(overrides: Partial<LocalServiceInstanceSpec> = {}): LocalServiceInstanceSpec {
  const check = (path: string, attempts = 3) => ({
    mode: {
      type: 'HTTP' as const,
      protocol: 'HTTP' as const,
      portName: 'main',
      path,
      verb: 'GET' as const,
      successCodes: [200],
      connectionTimeout: '1 second',
    },
    timeout: '1 second',
    interval: '1 second',
    attempts,
    initialDelay: '0 seconds',
  });
  return {
    serviceId: 'TEST_SPEC-00001',
    serviceName: 'TEST_SPEC',
    instanceId: newInstanceId(),
    executable: { type: 'DOCKER', url: TEST_IMAGE, dockerPullTimeout: '100 seconds' },
    resources: [
      { type: 'CPU', cores: { '0': [1] } },
      { type: 'MEMORY', memoryInMB: { '0': 64 } },
    ],
    ports: [{ name: 'main', port: 8000, type: 'HTTP' }],
    hostLevelInstance: false,
    volumes: [],
    configs: [],
    healthcheck: check('/health'),
    readiness: check('/ready'),
    env: {},
    ...overrides,
  };
}
