import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Logger } from 'pino';
import type { ExecutorConfig } from '../../../src/executor/config.js';
import { parseExecutorConfig } from '../../../src/executor/config.js';
import type { RunningExecutor } from '../../../src/executor/server.js';
import { startExecutor } from '../../../src/executor/server.js';
import { systemClock } from '../../../src/model/clock.js';
import { INSTANCE_PROGRESSING_STATES, type LocalServiceInstanceInfo } from '../../../src/model/index.js';
import { PhaseProfiler } from '../cpu-profiler.js';
import { LoopDelayMeter } from '../loop-delay.js';
import type {
  ExecutorTimes,
  HollowHost,
  StartStages,
  StartedExecutor,
  WorkerCommand,
  WorkerReply,
  WorkerRequest,
  WorkerResults,
  WorkerSetup,
  WorkerUsage,
} from './protocol.js';
import { SimChecker, SimRuntime, simHostTopology } from './sim-runtime.js';

/**
 * One worker process of a hollow fleet (docs/hollow.md): many real executors (startExecutor: HTTP server, agent,
 * heartbeats, reporter, recovery, reaper) in this one Node process, each with its own in-memory container engine.
 * Commanded by fleet.ts over the fork IPC channel; exits when told to stop or when the parent goes away.
 */

interface HollowExecutor {
  running: RunningExecutor;
  times: ExecutorTimes;
  /** Killed executors keep their times (the bench reads them afterwards) but are no longer running. */
  alive: boolean;
}

/** How often `ready` looks at the agents: small against a heartbeat round trip, cheap over a thousand executors. */
const READY_POLL_MS = 20;

/** An instance on its way up: when it entered each state so far (epoch ms). */
interface Rising {
  pending: number;
  starting?: number;
  unready?: number;
}

/** A start that reached HEALTHY: when its START was taken and how long each step took (ms). */
interface StartRecord {
  pendingAt: number;
  pendingToStarting: number;
  startingToUnready: number;
  unreadyToHealthy: number;
}

/**
 * The steps of every start in this worker (docs/hollow.md#start-stages), seen through the engines' onChange, so
 * bench:scale can tell how much of an instance's time from placement to HEALTHY was spent in the executor.
 */
class StartStagesLog {
  private readonly rising = new Map<string, Rising>();
  private readonly done: StartRecord[] = [];

  /** A state out of the progressing ones other than HEALTHY is a start that failed: its entry is dropped. */
  observe(info: LocalServiceInstanceInfo, at: number): void {
    if (info.state === 'PENDING') {
      this.rising.set(info.instanceId, { pending: at });
      return;
    }
    const entry = this.rising.get(info.instanceId);
    if (!entry) return;
    if (info.state === 'STARTING') entry.starting ??= at;
    else if (info.state === 'UNREADY') entry.unready ??= at;
    else if (info.state === 'HEALTHY') {
      this.rising.delete(info.instanceId);
      if (entry.starting === undefined || entry.unready === undefined) return;
      this.done.push({
        pendingAt: entry.pending,
        pendingToStarting: entry.starting - entry.pending,
        startingToUnready: entry.unready - entry.starting,
        unreadyToHealthy: at - entry.unready,
      });
    } else if (!INSTANCE_PROGRESSING_STATES.has(info.state)) this.rising.delete(info.instanceId);
  }

  since(since: number): StartStages {
    const records = this.done.filter((r) => r.pendingAt >= since);
    return {
      pendingToStarting: records.map((r) => r.pendingToStarting),
      startingToUnready: records.map((r) => r.startingToUnready),
      unreadyToHealthy: records.map((r) => r.unreadyToHealthy),
    };
  }
}

class HollowWorker {
  private setup: WorkerSetup | undefined;
  private baseConfig: ExecutorConfig | undefined;
  private logger: Logger = pino({ level: 'silent' });
  private readonly executors = new Map<string, HollowExecutor>();
  private readonly stages = new StartStagesLog();
  private readonly loopDelay = new LoopDelayMeter();
  private readonly profiler = new PhaseProfiler();

  async handle(command: WorkerCommand): Promise<WorkerResults[WorkerCommand['cmd']]> {
    switch (command.cmd) {
      case 'setup':
        this.configure(command.setup);
        return null;
      case 'start':
        return this.start(command.hosts);
      case 'ready':
        await this.ready();
        return null;
      case 'kill':
        await this.kill(command.executorIds);
        return null;
      case 'times':
        return [...this.executors.values()].map((e) => ({ ...e.times }));
      case 'stages':
        return this.stages.since(command.since);
      case 'usage':
        return this.usage();
      case 'profile-start':
        await this.profiler.start();
        return null;
      case 'profile-stop':
        return this.profiler.stop(command.path);
      case 'stop':
        await this.stop();
        return null;
    }
  }

  private configure(setup: WorkerSetup): void {
    this.setup = setup;
    // Parsed once: validation errors surface at setup, and 1,000 executors do not re-run the schema.
    this.baseConfig = parseExecutorConfig(
      {
        ...setup.executorConfig,
        server: { host: '127.0.0.1', port: 0 },
        controllers: setup.controllerUrls,
        logDir: join(setup.baseDir, 'logs'),
        dataDir: join(setup.baseDir, 'data'),
        logLevel: setup.logLevel,
      },
      'hollow executor config',
    );
    // One logger for the process: 1,000 pino streams would cost memory and interleave anyway.
    this.logger = pino({ level: setup.logLevel, name: 'hollow-executor' });
  }

  private async start(hosts: HollowHost[]): Promise<StartedExecutor[]> {
    const setup = this.setup;
    if (!setup) throw new Error('start before setup');
    const started: StartedExecutor[] = [];
    const t0 = Date.now();
    let next = 0;
    const lane = async () => {
      while (next < hosts.length) {
        const k = next++;
        // Spread over the window, so heartbeat phases (fixed by each executor's start) spread with them.
        const due = t0 + (setup.startSpreadMs * k) / hosts.length - Date.now();
        if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
        started.push(await this.startOne(setup, hosts[k]!));
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, setup.startConcurrency) }, () => lane()));
    return started;
  }

  private async startOne(setup: WorkerSetup, host: HollowHost): Promise<StartedExecutor> {
    const base = this.baseConfig!;
    const dir = join(setup.baseDir, host.name);
    mkdirSync(dir, { recursive: true });
    const config: ExecutorConfig = {
      ...base,
      server: { ...base.server, host: host.address, hostname: host.address },
      tags: [...base.tags, host.name],
      logDir: join(dir, 'logs'),
      dataDir: join(dir, 'data'),
    };
    const runtime = new SimRuntime({
      clock: systemClock,
      startLatencyMs: setup.startLatencyMs,
      startJitterMs: setup.startJitterMs,
      failStartRatio: setup.failStartRatio,
    });
    const healthy = setup.healthy;
    const running = await startExecutor(config, {
      runtime,
      checker: new SimChecker(runtime, () => healthy),
      hostTopology: simHostTopology(),
      logger: this.logger.child({ executor: host.name }),
      processMetrics: false,
      executorEnv: {},
    });
    // startExecutor resolves right after the agent scheduled its first heartbeat with a 0 ms timer.
    const times: ExecutorTimes = { executorId: running.executorId, joinedAt: Date.now() };
    // The engine's first PENDING instance is the first START the agent accepted (instance-engine.ts start()).
    running.engine.onChange((info) => {
      const now = Date.now();
      this.stages.observe(info, now);
      if (info.state === 'PENDING') times.firstStartAt ??= now;
    });
    this.executors.set(running.executorId, { running, times, alive: true });
    return { name: host.name, address: host.address, executorId: running.executorId, joinedAt: times.joinedAt };
  }

  private async ready(): Promise<void> {
    for (;;) {
      const waiting = [...this.executors.values()].filter((e) => e.alive && !e.running.agent.leaderContact().registered);
      if (waiting.length === 0) return;
      await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
    }
  }

  /**
   * A host that dies: containers stay (leaveContainers), the state machines end without a report, heartbeats stop
   * and the HTTP server closes; no message tells the controller, which notices by staleness.
   */
  private async kill(executorIds: string[]): Promise<void> {
    const unknown = executorIds.filter((id) => !this.executors.get(id)?.alive);
    if (unknown.length > 0) throw new Error(`No running hollow executor ${unknown.join(', ')} in this worker`);
    await Promise.all(
      executorIds.map(async (id) => {
        const executor = this.executors.get(id)!;
        executor.alive = false;
        await executor.running.stop({ leaveContainers: true });
      }),
    );
  }

  private usage(): WorkerUsage {
    const cpu = process.cpuUsage();
    const memory = process.memoryUsage();
    const delay = this.loopDelay.take();
    return {
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      executors: [...this.executors.values()].filter((e) => e.alive).length,
      loopDelayP99Ms: delay.p99Ms,
      loopDelayMaxMs: delay.maxMs,
    };
  }

  private async stop(): Promise<void> {
    const alive = [...this.executors.values()].filter((e) => e.alive);
    for (const e of alive) e.alive = false;
    // The fleet's end is its hosts going away, as kill() does, not a drain: an executor that stopped its
    // instances would report them STOPPED, and a controller still running would re-place them on executors whose
    // servers are closing (the ECONNREFUSED starts in bench:scale's logs at the end of every size, docs/hollow.md).
    await Promise.all(alive.map((e) => e.running.stop({ leaveContainers: true })));
    if (this.setup) rmSync(this.setup.baseDir, { recursive: true, force: true });
  }
}

function main(): void {
  const send = process.send?.bind(process);
  if (!send) throw new Error('worker.ts runs as a forked child of fleet.ts (no IPC channel)');
  const worker = new HollowWorker();
  process.on('message', (raw: WorkerRequest) => {
    worker.handle(raw).then(
      (result) => send({ id: raw.id, ok: true, result } satisfies WorkerReply),
      (error: unknown) => send({ id: raw.id, ok: false, error: error instanceof Error ? error.message : String(error) } satisfies WorkerReply),
    );
  });
  // The parent died or closed the channel: nothing will command or stop us, so go.
  process.on('disconnect', () => process.exit(0));
}

main();
