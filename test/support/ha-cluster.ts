import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { executorIdOf } from '../../src/model/ids.js';
import { freePort, startEtcdCluster, type EtcdCluster } from './etcd-cluster.js';

/**
 * A highly available drove-ts cluster made of real processes on loopback: an etcd cluster (etcd-cluster.ts),
 * several `drove controller` processes sharing it, and `drove executor` processes on the local dockerd.
 * Used by the HA integration tests and by bench/failover.ts, so it imports nothing from vitest.
 *
 * Processes run from TypeScript through tsx (always the current source); the bench, running from dist/,
 * runs the built dist/src/main.js instead.
 */

export const CONTROLLER_SECRET = 'ha-controller-secret';
export const EXECUTOR_SECRET = 'ha-executor-secret';
export const INSTANCE_SECRET = 'ha-instance-token-secret';

/** Timings of the test cluster; each is short so that failover tests stay quick, each says why its value. */
export const HA_TEST_TIMINGS = {
  /** Executors send node data this often: stale detection (below) must tolerate two misses and a failover. */
  executorHeartbeat: '2 seconds',
  /** An executor silent this long is removed: 5 heartbeats, more than a failover takes. */
  staleExecutorAge: '10 seconds',
  /** The reconciler's safety net; triggers wake it sooner. */
  reconcileInterval: '1 second',
  /** Executors look for the new leader quickly after the old one disappears. */
  leaderRetryInitial: '200 milliseconds',
  leaderRetryMax: '1 second',
  /** Readiness gating poll while an executor is UNREADY. */
  readinessPoll: '200 milliseconds',
  /** On an executor restart, how long it waits for a leader before re-adopting its containers. */
  recoveryLeaderWait: '5 seconds',
};

export interface ManagedProcess {
  name: string;
  child: ChildProcess | undefined;
  /** The last lines written to stdout/stderr, for failure messages. */
  output(): string;
  running(): boolean;
  start(): void;
  /** SIGKILL (no goodbye: the etcd lease is left to expire) and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM and wait for a clean exit. */
  stop(): Promise<void>;
  /** SIGSTOP / SIGCONT: a process that is alive but does nothing (a long GC pause, a frozen VM). */
  pause(): void;
  resume(): void;
}

export interface ControllerProcess extends ManagedProcess {
  port: number;
  url: string;
  /** `host:port`, as the leader election publishes it. */
  address: string;
  configPath: string;
}

export interface ExecutorProcess extends ManagedProcess {
  port: number;
  url: string;
  executorId: string;
  configPath: string;
}

export interface HaClusterOptions {
  controllers?: number;
  executors?: number;
  etcdMembers?: number;
  leaseTtlSeconds?: number;
  /** Etcd namespace: one per cluster so that several test files may share nothing by accident. */
  namespace?: string;
  /** An etcd already started (e.g. one requiring TLS and a password); the cluster closes it. Default: 3 members. */
  etcd?: EtcdCluster;
  /** More `store:` settings for every controller (username, password, tls). */
  store?: Record<string, unknown>;
  /** Command that runs `drove`: defaults to tsx on src/main.ts. */
  drove?: string[];
  logLevel?: string;
}

export interface HaCluster {
  dir: string;
  etcd: EtcdCluster;
  /** Etcd key prefix of this cluster's state. */
  namespace: string;
  controllers: ControllerProcess[];
  executors: ExecutorProcess[];
  drove: string[];
  close(): Promise<void>;
}

/** The repository (the directory holding package.json), from the source tree or from dist/ (the bench). */
function findRepoRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${import.meta.dirname}`);
    dir = parent;
  }
  return dir;
}

const repoRoot = findRepoRoot();

/** `node --import tsx src/main.ts` from the repository (tests), or the built binary (bench). */
export function droveCommand(fromDist: boolean): string[] {
  return fromDist
    ? [process.execPath, join(repoRoot, 'dist', 'src', 'main.js')]
    : [process.execPath, '--import', 'tsx', join(repoRoot, 'src', 'main.ts')];
}

function managed(name: string, command: string[]): ManagedProcess {
  let child: ChildProcess | undefined;
  let log = '';
  const append = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-20_000);
  };
  const proc: ManagedProcess = {
    name,
    get child() {
      return child;
    },
    output: () => log,
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    start() {
      if (proc.running()) throw new Error(`${name} is already running`);
      // From the repository root: `--import tsx` resolves tsx from there.
      child = spawn(command[0]!, command.slice(1), { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', append);
      child.stderr!.on('data', append);
    },
    async kill() {
      await signal('SIGKILL');
    },
    async stop() {
      await signal('SIGTERM');
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
  };
  const signal = async (sig: NodeJS.Signals) => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((resolve) => c.once('exit', resolve));
    c.kill(sig);
    await exited;
  };
  return proc;
}

export async function startHaCluster(options: HaClusterOptions = {}): Promise<HaCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'drove-ha-'));
  const drove = options.drove ?? droveCommand(false);
  // One retry: on a loaded CI host a member can miss the health deadline, or a port picked as free be taken.
  const members = options.etcdMembers ?? 3;
  const etcd = options.etcd ?? (await startEtcdCluster(members).catch(() => startEtcdCluster(members)));
  const namespace = options.namespace ?? `/drove-ha-${process.pid}-${Date.now()}/`;
  const logLevel = options.logLevel ?? 'warn';
  const controllers: ControllerProcess[] = [];
  const executors: ExecutorProcess[] = [];
  // If the test runner exits without closing the cluster, no process may outlive it.
  const killOnExit = () => {
    for (const p of [...executors, ...controllers]) p.child?.kill('SIGKILL');
    for (const m of etcd.members) m.process?.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  const cluster: HaCluster = {
    dir,
    etcd,
    namespace,
    controllers,
    executors,
    drove,
    async close() {
      process.off('exit', killOnExit);
      await Promise.all([...executors, ...controllers].map((p) => p.kill()));
      await removeExecutorContainers(executors.map((e) => e.executorId));
      await etcd.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    for (let i = 0; i < (options.controllers ?? 3); i++) {
      const port = await freePort();
      const configPath = join(dir, `controller-${i + 1}.yml`);
      writeFileSync(
        configPath,
        toYaml({
          server: { host: '127.0.0.1', port, hostname: '127.0.0.1' },
          store: {
            type: 'etcd',
            endpoints: etcd.endpoints,
            namespace,
            // Absent: the configuration's default, as an operator would run it.
            ...(options.leaseTtlSeconds ? { leaseTtlSeconds: options.leaseTtlSeconds } : {}),
            ...options.store,
          },
          clusterAuth: {
            secrets: [
              { nodeType: 'CONTROLLER', secret: CONTROLLER_SECRET },
              { nodeType: 'EXECUTOR', secret: EXECUTOR_SECRET },
            ],
          },
          // Every controller of an etcd cluster must sign instance tokens with the same secret.
          instanceAuth: { secret: INSTANCE_SECRET },
          options: {
            staleExecutorAge: HA_TEST_TIMINGS.staleExecutorAge,
            reconcileInterval: HA_TEST_TIMINGS.reconcileInterval,
            // Start jobs one at a time so that an ADJUST_INSTANCES lasts long enough to be interrupted.
            clusterOpParallelism: 1,
          },
          logLevel,
        }),
      );
      const proc = managed(`controller-${i + 1}`, [...drove, 'controller', '--config', configPath]);
      controllers.push(
        Object.assign(proc, { port, url: `http://127.0.0.1:${port}`, address: `127.0.0.1:${port}`, configPath }),
      );
    }
    for (let i = 0; i < (options.executors ?? 1); i++) {
      const port = await freePort();
      const root = join(dir, `executor-${i + 1}`);
      mkdirSync(root, { recursive: true });
      const configPath = join(dir, `executor-${i + 1}.yml`);
      writeFileSync(
        configPath,
        toYaml({
          server: { host: '127.0.0.1', port, hostname: '127.0.0.1' },
          controllers: controllers.map((c) => c.url),
          clusterAuth: {
            secrets: [
              { nodeType: 'CONTROLLER', secret: CONTROLLER_SECRET },
              { nodeType: 'EXECUTOR', secret: EXECUTOR_SECRET },
            ],
          },
          logDir: join(root, 'logs'),
          dataDir: join(root, 'data'),
          // The CI host has 2 cores: offer virtual cores so that 4 instances fit, each pinned to a real core.
          resources: { overProvisioning: { enabled: true, cpuMultiplier: 8, memoryMultiplier: 1 } },
          // Containers may not raise nofile above dockerd's own hard limit (20000 on the CI host).
          maxOpenFiles: 4096,
          options: {
            heartbeatInterval: HA_TEST_TIMINGS.executorHeartbeat,
            leaderRetryInitial: HA_TEST_TIMINGS.leaderRetryInitial,
            leaderRetryMax: HA_TEST_TIMINGS.leaderRetryMax,
            readinessPollInterval: HA_TEST_TIMINGS.readinessPoll,
            recoveryLeaderWait: HA_TEST_TIMINGS.recoveryLeaderWait,
          },
          logLevel,
        }),
      );
      const proc = managed(`executor-${i + 1}`, [...drove, 'executor', '--config', configPath]);
      executors.push(
        Object.assign(proc, {
          port,
          url: `http://127.0.0.1:${port}`,
          executorId: executorIdOf('127.0.0.1', port),
          configPath,
        }),
      );
    }
    for (const p of [...controllers, ...executors]) p.start();
    return cluster;
  } catch (error) {
    await cluster.close();
    throw error;
  }
}

// ---- HTTP ----

export interface Answer<T = unknown> {
  status: number;
  body: { status?: string; data?: T; message?: string };
  location?: string;
}

/** One API call without following redirects; network failures come back as status 0. */
export async function call<T = unknown>(base: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer<T>> {
  try {
    const res = await fetch(`${base}${path}`, {
      method,
      redirect: 'manual',
      signal: AbortSignal.timeout(10_000),
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: Answer<T>['body'] = {};
    try {
      parsed = text ? (JSON.parse(text) as Answer<T>['body']) : {};
    } catch {
      parsed = { message: text };
    }
    const location = res.headers.get('location');
    return { status: res.status, body: parsed, ...(location ? { location } : {}) };
  } catch (error) {
    return { status: 0, body: { message: (error as Error).message } };
  }
}

/** Controllers whose ping answers 200 (the leader probe: docs/design/api-compatibility.md#non-leader-controllers). */
export async function leaders(controllers: readonly ControllerProcess[]): Promise<ControllerProcess[]> {
  const answers = await Promise.all(
    controllers.map(async (c) => (c.running() && (await call(c.url, 'GET', '/apis/v1/ping')).status === 200 ? c : undefined)),
  );
  return answers.filter((c): c is ControllerProcess => c !== undefined);
}

/** Runs the drove CLI against an endpoint; resolves with its exit code and output. */
export function runCli(drove: string[], endpoint: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(drove[0]!, [...drove.slice(1), '-e', endpoint, ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 60_000,
    // No ~/.drove of the machine's user must leak into the test.
    env: { ...process.env, HOME: tmpdir() },
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

// ---- Docker ----

export interface ContainerFacts {
  containerId: string;
  instanceId: string;
  running: boolean;
  startedAt: string;
}

/** Containers an executor started (label drove.executor.id), with their start time, sorted by instance id. */
export function executorContainers(executorId: string): ContainerFacts[] {
  const ids = spawnSync('docker', ['ps', '-aq', '--filter', `label=drove.executor.id=${executorId}`], { encoding: 'utf8' });
  if (ids.status !== 0) throw new Error(`docker ps failed: ${ids.stderr}`);
  const list = ids.stdout.split('\n').filter(Boolean);
  if (list.length === 0) return [];
  const inspected = spawnSync(
    'docker',
    ['inspect', '--format', '{{.Id}} {{index .Config.Labels "drove.instance.id"}} {{.State.Running}} {{.State.StartedAt}}', ...list],
    { encoding: 'utf8' },
  );
  if (inspected.status !== 0) throw new Error(`docker inspect failed: ${inspected.stderr}`);
  return inspected.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [containerId, instanceId, running, startedAt] = line.split(' ');
      return { containerId: containerId!, instanceId: instanceId!, running: running === 'true', startedAt: startedAt! };
    })
    .sort((a, b) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0));
}

export async function removeExecutorContainers(executorIds: readonly string[]): Promise<void> {
  for (const executorId of executorIds) {
    const ids = spawnSync('docker', ['ps', '-aq', '--filter', `label=drove.executor.id=${executorId}`], { encoding: 'utf8' });
    const list = ids.stdout.split('\n').filter(Boolean);
    if (list.length > 0) spawnSync('docker', ['rm', '-f', '-v', ...list], { encoding: 'utf8' });
  }
}
