/**
 * Engine benchmark: the real controller core (engine, reconciler, working set, SQLite store in a temp dir)
 * against 1,000 in-process executors that answer at once. Prints:
 *  - ACTIVATE -> ACTIVE with 2,000 HEALTHY instances (instancesPerHost 2, parallelism 64), in ms;
 *  - heap used afterwards, in MB;
 *  - "executor joined" -> "its START sent", in ms (several joins);
 *  - all of it with metrics off, on (every hook measured, the store instrumented, scraped every 15 s) and on with
 *    /metrics rendered every 250 ms as a far too eager Prometheus would, in rounds of one run each, and the
 *    ratios of their CPU and wall times; what one render costs, and what that is at one scrape per 15 s.
 * Run: npm run build && npm run bench:engine
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { systemClock } from '../src/model/index.js';
import { parseControllerConfig } from '../src/controller/config.js';
import { createController, type Controller } from '../src/controller/controller.js';
import { SqliteStateStore } from '../src/controller/store/sqlite.js';
import { InstrumentedStore } from '../src/controller/metrics/instrumented-store.js';
import { ControllerMetrics } from '../src/controller/metrics/metrics.js';
import { FakeExecutorFleet } from '../test/support/fake-executors.js';
import { waitUntil } from '../test/support/wait.js';
import { profileMetricsShare, type MetricsShare } from './engine/metrics-share.js';

const EXECUTORS = 1_000;
const INSTANCES_PER_HOST = 2;
const PARALLELISM = 64;
const JOINS = 5;
const SERVICE_ID = 'BENCH_SERVICE-1';
/**
 * Rounds of one run per mode, after one discarded warm-up run (the first run in a process is slower: the JIT is
 * cold). A rollout takes half a second, so one run's figures swing by more than the 5% in question; the medians of
 * six rounds and of their back-to-back pairs do much less.
 */
const ROUNDS = 6;
/**
 * Metrics off; metrics on as deployed (every hook measured, the store instrumented, process metrics, scraped every
 * 15 s, a common setting: Prometheus' own default is a minute); and on with a scrape every 250 ms, 60 times that,
 * so that what rendering costs shows.
 */
type Mode = 'off' | 'on' | 'eager';
const MODES: readonly Mode[] = ['off', 'on', 'eager'];
const MODE_NAMES: Record<Mode, string> = { off: 'metrics off', on: 'metrics on', eager: 'metrics on, scraped every 250 ms' };
const ORDERS: readonly (readonly Mode[])[] = [
  ['off', 'on', 'eager'],
  ['on', 'eager', 'off'],
  ['eager', 'off', 'on'],
];
const PROMETHEUS_SCRAPE_MS = 15_000;
/** Profiled runs per mode, after the rounds. */
const PROFILED_RUNS = 2;
const EAGER_SCRAPE_MS = 250;

interface Figures {
  dir: string;
  rolloutMs: number;
  /**
   * CPU time this process spent in the rollout (user + system). On a shared machine the wall time swings with
   * other processes' load (4x between runs on the 2-core VM); the CPU the rollout itself needed much less.
   */
  rolloutCpuMs: number;
  rolloutWrites: number;
  heapMb: number;
  joinLatencies: number[];
  scrapeMs: number[];
  share?: MetricsShare;
}

async function main(): Promise<void> {
  const runs: Record<Mode, Figures[]> = { off: [], on: [], eager: [] };
  const warmUp = await run('off');
  process.stdout.write(`warm-up run (metrics off, not counted): ACTIVATE -> ACTIVE ${fmt(warmUp.rolloutMs)} ms\n`);
  let counted = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // Each round in another order, so that a machine getting busier or quieter, or the previous run's garbage,
    // weighs on every mode alike.
    for (const mode of ORDERS[round % ORDERS.length]!) {
      const figures = await run(mode);
      runs[mode].push(figures);
      process.stdout.write(`run ${++counted} (${MODE_NAMES[mode]}): ACTIVATE -> ACTIVE ${fmt(figures.rolloutMs)} ms, ${fmt(figures.rolloutCpuMs)} ms CPU\n`);
    }
  }
  const { off, on, eager } = runs;
  const profiled: Record<Mode, MetricsShare[]> = { off: [], on: [], eager: [] };
  for (let i = 0; i < PROFILED_RUNS; i++) {
    for (const mode of MODES) profiled[mode].push((await run(mode, true)).share!);
  }
  const shareOf = (shares: MetricsShare[]) => {
    const busy = sum(shares.map((s) => s.busyMs));
    const inMetrics = sum(shares.map((s) => s.metricsMs));
    return `${fmt3((inMetrics / busy) * 100)}% (${fmt(inMetrics)} of ${fmt(busy)} ms busy)`;
  };
  const hookUs = hookCostMicroseconds();
  const first = off[0]!;
  const wall = (figures: Figures[]) => median(figures.map((f) => f.rolloutMs));
  const cpu = (figures: Figures[]) => median(figures.map((f) => f.rolloutCpuMs));
  /** Each round's runs were back to back: their ratio is the least disturbed by the machine's load drifting. */
  const pairs = (figures: Figures[], by: (f: Figures) => number) => figures.map((f, round) => by(f) / by(off[round]!));
  const scrapes = eager.flatMap((f) => f.scrapeMs);
  const renderPerRollout = median(eager.map((f) => sum(f.scrapeMs)));
  const joins = (figures: Figures[]) => figures.flatMap((f) => f.joinLatencies);
  const cpuPairs = pairs(on, (f) => f.rolloutCpuMs);
  const wallPairs = pairs(on, (f) => f.rolloutMs);
  process.stdout.write(
    [
      `executors: ${EXECUTORS}, instancesPerHost: ${INSTANCES_PER_HOST}, parallelism: ${PARALLELISM}, store: SQLite (${first.dir}), ${ROUNDS} rounds`,
      ...MODES.map((mode) => `ACTIVATE -> ACTIVE with ${EXECUTORS * INSTANCES_PER_HOST} HEALTHY instances, ${MODE_NAMES[mode]}: median ${fmt(wall(runs[mode]))} ms of ${runs[mode].map((f) => fmt(f.rolloutMs)).join(', ')}${mode === 'off' ? ' (goal < 2000 ms)' : ''}`),
      `CPU time of the rollout: metrics off median ${fmt(cpu(off))} ms, on ${fmt(cpu(on))} ms, on and scraped every ${EAGER_SCRAPE_MS} ms ${fmt(cpu(eager))} ms`,
      `metrics on / off: CPU time ${fmt3(median(cpuPairs))} the median of the rounds' pairs (${cpuPairs.map(fmt3).join(', ')}), ${fmt3(cpu(on) / cpu(off))} of the medians (target <= 1.05); wall time ${fmt3(median(wallPairs))} of the pairs (${wallPairs.map(fmt3).join(', ')}), ${fmt3(wall(on) / wall(off))} of the medians`,
      `metrics on and scraped every ${EAGER_SCRAPE_MS} ms / off: CPU time ${fmt3(median(pairs(eager, (f) => f.rolloutCpuMs)))} of the pairs, wall time ${fmt3(median(pairs(eager, (f) => f.rolloutMs)))}; rendering took ${fmt(renderPerRollout)} ms of each such rollout (median)`,
      `share of the rollout's CPU in metrics code (prom-client, src/controller/metrics), from V8's profiler over ${PROFILED_RUNS} more runs each: metrics on ${shareOf(profiled.on)}, scraped every ${EAGER_SCRAPE_MS} ms ${shareOf(profiled.eager)}, off ${shareOf(profiled.off)} (target <= 5%)`,
      `one measured job or operation (start, observe): ${hookUs.toFixed(2)} µs; the rollout's ${EXECUTORS * INSTANCES_PER_HOST} start jobs and its operations: ${fmt((hookUs * (EXECUTORS * INSTANCES_PER_HOST + 3)) / 1000)} ms`,
      `/metrics rendered ${scrapes.length} times: median ${fmt(median(scrapes))} ms, max ${fmt(Math.max(...scrapes))} ms; at one scrape per ${PROMETHEUS_SCRAPE_MS / 1000} s that is ${fmt3((median(scrapes) / PROMETHEUS_SCRAPE_MS) * 100)}% of one core`,
      `instance store transactions during the rollout: ${first.rolloutWrites} (for ${EXECUTORS * INSTANCES_PER_HOST * 6} state reports)`,
      `heap used after rollout (after a full GC): ${MODES.map((mode) => `${mode} ${fmt(median(runs[mode].map((f) => f.heapMb)))} MB`).join(', ')} (goal < 300 MB)`,
      `executor joined -> its START sent, max: ${MODES.map((mode) => `${mode} ${fmt(Math.max(...joins(runs[mode])))} ms`).join(', ')} (target < 100 ms)`,
    ].join('\n') + '\n',
  );
}

/** `profiled`: the rollout runs under V8's sampling profiler, which costs time itself, so such runs' times are not counted. */
async function run(mode: Mode, profiled = false): Promise<Figures> {
  const withMetrics = mode !== 'off';
  const dir = mkdtempSync(join(tmpdir(), 'drove-bench-engine-'));
  const sqlite = new SqliteStateStore(join(dir, 'drove.db'));
  let instanceWrites = 0;
  const putInstances = sqlite.putInstances.bind(sqlite);
  sqlite.putInstances = (records) => {
    instanceWrites++;
    return putInstances(records);
  };
  const metrics = withMetrics ? new ControllerMetrics({ processMetrics: true }) : undefined;
  const store = metrics ? new InstrumentedStore(sqlite, 'sqlite', metrics) : sqlite;
  let controller: Controller | undefined;
  const fleet = new FakeExecutorFleet(() => controller!, systemClock);
  controller = await createController({
    config: parseControllerConfig({ logLevel: 'silent', options: { clusterOpParallelism: PARALLELISM } }),
    store,
    messenger: fleet,
    logger: pino({ level: 'silent' }),
    hostname: 'bench.local',
    port: 4000,
    ...(metrics ? { metrics } : {}),
  });
  const scrapeMs: number[] = [];
  let scraper: NodeJS.Timeout | undefined;
  try {
    await controller.start();
    for (let i = 0; i < EXECUTORS; i++) await fleet.add(`executor-${i}.bench`, { cores: 8, memoryMb: 32_768 });
    const created = await controller.submitOperation({ type: 'CREATE', spec: benchSpec(), instancesPerHost: INSTANCES_PER_HOST });
    if (!created.ok) throw new Error(created.errors.join('; '));
    await waitUntil('the service INACTIVE', () => controller!.serviceSummary(SERVICE_ID)?.state === 'INACTIVE', { timeoutMs: 60_000, intervalMs: 5 });

    const healthy = () => controller!.serviceSummary(SERVICE_ID)?.healthyInstances ?? 0;
    if (metrics) {
      scraper = setInterval(() => {
        const started = performance.now();
        void metrics.render(controller!.metricsSnapshot()).then(() => scrapeMs.push(performance.now() - started));
      }, mode === 'eager' ? EAGER_SCRAPE_MS : PROMETHEUS_SCRAPE_MS);
    }
    const writesBefore = instanceWrites;
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const rollout = async () => {
      const activated = await controller!.submitOperation({ type: 'ACTIVATE', serviceId: SERVICE_ID });
      if (!activated.ok) throw new Error(activated.errors.join('; '));
      await waitUntil('ACTIVE with every instance HEALTHY', () => controller!.serviceSummary(SERVICE_ID)?.state === 'ACTIVE' && healthy() === EXECUTORS * INSTANCES_PER_HOST, { timeoutMs: 120_000, intervalMs: 1 });
    };
    let share: MetricsShare | undefined;
    if (profiled) share = (await profileMetricsShare(rollout)).share;
    else await rollout();
    const rolloutMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const rolloutCpuMs = (cpu.user + cpu.system) / 1000;
    const rolloutWrites = instanceWrites - writesBefore;
    collectGarbage();
    const heapMb = process.memoryUsage().heapUsed / (1024 * 1024);

    const joinLatencies: number[] = [];
    for (let j = 0; j < JOINS; j++) {
      const hostname = `joiner-${j}.bench`;
      let sentAt = 0;
      let joinedAt = 0;
      const off = fleet.onMessage((m) => {
        if (!sentAt && m.type === 'START_LOCAL_SERVICE_INSTANCE' && m.address.hostname === hostname) sentAt = performance.now();
      });
      joinedAt = performance.now();
      await fleet.add(hostname, { cores: 8, memoryMb: 32_768 });
      await waitUntil('the START sent to the joining executor', () => sentAt > 0, { timeoutMs: 10_000, intervalMs: 0 });
      off();
      joinLatencies.push(sentAt - joinedAt);
      await waitUntil("the joining executor's instances HEALTHY", () => controller!.serviceSummary(SERVICE_ID)?.state === 'ACTIVE' && healthy() === (EXECUTORS + j + 1) * INSTANCES_PER_HOST, { timeoutMs: 10_000, intervalMs: 1 });
    }

    return { dir, rolloutMs, rolloutCpuMs, rolloutWrites, heapMb, joinLatencies, scrapeMs, ...(share ? { share } : {}) };
  } finally {
    if (scraper) clearInterval(scraper);
    fleet.stopHeartbeats();
    await controller.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * What a hook costs on its own, in a loop: the rollouts' wall and CPU times swing by more than 5% between runs on a
 * shared machine, this does not.
 */
function hookCostMicroseconds(): number {
  const metrics = new ControllerMetrics();
  const calls = 200_000;
  for (let i = 0; i < calls / 10; i++) metrics.jobStarted('start')('success');
  const started = performance.now();
  for (let i = 0; i < calls; i++) metrics.jobStarted('start')('success');
  return ((performance.now() - started) / calls) * 1000;
}

const fmt = (n: number) => n.toFixed(1);
const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
const fmt3 = (n: number) => n.toFixed(3);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** A full GC before reading the heap, so the figure is what the rollout keeps, not garbage not yet collected. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

function benchSpec() {
  const check = {
    mode: { type: 'HTTP' as const, protocol: 'HTTP' as const, portName: 'main', path: '/', verb: 'GET' as const, successCodes: [200] },
    timeout: '1 second',
    interval: '3 seconds',
    attempts: 3,
    initialDelay: '0 seconds',
  };
  return {
    name: 'BENCH_SERVICE',
    version: '1',
    executable: { type: 'DOCKER' as const, url: 'drove-ts/httpd:1', dockerPullTimeout: '100 seconds' },
    exposedPorts: [{ name: 'main', port: 8000, type: 'HTTP' as const }],
    type: 'LOCAL_SERVICE' as const,
    resources: [
      { type: 'CPU' as const, count: 1 },
      { type: 'MEMORY' as const, sizeInMB: 128 },
    ],
    placementPolicy: { type: 'LOCAL' as const, hostLevel: false },
    healthcheck: check,
    readiness: check,
  };
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:engine failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
