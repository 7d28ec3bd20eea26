import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmdirSync, closeSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { buildIsStale, ensureBuild, mainJs } from '../../scripts/prepare.mjs';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { ensureTestImage, TEST_IMAGE } from './images.js';
import { createNetnsCluster, type NetnsCluster, type NetnsHost } from './netns.js';
import { madeByHooks, type Made } from './hook-value.js';
import { waitUntil } from './wait.js';
import { DroveApi } from './drove-api.js';

/**
 * A real cluster for end-to-end tests: one controller process (`drove controller`, SQLite) in the test's network
 * namespace listening on the harness gateway, and one executor process (`drove executor`) inside each namespace
 * host, talking to that host's own dockerd. Everything runs the compiled binary (dist/src/main.js).
 */

export const clusterTimings = {
  /** Controller and executor processes start in well under 5 s; CI machines are slower. */
  processStartMs: 30_000,
  /** SIGTERM -> exit: executors leave containers in place, so this is quick. */
  processStopMs: 15_000,
};

export const E2E_SECRETS = {
  controller: 'e2e-controller-secret',
  executor: 'e2e-executor-secret',
};

export const ADMIN = { username: 'admin', password: 'admin' };

/** Builds dist/ when it is older than the sources; a lock directory keeps parallel test files from racing tsc. */
export async function ensureBinaryBuilt(): Promise<void> {
  if (!buildIsStale()) return;
  const lock = `${mainJs}.build-lock`;
  mkdirSync(join(mainJs, '..'), { recursive: true });
  await waitUntil('the build lock', () => {
    try {
      mkdirSync(lock);
      return true;
    } catch {
      return false;
    }
  }, { timeoutMs: 300_000, intervalMs: 500 });
  try {
    if (buildIsStale()) ensureBuild();
  } finally {
    rmdirSync(lock);
  }
}

/** Hard nofile limit of this process: dockerd (started by the harness) inherits it, containers cannot exceed it. */
export function openFilesLimit(): number {
  const hard = /^Max open files\s+\S+\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
  return !hard || hard === 'unlimited' ? 470_000 : Math.min(470_000, Number(hard));
}

export class DroveProcess {
  private exited: Promise<number | null>;
  exitCode: number | null | undefined;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        resolve(this.exitCode);
      });
    });
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  output(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }

  /** SIGTERM and wait; SIGKILL if it does not exit in time. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(true), clusterTimings.processStopMs)),
    ]);
    if (timedOut) await this.kill();
  }

  /** The process dies without any cleanup (a crashed or powered-off host). */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

function spawnLogged(name: string, dir: string, start: (out: number) => ChildProcess): DroveProcess {
  const logFile = join(dir, `${name}.log`);
  const out = openSync(logFile, 'a');
  const child = start(out);
  closeSync(out);
  return new DroveProcess(name, child, logFile);
}

export interface ControllerOverrides {
  /** Merged into the controller's `options:` block (durations as strings). */
  options?: Record<string, unknown>;
  /** The controller's `monitoring:` section (who may read /metrics). */
  monitoring?: Record<string, unknown>;
}

export interface E2eCluster {
  net: NetnsCluster;
  dir: string;
  api: DroveApi;
  apiUrl: string;
  controller: DroveProcess;
  executors: Map<NetnsHost, DroveProcess>;
  /**
   * Starts the executor of `host` and waits until the controller lists it. `tags` replace the host's configured
   * tags (default: `executor.tags` of the cluster's overrides); a later start with others is a restart with a new
   * config.
   */
  startExecutor(host: NetnsHost, options?: { tags?: string[] }): Promise<DroveProcess>;
  /** Every process output, for failure messages. */
  logs(): string;
  close(): Promise<void>;
}

export interface ExecutorOverrides {
  /** Merged into the executor's `options:` block. */
  options?: Record<string, unknown>;
  /** The `tags:` of each host's executor config (docs/design/placement.md#tag-constraints); none by default. */
  tags?: (host: NetnsHost) => string[];
  /** Every executor's `monitoring:` section. */
  monitoring?: Record<string, unknown>;
}

export async function startE2eCluster(
  net: NetnsCluster,
  overrides: { controller?: ControllerOverrides; executor?: ExecutorOverrides } = {},
): Promise<E2eCluster> {
  await ensureBinaryBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'drove-e2e-'));
  const controllerConfig = {
    server: { host: net.gateway, port: 0, hostname: net.gateway },
    store: { type: 'sqlite', path: join(dir, 'controller.db') },
    clusterAuth: {
      secrets: [
        { nodeType: 'CONTROLLER', secret: E2E_SECRETS.controller },
        { nodeType: 'EXECUTOR', secret: E2E_SECRETS.executor },
      ],
    },
    userAuth: {
      enabled: true,
      encoding: 'PLAIN',
      users: [
        { ...ADMIN, role: 'EXTERNAL_READ_WRITE' },
        { username: 'guest', password: 'guest', role: 'EXTERNAL_READ_ONLY' },
      ],
    },
    options: { ...overrides.controller?.options },
    ...(overrides.controller?.monitoring ? { monitoring: overrides.controller.monitoring } : {}),
    logLevel: 'info',
  };
  writeFileSync(join(dir, 'controller.yml'), toYaml(controllerConfig));
  const controller = spawnLogged('controller', dir, (out) =>
    spawn(process.execPath, [mainJs, 'controller', '--config', join(dir, 'controller.yml')], {
      stdio: ['ignore', out, out],
    }),
  );
  const apiUrl = await waitUntil(
    'the controller to listen',
    () => {
      if (!controller.running) throw new Error(`controller exited: ${controller.output().slice(-3000)}`);
      return /drove controller listening on (http:\/\/\S+)/.exec(controller.output())?.[1];
    },
    { timeoutMs: clusterTimings.processStartMs },
  );
  const api = new DroveApi(apiUrl, ADMIN);
  const executors = new Map<NetnsHost, DroveProcess>();

  const startExecutor = async (host: NetnsHost, options: { tags?: string[] } = {}): Promise<DroveProcess> => {
    const hostDir = join(dir, host.name);
    mkdirSync(hostDir, { recursive: true });
    const config = {
      server: { host: host.address, port: 3000, hostname: host.address },
      controllers: [apiUrl],
      clusterAuth: {
        secrets: [
          { nodeType: 'CONTROLLER', secret: E2E_SECRETS.controller },
          { nodeType: 'EXECUTOR', secret: E2E_SECRETS.executor },
        ],
      },
      // Two cores shared by several hosts: offer virtual cores so instancesPerHost 2 fits on every host.
      resources: { disableNUMAPinning: true, overProvisioning: { enabled: true, cpuMultiplier: 8, memoryMultiplier: 1 } },
      docker: { socket: host.dockerSocket },
      logDir: join(hostDir, 'logs'),
      dataDir: join(hostDir, 'data'),
      maxOpenFiles: openFilesLimit(),
      tags: options.tags ?? overrides.executor?.tags?.(host) ?? [],
      options: { heartbeatInterval: '2 seconds', ...overrides.executor?.options },
      ...(overrides.executor?.monitoring ? { monitoring: overrides.executor.monitoring } : {}),
      logLevel: 'info',
    };
    writeFileSync(join(hostDir, 'executor.yml'), toYaml(config));
    const executor = spawnLogged(`executor-${host.name}`, dir, (out) =>
      host.spawnInside(process.execPath, [mainJs, 'executor', '--config', join(hostDir, 'executor.yml')], {
        stdio: ['ignore', out, out],
      }),
    );
    executors.set(host, executor);
    await waitUntil(
      `executor ${host.name} to register`,
      async () => {
        if (!executor.running) throw new Error(`executor ${host.name} exited: ${executor.output().slice(-3000)}`);
        const list = await api.executors();
        return list.some((e) => e.hostname === host.address);
      },
      { timeoutMs: clusterTimings.processStartMs },
    );
    return executor;
  };

  const cluster: E2eCluster = {
    net,
    dir,
    api,
    apiUrl,
    controller,
    executors,
    startExecutor,
    // Request logs drown everything else; what helps after a failure is state changes, warnings and errors.
    logs: () =>
      [controller, ...executors.values()]
        .map((p) => {
          const lines = p.output().split('\n').filter((l) => l && !/"msg":"(incoming request|request completed|audit)"/.test(l));
          return `----- ${p.name} (${p.logFile})\n${lines.slice(-40).join('\n')}`;
        })
        .join('\n'),
    close: async () => {
      await Promise.all([...executors.values()].map((p) => p.stop()));
      await controller.stop();
      await api.close();
    },
  };
  try {
    for (const host of net.hosts) await startExecutor(host);
  } catch (error) {
    await cluster.close();
    throw error;
  }
  return cluster;
}

/** Container-name listing of a host's dockerd (running containers only unless `all`). */
/** The hosts and the cluster of an end-to-end test file or describe block (useE2eCluster). */
export interface E2eFixture {
  readonly net: NetnsCluster;
  readonly cluster: E2eCluster;
}

/**
 * Builds `hosts` network-namespace hosts with `image` loaded and starts a cluster on them before the tests of the
 * calling describe block, and closes both after them; a failing test prints every process's output. Read `net`
 * and `cluster` inside tests and hooks only: they exist once the hook ran.
 */
export function useE2eCluster(setup: {
  hosts: number;
  /** The image the tests run and how to make sure it exists; the offline test image by default. */
  image?: { name: string; ensure: () => void };
  controller?: ControllerOverrides;
  executor?: ExecutorOverrides;
}): E2eFixture {
  const made: Made<E2eFixture> = {};
  beforeAll(async () => {
    const image = setup.image ?? { name: TEST_IMAGE, ensure: ensureTestImage };
    image.ensure();
    const net = (made.net = await createNetnsCluster({ hosts: setup.hosts, images: [image.name] }));
    made.cluster = await startE2eCluster(net, { controller: setup.controller, executor: setup.executor });
  });
  afterEach((context) => {
    if (context.task.result?.state === 'fail' && made.cluster) process.stderr.write(`${made.cluster.logs()}\n`);
  });
  afterAll(async () => {
    await made.cluster?.close();
    await made.net?.close();
  });
  return madeByHooks('the end-to-end cluster', made, ['net', 'cluster']);
}

export async function containerNames(host: NetnsHost, all = false): Promise<string[]> {
  const out = await host.docker(['ps', ...(all ? ['-a'] : []), '--format', '{{.Names}}']);
  return out.split('\n').filter(Boolean).sort();
}

/** A temp directory for a test (left for post-mortem reading; /tmp is cleared by the OS). */
export function scratchDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
