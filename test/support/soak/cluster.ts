import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify as toYaml } from 'yaml';
import { executorIdOf } from '../../../src/model/ids.js';
import { startEtcdCluster, type EtcdCluster, type EtcdMember } from '../etcd-cluster.js';
import { TEST_IMAGE } from '../images.js';
import { createNetnsCluster, processesUnder, type NetnsCluster, type NetnsHost } from '../netns.js';
import { SOAK_TIMINGS } from './timings.js';

/**
 * The soak's cluster, all real processes: a 3-member etcd on loopback, three `drove controller` processes
 * (dist/src/main.js) listening on the netns gateway, and three executor hosts, each a network namespace with its own
 * dockerd running one `drove executor` process. Every fault the soak injects is a method here.
 */

export const SOAK_CREDENTIALS = { username: 'soak-admin', password: 'soak-admin-password' };
const CONTROLLER_SECRET = 'soak-controller-secret';
const EXECUTOR_SECRET = 'soak-executor-secret';
const EXECUTOR_PORT = 3000;

/** The repository (holding package.json), from test/support/soak or from dist/test/support/soak. */
function repoRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${import.meta.dirname}`);
    dir = parent;
  }
  return dir;
}

export const droveMain = join(repoRoot(), 'dist', 'src', 'main.js');

/** Request and audit lines drown everything else in the logs; state changes, warnings and errors stay. */
const NOISE = /"msg":"(incoming request|request completed|audit)"/;

/** One drove process the soak can kill, pause and restart; its output goes to a log file. */
export class SoakProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private log: WriteStream | undefined;
  private paused = false;
  /** Bumped on every start, so observers can tell a restarted process from the one they talked to. */
  incarnation = 0;

  constructor(
    readonly name: string,
    readonly logFile: string,
    private readonly launch: () => ChildProcess,
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get isPaused(): boolean {
    return this.running && this.paused;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  start(): void {
    if (this.running) throw new Error(`${this.name} is already running`);
    this.log ??= createWriteStream(this.logFile, { flags: 'a' });
    const child = this.launch();
    this.child = child;
    this.paused = false;
    this.incarnation++;
    this.log.write(`----- ${new Date().toISOString()} ${this.name} started (pid ${child.pid})\n`);
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        if (!NOISE.test(line)) this.log?.write(`${line}\n`);
      });
    }
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** SIGKILL: no goodbye (its etcd lease is left to expire, its containers keep running). */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill('SIGKILL');
    await this.exited;
    this.paused = false;
    this.log?.write(`----- ${new Date().toISOString()} ${this.name} killed\n`);
  }

  pause(): void {
    if (!this.running) return;
    this.child!.kill('SIGSTOP');
    this.paused = true;
    this.log?.write(`----- ${new Date().toISOString()} ${this.name} paused\n`);
  }

  resume(): void {
    if (!this.running) return;
    this.child!.kill('SIGCONT');
    this.paused = false;
    this.log?.write(`----- ${new Date().toISOString()} ${this.name} resumed\n`);
  }

  /** Synchronous last resort (process exit): no process may outlive the soak. */
  killNow(): void {
    if (this.running) this.child!.kill('SIGKILL');
  }

  async close(): Promise<void> {
    await this.kill();
    await new Promise<void>((resolve) => (this.log ? this.log.end(resolve) : resolve()));
    this.log = undefined;
  }
}

export interface SoakController {
  index: number;
  url: string;
  process: SoakProcess;
}

export interface SoakExecutor {
  index: number;
  host: NetnsHost;
  executorId: string;
  process: SoakProcess;
}

export interface SoakCluster {
  dir: string;
  net: NetnsCluster;
  etcd: EtcdCluster;
  controllers: SoakController[];
  executors: SoakExecutor[];
  /** Drops all traffic between the host and the controllers (both directions), as a broken switch port would. */
  partition(host: NetnsHost): Promise<void>;
  heal(host: NetnsHost): Promise<void>;
  stopEtcdMember(member: EtcdMember): Promise<void>;
  startEtcdMember(member: EtcdMember): Promise<void>;
  close(): Promise<void>;
  /**
   * After close: whatever of the cluster is still there (namespaces, processes); [] when it is all gone. Container
   * shims exit a moment after their dockerd, so this looks again for a few seconds before it answers.
   */
  leftovers(): Promise<string[]>;
}

function freePortOn(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, address, () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

const secrets = {
  secrets: [
    { nodeType: 'CONTROLLER', secret: CONTROLLER_SECRET },
    { nodeType: 'EXECUTOR', secret: EXECUTOR_SECRET },
  ],
};

function controllerConfig(address: string, port: number, etcd: EtcdCluster): Record<string, unknown> {
  return {
    server: { host: address, port, hostname: address },
    store: { type: 'etcd', endpoints: etcd.endpoints, namespace: '/drove-soak/', leaseTtlSeconds: SOAK_TIMINGS.leaseTtlSeconds },
    clusterAuth: secrets,
    instanceAuth: { secret: 'soak-instance-secret' },
    userAuth: { enabled: true, encoding: 'PLAIN', users: [{ ...SOAK_CREDENTIALS, role: 'EXTERNAL_READ_WRITE' }] },
    options: SOAK_TIMINGS.controllerOptions,
    // Debug adds the service state changes (and refused executor messages): what a post-mortem needs.
    logLevel: 'debug',
  };
}

function executorConfig(host: NetnsHost, controllers: readonly string[], dir: string): Record<string, unknown> {
  return {
    server: { host: host.address, port: EXECUTOR_PORT, hostname: host.address },
    controllers,
    clusterAuth: secrets,
    // Two cores shared by three hosts: virtual cores, so that every service fits at its largest count.
    resources: { disableNUMAPinning: true, overProvisioning: { enabled: true, cpuMultiplier: 8, memoryMultiplier: 1 } },
    docker: { socket: host.dockerSocket },
    logDir: join(dir, 'logs'),
    dataDir: join(dir, 'data'),
    // Containers may not raise nofile above dockerd's own hard limit.
    maxOpenFiles: 4096,
    options: SOAK_TIMINGS.executorOptions,
    logLevel: 'info',
  };
}

/** How long a finished cleanup may take to show: shims and dockerd children exit shortly after dockerd. */
const LEFTOVER_GRACE_MS = 10_000;

/**
 * What the cleanup must remove, taken just before it starts: each host's namespace (by inode: a slot released by
 * us may be claimed by another run at once, with the same names and paths) and every process running from a
 * host's state directory (its dockerd, containerd and container shims).
 */
interface Inventory {
  namespaces: Array<{ name: string; inode: number }>;
  pids: number[];
}

function inventoryOf(net: NetnsCluster): Inventory {
  const namespaces: Inventory['namespaces'] = [];
  for (const host of net.hosts) {
    try {
      namespaces.push({ name: host.name, inode: statSync(`/var/run/netns/${host.name}`).ino });
    } catch {
      // Already gone.
    }
  }
  return { namespaces, pids: net.hosts.flatMap((h) => processesUnder(h.dir)) };
}

function leftovers(inventory: Inventory, processes: readonly SoakProcess[], etcd: EtcdCluster): string[] {
  const found: string[] = [];
  for (const { name, inode } of inventory.namespaces) {
    let now: number | undefined;
    try {
      now = statSync(`/var/run/netns/${name}`).ino;
    } catch {
      now = undefined;
    }
    if (now === inode) found.push(`network namespace ${name}`);
  }
  for (const pid of inventory.pids) {
    try {
      process.kill(pid, 0);
      found.push(`process ${pid} (${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').slice(0, 120)})`);
    } catch {
      // Gone, as it should be.
    }
  }
  for (const p of processes) if (p.running) found.push(`${p.name} (pid ${p.pid})`);
  for (const m of etcd.members) if (m.process && m.process.exitCode === null && m.process.signalCode === null) found.push(`etcd ${m.name}`);
  return found;
}

/** Brings the whole cluster up; on any failure, everything started so far is taken down again. */
export async function startSoakCluster(options: { hosts: number; log: (line: string) => void }): Promise<SoakCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'drove-soak-'));
  const cleanups: Array<() => Promise<void>> = [];
  const processes: SoakProcess[] = [];
  const partitioned = new Set<NetnsHost>();
  let etcdMembers: readonly EtcdMember[] = [];
  // No process may outlive the soak, whatever way it ends.
  const killAll = () => {
    processes.forEach((p) => p.killNow());
    for (const m of etcdMembers) if (m.process && m.process.exitCode === null && m.process.signalCode === null) m.process.kill('SIGKILL');
  };
  process.on('exit', killAll);

  let inventory: Inventory = { namespaces: [], pids: [] };
  let netRef: NetnsCluster | undefined;
  const close = async () => {
    process.off('exit', killAll);
    if (netRef && cleanups.length > 0) inventory = inventoryOf(netRef);
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        options.log(`cleanup step failed: ${(error as Error).message}`);
      }
    }
  };

  try {
    options.log(`starting a 3-member etcd`);
    const etcd = await startEtcdCluster(3).catch(() => startEtcdCluster(3));
    cleanups.push(() => etcd.close());
    etcdMembers = etcd.members;

    options.log(`starting ${options.hosts} executor hosts (network namespaces with their own dockerd)`);
    const net = await createNetnsCluster({ hosts: options.hosts, images: [TEST_IMAGE] });
    cleanups.push(() => net.close());
    netRef = net;

    const controllers: SoakController[] = [];
    for (let index = 0; index < 3; index++) {
      const port = await freePortOn(net.gateway);
      const configPath = join(dir, `controller-${index + 1}.yml`);
      writeFileSync(configPath, toYaml(controllerConfig(net.gateway, port, etcd)));
      const proc = new SoakProcess(`controller-${index + 1}`, join(dir, `controller-${index + 1}.log`), () =>
        spawn(process.execPath, [droveMain, 'controller', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] }),
      );
      processes.push(proc);
      controllers.push({ index, url: `http://${net.gateway}:${port}`, process: proc });
    }
    cleanups.push(async () => {
      await Promise.all(controllers.map((c) => c.process.close()));
    });

    const executors: SoakExecutor[] = net.hosts.map((host) => {
      const hostDir = join(dir, host.name);
      mkdirSync(hostDir, { recursive: true });
      const configPath = join(hostDir, 'executor.yml');
      writeFileSync(configPath, toYaml(executorConfig(host, controllers.map((c) => c.url), hostDir)));
      const proc = new SoakProcess(`executor-${host.index + 1}`, join(dir, `executor-${host.index + 1}.log`), () =>
        host.spawnInside(process.execPath, [droveMain, 'executor', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] }),
      );
      processes.push(proc);
      return { index: host.index, host, executorId: executorIdOf(host.address, EXECUTOR_PORT), process: proc };
    });
    // Executors go first on the way down (before the hosts' dockerds and namespaces are removed).
    cleanups.push(async () => {
      await Promise.all(executors.map((e) => e.process.close()));
      for (const host of [...partitioned]) await heal(host).catch(() => undefined);
    });

    const rules = [
      ['INPUT', '-s', net.gateway, '-j', 'DROP'],
      ['OUTPUT', '-d', net.gateway, '-j', 'DROP'],
    ];
    const partition = async (host: NetnsHost) => {
      for (const rule of rules) await host.runInside('iptables', ['-w', '-I', ...rule]);
      partitioned.add(host);
    };
    const heal = async (host: NetnsHost) => {
      for (const rule of rules) await host.runInside('iptables', ['-w', '-D', ...rule]).catch(() => '');
      partitioned.delete(host);
    };

    for (const c of controllers) c.process.start();
    for (const e of executors) e.process.start();
    return {
      dir,
      net,
      etcd,
      controllers,
      executors,
      partition,
      heal,
      stopEtcdMember: (member) => etcd.stop(member),
      startEtcdMember: (member) => etcd.start(member),
      close,
      leftovers: async () => {
        const deadline = Date.now() + LEFTOVER_GRACE_MS;
        for (;;) {
          const found = leftovers(inventory, processes, etcd);
          if (found.length === 0 || Date.now() > deadline) return found;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      },
    };
  } catch (error) {
    await close();
    throw error;
  }
}

