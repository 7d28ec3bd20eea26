/**
 * Engine benchmark: the real controller core (engine, reconciler, working set, SQLite store in a temp dir)
 * against 1,000 in-process executors that answer at once. Prints:
 *  - ACTIVATE -> ACTIVE with 2,000 HEALTHY instances (instancesPerHost 2, parallelism 64), in ms;
 *  - heap used afterwards, in MB;
 *  - "executor joined" -> "its START sent", in ms (several joins);
 *  - all of it with metrics off and on (every hook measured, the store instrumented, /metrics rendered every
 *    250 ms as a far too eager Prometheus would), runs alternating, and the ratio of the median rollouts.
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

const EXECUTORS = 1_000;
const INSTANCES_PER_HOST = 2;
const PARALLELISM = 64;
const JOINS = 5;
const SERVICE_ID = 'BENCH_SERVICE-1';
/**
 * Runs of each kind, after one discarded warm-up run (the first run in a process is slower: the JIT is cold);
 * alternating off/on so that a machine getting busier or quieter affects both alike.
 */
const ROUNDS = 4;
/** A scrape every 250 ms: 60 times Prometheus' default rate, so the cost of rendering cannot hide. */
const SCRAPE_INTERVAL_MS = 250;

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
}

async function main(): Promise<void> {
  const off: Figures[] = [];
  const on: Figures[] = [];
  const warmUp = await run(false);
  process.stdout.write(`warm-up run (metrics off, not counted): ACTIVATE -> ACTIVE ${fmt(warmUp.rolloutMs)} ms\n`);
  for (let round = 0; round < ROUNDS; round++) {
    for (const withMetrics of round % 2 === 0 ? [false, true] : [true, false]) {
      const figures = await run(withMetrics);
      (withMetrics ? on : off).push(figures);
      process.stdout.write(`run ${off.length + on.length} (metrics ${withMetrics ? 'on' : 'off'}): ACTIVATE -> ACTIVE ${fmt(figures.rolloutMs)} ms, ${fmt(figures.rolloutCpuMs)} ms CPU\n`);
    }
  }
  const hookUs = hookCostMicroseconds();
  const first = off[0]!;
  const medianOff = median(off.map((f) => f.rolloutMs));
  const medianOn = median(on.map((f) => f.rolloutMs));
  const scrapes = on.flatMap((f) => f.scrapeMs);
  const joins = (figures: Figures[]) => figures.flatMap((f) => f.joinLatencies);
  const pairRatios = on.map((f, round) => f.rolloutMs / off[round]!.rolloutMs);
  const cpuOff = median(off.map((f) => f.rolloutCpuMs));
  const cpuOn = median(on.map((f) => f.rolloutCpuMs));
  process.stdout.write(
    [
      `executors: ${EXECUTORS}, instancesPerHost: ${INSTANCES_PER_HOST}, parallelism: ${PARALLELISM}, store: SQLite (${first.dir})`,
      `ACTIVATE -> ACTIVE with ${EXECUTORS * INSTANCES_PER_HOST} HEALTHY instances, metrics off: median ${fmt(medianOff)} ms of ${off.map((f) => fmt(f.rolloutMs)).join(', ')} (goal < 2000 ms)`,
      `ACTIVATE -> ACTIVE with ${EXECUTORS * INSTANCES_PER_HOST} HEALTHY instances, metrics on:  median ${fmt(medianOn)} ms of ${on.map((f) => fmt(f.rolloutMs)).join(', ')}`,
      `CPU time of the rollout: metrics off median ${fmt(cpuOff)} ms, on ${fmt(cpuOn)} ms`,
      `metrics on / off: wall time ${fmt3(medianOn / medianOff)} of the medians, ${fmt3(median(pairRatios))} the median of the rounds' back-to-back pairs (${pairRatios.map(fmt3).join(', ')}); CPU time ${fmt3(cpuOn / cpuOff)} (target <= 1.05)`,
      `one measured job or operation (start, observe): ${hookUs.toFixed(2)} µs; the rollout's ${EXECUTORS * INSTANCES_PER_HOST} start jobs and its operations: ${fmt((hookUs * (EXECUTORS * INSTANCES_PER_HOST + 3)) / 1000)} ms`,
      `/metrics rendered ${scrapes.length} times during the rollouts and joins: median ${fmt(median(scrapes))} ms, max ${fmt(Math.max(...scrapes))} ms`,
      `instance store transactions during the rollout: ${first.rolloutWrites} (for ${EXECUTORS * INSTANCES_PER_HOST * 6} state reports)`,
      `heap used after rollout (after a full GC): off ${fmt(median(off.map((f) => f.heapMb)))} MB, on ${fmt(median(on.map((f) => f.heapMb)))} MB (goal < 300 MB)`,
      `executor joined -> its START sent, metrics off: max ${fmt(Math.max(...joins(off)))} ms, on: max ${fmt(Math.max(...joins(on)))} ms (target < 100 ms)`,
    ].join('\n') + '\n',
  );
}

async function run(withMetrics: boolean): Promise<Figures> {
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
      }, SCRAPE_INTERVAL_MS);
    }
    const writesBefore = instanceWrites;
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const activated = await controller.submitOperation({ type: 'ACTIVATE', serviceId: SERVICE_ID });
    if (!activated.ok) throw new Error(activated.errors.join('; '));
    await waitUntil('ACTIVE with every instance HEALTHY', () => controller!.serviceSummary(SERVICE_ID)?.state === 'ACTIVE' && healthy() === EXECUTORS * INSTANCES_PER_HOST, { timeoutMs: 120_000, intervalMs: 1 });
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

    return { dir, rolloutMs, rolloutCpuMs, rolloutWrites, heapMb, joinLatencies, scrapeMs };
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
