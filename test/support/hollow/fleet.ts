import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../../../src/node-flags.js';
import type { HollowExecutorConfig, HollowHost, StartStages, WorkerCommand, WorkerReply, WorkerResults, WorkerSetup, WorkerUsage } from './protocol.js';

/**
 * A fleet of hollow executors (docs/hollow.md): real executor code, simulated container engines, spread over a
 * few forked worker processes. The shape is the contract with bench:scale (docs/hollow.md#fleet-api).
 */

export interface HollowFleetOptions {
  /** Controller base URLs the executors register with (the executor config's `controllers`). */
  controllerUrls: string[];
  /**
   * Executor config fields for every hollow executor: `clusterAuth` is required by the schema (the secrets the
   * controller expects), `options` sets timings (heartbeatInterval, ...). server, logDir and dataDir are the fleet's.
   */
  executorConfig?: HollowExecutorConfig;
  /** How many hollow executors in all (the first `initialExecutors` start now, grow() adds the rest). */
  executors: number;
  /** Worker processes (default: the machine's cores, at least 2, at most 4). */
  workers?: number;
  /** Simulated container start latency (default 50 ms). */
  startLatencyMs?: number;
  /** Extra start latency up to this much, uniformly drawn per start (default 0). */
  startJitterMs?: number;
  /** Share of container starts that fail (default 0). */
  failStartRatio?: number;
  /** Health and readiness answers of every instance (default true). */
  healthy?: boolean;
  /**
   * Executor n is named `${hostnamePrefix}-${n}` (default 'hollow'), carried as a tag: its hostname is its own
   * loopback address (hollowAddress), which the controller can reach, unlike a made-up name.
   */
  hostnamePrefix?: string;
  /** Executor n gets loopback address hollowAddress(addressOffset + n) (default 0): fleets running at once differ. */
  addressOffset?: number;
  /** Started by startHollowFleet; default `executors`. */
  initialExecutors?: number;
  /** pino level of the executors (default 'error': 5,000 executors at info would log more than they work). */
  logLevel?: string;
  /** startExecutor calls in flight at once per worker (default 8). */
  startConcurrency?: number;
  /**
   * Executors of one start (startHollowFleet, each grow()) start evenly over this window (default 0: as fast as
   * they can). An executor heartbeats every heartbeatInterval from its start, so a fleet started in one burst
   * heartbeats in bursts; real hosts' phases are spread. A window of about one heartbeat interval spreads them.
   */
  startSpreadMs?: number;
  /**
   * The directory under which the fleet makes its own, holding every executor's logDir and dataDir (default:
   * memoryBackedDir(), else the system's temporary directory).
   */
  parentDir?: string;
}

export interface HollowFleet {
  /** Ids (as the controller knows them) of the executors running now. */
  executorIds: string[];
  /** Resolves when every running executor had its node data accepted by a leader. */
  ready(): Promise<void>;
  /** Starts `count` more; joinedAt = epoch ms its first heartbeat was scheduled (sent on the next timer tick). */
  grow(count: number): Promise<{ executorId: string; joinedAt: number }[]>;
  /** Hard-stops these executors: heartbeats stop, HTTP servers close, nothing is deregistered. */
  kill(executorIds: string[]): Promise<void>;
  /** Per executor (killed ones included): when it joined and when it took its first START. */
  times(): Promise<Map<string, { joinedAt: number; firstStartAt?: number }>>;
  /** The steps of every start whose START was taken at or after `since` (epoch ms), over all workers. */
  stages(since: number): Promise<StartStages>;
  /** Starts the CPU profiler of every worker process (one phase of a run). */
  profileStart(): Promise<void>;
  /** Stops them; worker i writes its .cpuprofile to `pathOf(i)`. Resolves with the paths, in worker order. */
  profileStop(pathOf: (worker: number) => string): Promise<string[]>;
  /** Per worker process; the event-loop delay figures cover the time since the previous call. */
  usage(): Promise<(WorkerUsage & { pid: number })[]>;
  /** Stops every worker (their executors first) and waits for them to exit. */
  stop(): Promise<void>;
}

/**
 * The n-th simulated host's address: 127.1.0.1 upwards, skipping .0 and .255, so 65,000 fit below 127.2 and none
 * is 127.0.0.1 (where the controller and everything else listen).
 */
export function hollowAddress(n: number): string {
  if (!(Number.isInteger(n) && n >= 0 && n < 254 * 256 * 254)) throw new Error(`hollow host index ${n} out of range`);
  const low = n % 254;
  const block = Math.floor(n / 254);
  return `127.${1 + Math.floor(block / 256)}.${block % 256}.${1 + low}`;
}

/**
 * A memory-backed directory to put the fleet's files in (`candidate`, /dev/shm, where it is a writable directory),
 * else undefined.
 * Every instance start makes its log directory and opens its log file (logs.ts), real work every executor does on
 * its own host's disk. On one machine's ext4 the fleet's 20,000 of them cost 165 to 385 us of CPU each (mkdir,
 * readdir, open), against 19 us on tmpfs: 3 to 8 s of the two cores the controller needs during an ACTIVATE at
 * 5,000 executors, for a disk that is no part of what the fleet simulates (docs/hollow.md).
 */
export function memoryBackedDir(candidate = '/dev/shm'): string | undefined {
  try {
    if (!statSync(candidate).isDirectory()) return undefined;
    accessSync(candidate, constants.W_OK);
    return candidate;
  } catch {
    return undefined;
  }
}

/** The worker script next to this file: the TypeScript source under vitest/tsx (loaded by tsx), else the build. */
function workerScript(): { path: string; execArgv: string[] } {
  const self = fileURLToPath(import.meta.url);
  return self.endsWith('.ts')
    ? { path: join(import.meta.dirname, 'worker.ts'), execArgv: ['--import', 'tsx'] }
    : { path: join(import.meta.dirname, 'worker.js'), execArgv: [] };
}

class WorkerHandle {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private readonly exited: Promise<void>;
  readonly executorIds = new Set<string>();

  constructor(readonly child: ChildProcess) {
    child.on('message', (reply: WorkerReply) => {
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiter.resolve(reply.result);
      else waiter.reject(new Error(`hollow worker ${child.pid}: ${reply.error}`));
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        for (const waiter of this.pending.values()) waiter.reject(new Error(`hollow worker ${child.pid} exited (${code ?? signal})`));
        this.pending.clear();
        resolve();
      });
    });
  }

  call<C extends WorkerCommand>(command: C): Promise<WorkerResults[C['cmd']]> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ ...command, id }, (error) => {
        if (error) {
          this.pending.delete(id);
          reject(error);
        }
      });
    });
  }

  async close(): Promise<void> {
    if (this.child.connected) {
      await this.call({ cmd: 'stop' }).catch(() => undefined);
      // The channel may have closed meanwhile (a worker that exited, or was killed, answering nothing).
      if (this.child.connected) this.child.disconnect();
    }
    await this.exited;
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

export async function startHollowFleet(options: HollowFleetOptions): Promise<HollowFleet> {
  if (!(options.executors >= 0)) throw new Error('executors must be a number >= 0');
  const initial = options.initialExecutors ?? options.executors;
  if (initial > options.executors) throw new Error('initialExecutors must not exceed executors');
  const workerCount = Math.max(1, options.workers ?? Math.min(4, Math.max(2, availableParallelism())));
  const prefix = options.hostnamePrefix ?? 'hollow';
  const offset = options.addressOffset ?? 0;
  const baseDir = mkdtempSync(join(options.parentDir ?? memoryBackedDir() ?? tmpdir(), `${prefix}-fleet-`));
  const script = workerScript();
  const workers: WorkerHandle[] = [];
  const owner = new Map<string, WorkerHandle>();
  let started = 0;

  // The directory goes even when a worker fails to close (it may sit in memory, memoryBackedDir).
  const stopAll = async () => {
    try {
      await Promise.all(workers.map((w) => w.close()));
    } finally {
      rmSync(baseDir, { recursive: true, force: true });
    }
  };

  try {
    for (let i = 0; i < workerCount; i++) {
      // The flags a `drove executor` runs with (its shebang's): the fleet shares the cores with the controller.
      const child = fork(script.path, [], { execArgv: [...script.execArgv, ...NODE_FLAGS], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const worker = new WorkerHandle(child);
      workers.push(worker);
      const setup: WorkerSetup = {
        controllerUrls: options.controllerUrls,
        executorConfig: options.executorConfig ?? {},
        startLatencyMs: options.startLatencyMs ?? 50,
        startJitterMs: options.startJitterMs ?? 0,
        failStartRatio: options.failStartRatio ?? 0,
        healthy: options.healthy ?? true,
        baseDir: join(baseDir, `worker-${i}`),
        logLevel: options.logLevel ?? 'error',
        startConcurrency: options.startConcurrency ?? 8,
        startSpreadMs: options.startSpreadMs ?? 0,
      };
      await worker.call({ cmd: 'setup', setup });
    }
  } catch (error) {
    for (const w of workers) w.kill();
    await stopAll().catch(() => undefined);
    throw error;
  }

  const grow = async (count: number) => {
    if (!(Number.isInteger(count) && count >= 0)) throw new Error('grow(count): count must be an integer >= 0');
    // Round-robin by fleet index, so every worker holds an equal share of each batch.
    const batches = workers.map(() => [] as HollowHost[]);
    for (let n = started; n < started + count; n++) {
      batches[n % workers.length]!.push({ address: hollowAddress(offset + n), name: `${prefix}-${n}` });
    }
    started += count;
    const results = await Promise.all(workers.map((w, i) => (batches[i]!.length > 0 ? w.call({ cmd: 'start', hosts: batches[i]! }) : Promise.resolve([]))));
    const joined: { executorId: string; joinedAt: number }[] = [];
    results.forEach((list, i) => {
      for (const e of list) {
        owner.set(e.executorId, workers[i]!);
        workers[i]!.executorIds.add(e.executorId);
        joined.push({ executorId: e.executorId, joinedAt: e.joinedAt });
      }
    });
    return joined.sort((a, b) => a.joinedAt - b.joinedAt);
  };

  const fleet: HollowFleet = {
    get executorIds() {
      return workers.flatMap((w) => [...w.executorIds]);
    },
    async ready() {
      await Promise.all(workers.map((w) => w.call({ cmd: 'ready' })));
    },
    grow,
    async kill(executorIds) {
      const byWorker = new Map<WorkerHandle, string[]>();
      for (const id of executorIds) {
        const worker = owner.get(id);
        if (!worker || !worker.executorIds.has(id)) throw new Error(`kill: no running hollow executor ${id}`);
        byWorker.set(worker, [...(byWorker.get(worker) ?? []), id]);
      }
      await Promise.all(
        [...byWorker].map(async ([worker, ids]) => {
          await worker.call({ cmd: 'kill', executorIds: ids });
          for (const id of ids) worker.executorIds.delete(id);
        }),
      );
    },
    async times() {
      const lists = await Promise.all(workers.map((w) => w.call({ cmd: 'times' })));
      return new Map(
        lists.flat().map((t) => [t.executorId, { joinedAt: t.joinedAt, ...(t.firstStartAt !== undefined ? { firstStartAt: t.firstStartAt } : {}) }]),
      );
    },
    async stages(since) {
      const lists = await Promise.all(workers.map((w) => w.call({ cmd: 'stages', since })));
      return {
        pendingToStarting: lists.flatMap((l) => l.pendingToStarting),
        startingToUnready: lists.flatMap((l) => l.startingToUnready),
        unreadyToHealthy: lists.flatMap((l) => l.unreadyToHealthy),
      };
    },
    async profileStart() {
      await Promise.all(workers.map((w) => w.call({ cmd: 'profile-start' })));
    },
    profileStop(pathOf) {
      return Promise.all(workers.map((w, i) => w.call({ cmd: 'profile-stop', path: pathOf(i) })));
    },
    async usage() {
      return Promise.all(workers.map(async (w) => ({ ...(await w.call({ cmd: 'usage' })), pid: w.child.pid ?? 0 })));
    },
    stop: stopAll,
  };

  try {
    await grow(initial);
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error;
  }
  return fleet;
}
