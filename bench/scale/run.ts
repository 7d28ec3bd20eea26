import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import type { LocalServiceSpec } from '../../src/model/index.js';
import { durationMs } from '../../src/model/index.js';
import { DroveApi, healthy } from '../../test/support/drove-api.js';
import { startHollowFleet, type HollowFleet } from '../../test/support/hollow/fleet.js';
import { LoopDelayMeter } from '../../test/support/loop-delay.js';
import { repoRoot } from '../../test/support/images.js';
import { httpCheck, httpdServiceSpec } from '../../test/support/specs.js';
import { startScaleController, type ScaleController, type StoreKind } from './controller.js';
import { startApiLoad, type RouteLatency } from './load.js';
import { topSelfTime, type SelfTime } from './profile.js';
import { fmt, percentile } from './stats.js';

/**
 * One bench:scale run (docs/scale.md): for each store and fleet size, a controller in its own process and a hollow
 * fleet (docs/hollow.md), then the phases ACTIVATE, RESTART, join, idle heartbeats and 10% executor loss, each
 * measured over the real HTTP API. A phase that does not finish within the phase limit is reported as such and the
 * phases that depend on it are skipped; the run goes on with the next size.
 */

export interface ScaleOptions {
  sizes: number[];
  stores: StoreKind[];
  instancesPerHost: number;
  /** Parallelism of ACTIVATE (the controller's clusterOpParallelism: ACTIVATE takes no op spec) and of RESTART. */
  parallelism: number;
  heartbeatInterval: string;
  staleExecutorAge: string;
  /** etcd leader lease TTL. */
  leaseTtlSeconds: number;
  etcdEndpoints: string[];
  /** API reads per second during ACTIVATE. */
  apiRate: number;
  phaseLimitMs: number;
  /** Runs whose controller is profiled, as `store:size`; '*' is every run. */
  cpuProfile: string[];
  /** Hollow worker processes (undefined: the fleet's default). */
  workers?: number;
  startLatencyMs: number;
  startJitterMs: number;
  /** pino level of each controller's log file (warn: what goes wrong at scale; info adds every START and ADJUST). */
  controllerLogLevel: string;
  /** pino level of the hollow executors' shared logger, written to the bench's output. */
  fleetLogLevel: string;
  /** Progress and per-run lines as they come (the tables are printed by the caller from the results). */
  log: (line: string) => void;
}

export const DEFAULT_SCALE_OPTIONS: Omit<ScaleOptions, 'log'> = {
  sizes: [500, 1000, 2000, 5000],
  stores: ['sqlite', 'etcd'],
  instancesPerHost: 4,
  parallelism: 256,
  // Half of Drove's 20 s, so each idle window sees every executor and the run is shorter; the age keeps Drove's
  // ratio of a bit more than two missed heartbeats plus margin for a loaded machine.
  heartbeatInterval: '10 seconds',
  staleExecutorAge: '30 seconds',
  // The product default (3 s) is for failover speed; a starved leader losing its lease mid-rollout would measure
  // leadership churn, not the store (docs/scale.md says so next to the figures).
  leaseTtlSeconds: 30,
  etcdEndpoints: (process.env.DROVE_TEST_ETCD_ENDPOINTS ?? 'http://127.0.0.1:2379').split(','),
  apiRate: 50,
  phaseLimitMs: 600_000,
  cpuProfile: [],
  startLatencyMs: 50,
  startJitterMs: 50,
  controllerLogLevel: 'warn',
  fleetLogLevel: 'error',
};

export interface SizeResult {
  store: StoreKind;
  executors: number;
  instances: number;
  registerS?: number;
  activateS?: number;
  placementsPerS?: number;
  restartS?: number;
  /** RESTART accepted -> the old instances gone from the instance list (stopped), seconds. */
  restartSettledS?: number;
  joined?: number;
  joinP50Ms?: number;
  joinP99Ms?: number;
  /** Seconds from (kill + staleExecutorAge) until every killed executor's instances left the healthy count. */
  lostDetectS?: number;
  killed?: number;
  /** Executors the controller removed that were alive. */
  falseLost?: number;
  api: RouteLatency[];
  rssMb?: number;
  heapMb?: number;
  /** Open file descriptors of the controller at the end of ACTIVATE, and its limit. */
  fds?: number;
  fdLimit?: number;
  cpuMsPerHeartbeat?: number;
  heartbeats?: number;
  fleetRssMb?: number;
  /**
   * CPU seconds over ACTIVATE (to its end or its limit): the controller's and the hollow fleet's, beside the
   * phase's wall seconds. Both share the machine's cores, so together they say which of the two was short of CPU.
   */
  activateCpu?: { controllerS: number; fleetS: number; wallS: number };
  /** Where an instance's time from placement to HEALTHY went during ACTIVATE (docs/scale.md#start-steps). */
  activateSteps?: ActivateSteps;
  loadAvg: [number, number];
  /** Phases that did not complete or were skipped, and anything else worth a line. */
  notes: string[];
  /** CPU profiles of the controller over ACTIVATE and over the idle window, of the fleet over ACTIVATE (`--cpu-prof`). */
  profiles: PhaseProfile[];
}

export interface PhaseProfile {
  /** Whose CPU: the controller's process, or the hollow fleet's worker processes summed. */
  process: 'controller' | 'fleet';
  phase: 'activate' | 'idle';
  /** The .cpuprofile files: the controller's one, or one per fleet worker. */
  paths: string[];
  top: SelfTime[];
  /**
   * The work done while profiled, to say what one piece of it costs function by function: the executor messages
   * the controller served, the instances the fleet started.
   */
  per?: { count: number; unit: 'executor messages' | 'instances started' };
}

/** p50 and p99 of a list of ms (undefined for none). */
type Spread = { p50: number | undefined; p99: number | undefined };

/** ACTIVATE's instance starts, step by step (ms; p50/p99 over the instances, means over the window). */
export interface ActivateSteps {
  instances: number;
  /** In the executors: START taken (PENDING) -> STARTING, STARTING -> UNREADY, UNREADY -> HEALTHY. */
  pendingToStarting: Spread;
  startingToUnready: Spread;
  unreadyToHealthy: Spread;
  /** Mean of PENDING -> HEALTHY in the executors. */
  executorMeanMs: number | undefined;
  /** Mean start job in the controller: placement to the HEALTHY report applied. */
  startJobMeanMs: number | undefined;
  /** Start jobs that took over 1 s and over 5 s: the tail that holds the operation's end. */
  startJobsOver1s: number | undefined;
  startJobsOver5s: number | undefined;
  /** Start jobs that succeeded, and ADJUST_INSTANCES operations with their total seconds. */
  startJobs: number;
  adjusts: number;
  adjustS: number;
  /** Mean time the controller took to answer one executor message (heartbeat or report). */
  messageMeanMs: number | undefined;
  /**
   * Store writes over the phase, their mean and how many took over 100 ms and over 1 s: a SQLite write (and its
   * fsync) holds the controller's event loop, so a slow one stalls every heartbeat, report and API read with it.
   */
  storeWrites: number;
  storeWriteMeanMs: number | undefined;
  storeWritesOver100ms: number | undefined;
  storeWritesOver1s: number | undefined;
  /** Wall time per instance per slot of parallelism: parallelism x activate s / instances. */
  slotCycleMs: number | undefined;
  /** Event-loop delay over ACTIVATE: the controller's, and the worst of the fleet's workers. */
  controllerLoopP99Ms: number;
  controllerLoopMaxMs: number;
  fleetLoopP99Ms: number;
  fleetLoopMaxMs: number;
  /**
   * The bench process's own (the API load's client and the pollers): an API latency is measured there, so a late
   * loop in the bench shows as a slow API read that the controller did not cause.
   */
  benchLoopP99Ms: number;
  benchLoopMaxMs: number;
}

const POLL_MS = 200;
/** The full instance list of a big service is itself a heavy read: fetched at most this often while waiting. */
const LIST_POLL_MS = 2_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A phase that cannot complete: reported by its message, not retried. */
class PhaseFailure extends Error {}
class PhaseTimeout extends PhaseFailure {}

/**
 * Polls `check` until it returns a value (not undefined) or the limit passes; errors of a busy controller are
 * retried. Throws PhaseTimeout naming the phase and what `status` says about the last state seen.
 */
async function pollUntil<T>(phase: string, limitMs: number, check: () => Promise<T | undefined>, status: () => string, intervalMs = POLL_MS): Promise<T> {
  const deadline = Date.now() + limitMs;
  let lastError = '';
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      if (error instanceof PhaseFailure) throw error;
      lastError = error instanceof Error ? error.message.slice(0, 200) : String(error);
    }
    if (Date.now() >= deadline) {
      throw new PhaseTimeout(`${phase} did not complete in ${(limitMs / 1000).toFixed(0)} s (${status()}${lastError ? `; last error: ${lastError}` : ''})`);
    }
    await sleep(intervalMs);
  }
}

/** A promise bounded by the phase limit. */
async function bounded<T>(phase: string, limitMs: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new PhaseTimeout(`${phase} did not complete in ${(limitMs / 1000).toFixed(0)} s`)), limitMs);
  });
  try {
    return await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Submits an operation, waiting while the service is busy with another one: the reconciler may have started an
 * ADJUST_INSTANCES (after instances went LOST, say) just before, and the engine takes one operation at a time.
 * Returns the ms spent waiting for the slot.
 */
async function submit(client: DroveApi, phase: string, limitMs: number, body: Record<string, unknown>): Promise<number> {
  const began = Date.now();
  let last = '';
  await pollUntil(phase, limitMs, async () => {
    const reply = await client.operation(body);
    if (reply.statusCode === 200 && reply.body.status === 'SUCCESS') return true;
    last = JSON.stringify(reply.body).slice(0, 300);
    if (reply.statusCode === 400 && last.includes('No operations allowed')) return undefined;
    throw new PhaseFailure(`${String(body.type)} rejected: HTTP ${reply.statusCode} ${last}`);
  }, () => `${String(body.type)} not accepted: ${last}`, 500);
  return Date.now() - began;
}

/** Executors the controller has removed as lost: outside the loss phase, each one is a live executor lost falsely. */
async function removedExecutors(client: DroveApi): Promise<number> {
  return (await client.executors()).filter((e) => e.state === 'REMOVED').length;
}

function scaleSpec(name: string): LocalServiceSpec {
  return httpdServiceSpec(name, {
    // The simulated checker answers at once; the intervals set how soon an instance is seen ready, and how much
    // probing 20,000 instances cost the fleet (not the controller, which is what is measured).
    readiness: httpCheck('/health', '200 milliseconds', 50),
    healthcheck: httpCheck('/health', '5 seconds', 3),
  });
}

/** Sum and count of the series of a Prometheus histogram whose labels contain every one of `labels`. */
interface SumCount {
  sum: number;
  count: number;
  /** Observations at most `le` seconds, per bucket bound (cumulative, as Prometheus gives them). */
  buckets: Map<number, number>;
}

/** One read of the controller's own /metrics: the histograms bench:scale takes differences of. */
interface ControllerMetrics {
  /** `POST /apis/v1/messages`: heartbeats and state reports of every executor, seconds. */
  messages: SumCount;
  /** Start jobs that succeeded: placement to HEALTHY applied, retries included, seconds. */
  startJobs: SumCount;
  /** ADJUST_INSTANCES operations (the reconciler's, which ACTIVATE's starts run in), slot to end, seconds. */
  adjusts: SumCount;
  /** Store writes that succeeded (every operation), seconds: SQLite's run on the controller's loop. */
  storeWrites: SumCount;
}

function histogram(text: string, name: string, labels: string[]): SumCount {
  const total: SumCount = { sum: 0, count: 0, buckets: new Map() };
  for (const line of text.split('\n')) {
    if (!labels.every((l) => line.includes(l))) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith(`${name}_sum{`)) total.sum += value;
    else if (line.startsWith(`${name}_count{`)) total.count += value;
    else if (line.startsWith(`${name}_bucket{`)) {
      const le = Number(/le="([^"]+)"/.exec(line)?.[1]);
      total.buckets.set(le, (total.buckets.get(le) ?? 0) + value);
    }
  }
  return total;
}

async function controllerMetrics(baseUrl: string): Promise<ControllerMetrics> {
  const res = await request(`${baseUrl}/metrics`);
  const text = await res.body.text();
  return {
    messages: histogram(text, 'drove_http_request_duration_seconds', ['route="/apis/v1/messages"', 'method="POST"']),
    startJobs: histogram(text, 'drove_job_duration_seconds', ['job="start"', 'outcome="success"']),
    adjusts: histogram(text, 'drove_operation_duration_seconds', ['type="ADJUST_INSTANCES"']),
    storeWrites: histogram(text, 'drove_store_write_duration_seconds', ['outcome="success"']),
  };
}

/** The mean of a histogram over the window between two reads, ms; undefined when nothing was counted. */
function windowMeanMs(before: SumCount, after: SumCount): number | undefined {
  const count = after.count - before.count;
  return count > 0 ? ((after.sum - before.sum) * 1000) / count : undefined;
}

/** Observations above `le` seconds in the window between two reads; undefined when `le` is not a bucket bound. */
function windowAbove(before: SumCount, after: SumCount, le: number): number | undefined {
  const upTo = after.buckets.get(le);
  if (upTo === undefined) return undefined;
  return after.count - before.count - (upTo - (before.buckets.get(le) ?? 0));
}

/** p50/p99 of a list of ms, as printed. */
function spread(values: readonly number[]): Spread {
  return { p50: percentile(values, 50), p99: percentile(values, 99) };
}

/** One line of where ACTIVATE's start time went, for the run's log and the report. */
export function stepsLine(s: ActivateSteps): string {
  const f = (v: number | undefined) => fmt(v, 0);
  const pair = (p: Spread) => `${f(p.p50)}/${f(p.p99)}`;
  const controllerSide = s.startJobMeanMs !== undefined && s.executorMeanMs !== undefined ? s.startJobMeanMs - s.executorMeanMs : undefined;
  return (
    `start steps over ${s.instances} instances (ms, p50/p99): executor PENDING->STARTING ${pair(s.pendingToStarting)}, ` +
    `STARTING->UNREADY ${pair(s.startingToUnready)}, UNREADY->HEALTHY ${pair(s.unreadyToHealthy)}; means: executor ${f(s.executorMeanMs)}, ` +
    `controller start job ${f(s.startJobMeanMs)} (so ${f(controllerSide)} outside the executor: START sent, report applied; ` +
    `${s.startJobs} jobs, ${f(s.startJobsOver1s)} over 1 s, ${f(s.startJobsOver5s)} over 5 s; ${s.adjusts} ADJUST_INSTANCES, ${s.adjustS.toFixed(1)} s), ` +
    `slot cycle ${f(s.slotCycleMs)}, message answered ${s.messageMeanMs?.toFixed(1) ?? '-'}; ` +
    `store writes ${s.storeWrites}, mean ${s.storeWriteMeanMs?.toFixed(1) ?? '-'}, ${f(s.storeWritesOver100ms)} over 100 ms, ${f(s.storeWritesOver1s)} over 1 s; ` +
    `event-loop delay p99/max: controller ${f(s.controllerLoopP99Ms)}/${f(s.controllerLoopMaxMs)}, fleet worst ${f(s.fleetLoopP99Ms)}/${f(s.fleetLoopMaxMs)}, ` +
    `bench ${f(s.benchLoopP99Ms)}/${f(s.benchLoopMaxMs)}`
  );
}

function wantsProfile(options: ScaleOptions, store: StoreKind, size: number): boolean {
  return options.cpuProfile.some((entry) => entry === '*' || entry === `${store}:${size}`);
}

/** Every tenth executor of the list: spread over the worker processes, as dead hosts would be. */
function victimsOf(ids: string[]): string[] {
  return ids.filter((_id, i) => i % 10 === 9);
}

export async function runScale(options: ScaleOptions): Promise<SizeResult[]> {
  const results: SizeResult[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'drove-scale-'));
  options.log(`run files (controller logs, profiles): ${dir}`);
  for (const store of options.stores) {
    for (const size of options.sizes) {
      const result = await runSize(options, store, size, dir);
      results.push(result);
      options.log(summaryLine(result));
    }
  }
  // The SQLite files are large and of no use after the run; logs and profiles stay for reading.
  for (const store of options.stores) for (const size of options.sizes) rmSync(join(dir, `${store}-${size}.db`), { force: true });
  return results;
}

export function summaryLine(r: SizeResult): string {
  const f = (v: number | undefined, d = 1) => (v === undefined ? '-' : v.toFixed(d));
  const worstP99 = Math.max(...r.api.map((a) => a.p99Ms ?? 0));
  return (
    `${r.store} ${r.executors}: register ${f(r.registerS)} s, activate ${f(r.activateS)} s (${f(r.placementsPerS, 0)}/s), restart ${f(r.restartS)} s, ` +
    `join->START p50/p99 ${f(r.joinP50Ms, 0)}/${f(r.joinP99Ms, 0)} ms, lost +${f(r.lostDetectS)} s, API worst p99 ${r.api.length ? worstP99.toFixed(0) : '-'} ms, ` +
    `RSS ${f(r.rssMb, 0)} MB, heap ${f(r.heapMb, 0)} MB, ${f(r.cpuMsPerHeartbeat, 3)} ms CPU/heartbeat` +
    (r.notes.length ? `; ${r.notes.join('; ')}` : '')
  );
}

async function runSize(options: ScaleOptions, store: StoreKind, size: number, dir: string): Promise<SizeResult> {
  const label = `${store}-${size}`;
  const instances = size * options.instancesPerHost;
  const result: SizeResult = { store, executors: size, instances, api: [], notes: [], loadAvg: [loadavg()[0]!, 0], profiles: [] };
  const profiling = wantsProfile(options, store, size);
  const limit = options.phaseLimitMs;
  const staleMs = durationMs(options.staleExecutorAge);
  const heartbeatMs = durationMs(options.heartbeatInterval);
  const joinCount = Math.max(20, Math.round(size / 100));
  // The time of day, to find a line's moment in the controller's log (its `time`).
  const log = (line: string) => options.log(`  [${label}] ${new Date().toISOString().slice(11, 23)} ${line}`);

  let controller: ScaleController | undefined;
  let fleet: HollowFleet | undefined;
  let api: DroveApi | undefined;
  try {
    controller = await startScaleController({
      store,
      dir,
      label,
      etcdEndpoints: options.etcdEndpoints,
      options: { clusterOpParallelism: options.parallelism, staleExecutorAge: options.staleExecutorAge, leaseTtlSeconds: options.leaseTtlSeconds },
      logLevel: options.controllerLogLevel,
    });
    const client = new DroveApi(controller.url, controller.credentials);
    api = client;
    await pollUntil('leadership', limit, async () => ((await client.call('GET', '/apis/v1/ping')).statusCode === 200 ? true : undefined), () => 'not the leader yet');

    // Register: the whole fleet joins; the join sample comes later through grow().
    const registerStarted = Date.now();
    const started = startHollowFleet({
      controllerUrls: [controller.url],
      executors: size + joinCount,
      initialExecutors: size,
      ...(options.workers !== undefined ? { workers: options.workers } : {}),
      hostnamePrefix: `scale-${label}`,
      logLevel: options.fleetLogLevel,
      startLatencyMs: options.startLatencyMs,
      startJitterMs: options.startJitterMs,
      // Real hosts' heartbeat phases are spread; started in one burst, 5,000 executors would heartbeat in bursts.
      startSpreadMs: heartbeatMs,
      executorConfig: {
        clusterAuth: { secrets: controller.secrets },
        options: { heartbeatInterval: options.heartbeatInterval, readinessPollInterval: '200 milliseconds' },
      },
    });
    fleet = await bounded('register', limit, started);
    const hollow = fleet;
    await bounded('register', limit, hollow.ready());
    await pollUntil('register', limit, async () => ((await client.executors()).length >= size ? true : undefined), () => 'executors missing from the list');
    result.registerS = (Date.now() - registerStarted) / 1000;
    log(`registered ${size} executors in ${result.registerS.toFixed(1)} s`);

    // Retried on a dropped connection (a busy controller closes idle keep-alive sockets), unless the CREATE landed.
    const spec = scaleSpec(`SCALE_${size}`);
    const serviceId = `${spec.name}-${spec.version}`;
    await pollUntil('create', limit, async () => {
      if (await client.service(serviceId)) return true;
      await submit(client, 'create', limit, { type: 'CREATE', spec, instancesPerHost: options.instancesPerHost });
      return true;
    }, () => 'not created');
    await pollUntil('create', limit, async () => ((await client.service(serviceId))?.state === 'INACTIVE' ? true : undefined), () => 'not INACTIVE');

    // ACTIVATE -> ACTIVE with every instance HEALTHY, under the API read load.
    const load = startApiLoad(controller.url, controller.credentials, [
      { name: 'services', path: '/apis/v1/localservices' },
      { name: 'instances', path: `/apis/v1/localservices/${serviceId}/instances` },
      { name: 'cluster', path: '/apis/v1/cluster' },
    ], options.apiRate);
    let seen = 'no summary yet';
    const benchLoop = new LoopDelayMeter();
    const cpuBefore = await Promise.all([controller.usage(), hollow.usage()]);
    const metricsBefore = await controllerMetrics(controller.url);
    if (profiling) await Promise.all([controller.profileStart(), hollow.profileStart()]);
    const activateStarted = Date.now();
    try {
      await submit(client, 'activate', limit, { type: 'ACTIVATE', serviceId });
      let allHealthyAt: number | undefined;
      await pollUntil('activate', limit, async () => {
        const summary = await client.service(serviceId);
        seen = `state ${summary?.state}, ${summary?.healthyInstances}/${instances} healthy`;
        if (summary?.healthyInstances === instances) allHealthyAt ??= Date.now();
        return summary?.state === 'ACTIVE' && summary.healthyInstances === instances ? true : undefined;
      }, () => seen);
      if (allHealthyAt !== undefined) log(`all ${instances} HEALTHY at ${((allHealthyAt - activateStarted) / 1000).toFixed(1)} s, ACTIVE at ${((Date.now() - activateStarted) / 1000).toFixed(1)} s (${seen})`);
      result.activateS = (Date.now() - activateStarted) / 1000;
      result.placementsPerS = instances / result.activateS;
    } finally {
      const wallS = (Date.now() - activateStarted) / 1000;
      if (profiling) {
        await keepProfile(result, controller, 'activate', metricsBefore.messages.count);
        await keepFleetProfile(result, hollow, dir, label);
      }
      const [controllerAfter, fleetAfter] = await Promise.all([controller.usage(), hollow.usage()]);
      const fleetCpu = (list: readonly { cpuSeconds: number }[]) => list.reduce((sum, u) => sum + u.cpuSeconds, 0);
      result.activateCpu = {
        controllerS: controllerAfter.cpuSeconds - cpuBefore[0].cpuSeconds,
        fleetS: fleetCpu(fleetAfter) - fleetCpu(cpuBefore[1]),
        wallS,
      };
      const [metricsAfter, stages] = await Promise.all([controllerMetrics(controller.url), hollow.stages(activateStarted)]);
      const benchDelay = benchLoop.take();
      benchLoop.close();
      const executorTotals = stages.pendingToStarting.map((a, i) => a + stages.startingToUnready[i]! + stages.unreadyToHealthy[i]!);
      result.activateSteps = {
        instances: executorTotals.length,
        pendingToStarting: spread(stages.pendingToStarting),
        startingToUnready: spread(stages.startingToUnready),
        unreadyToHealthy: spread(stages.unreadyToHealthy),
        executorMeanMs: executorTotals.length ? executorTotals.reduce((a, b) => a + b, 0) / executorTotals.length : undefined,
        startJobMeanMs: windowMeanMs(metricsBefore.startJobs, metricsAfter.startJobs),
        startJobsOver1s: windowAbove(metricsBefore.startJobs, metricsAfter.startJobs, 1),
        startJobsOver5s: windowAbove(metricsBefore.startJobs, metricsAfter.startJobs, 5),
        startJobs: metricsAfter.startJobs.count - metricsBefore.startJobs.count,
        adjusts: metricsAfter.adjusts.count - metricsBefore.adjusts.count,
        adjustS: metricsAfter.adjusts.sum - metricsBefore.adjusts.sum,
        messageMeanMs: windowMeanMs(metricsBefore.messages, metricsAfter.messages),
        storeWrites: metricsAfter.storeWrites.count - metricsBefore.storeWrites.count,
        storeWriteMeanMs: windowMeanMs(metricsBefore.storeWrites, metricsAfter.storeWrites),
        storeWritesOver100ms: windowAbove(metricsBefore.storeWrites, metricsAfter.storeWrites, 0.1),
        storeWritesOver1s: windowAbove(metricsBefore.storeWrites, metricsAfter.storeWrites, 1),
        slotCycleMs: result.activateS !== undefined ? (options.parallelism * result.activateS * 1000) / instances : undefined,
        controllerLoopP99Ms: controllerAfter.loopDelayP99Ms,
        controllerLoopMaxMs: controllerAfter.loopDelayMaxMs,
        fleetLoopP99Ms: Math.max(...fleetAfter.map((u) => u.loopDelayP99Ms)),
        fleetLoopMaxMs: Math.max(...fleetAfter.map((u) => u.loopDelayMaxMs)),
        benchLoopP99Ms: benchDelay.p99Ms,
        benchLoopMaxMs: benchDelay.maxMs,
      };
      result.api = await load.stop();
      const usage = await controller.usage();
      result.rssMb = usage.rssBytes / 2 ** 20;
      result.heapMb = usage.heapUsedBytes / 2 ** 20;
      result.fds = usage.openFds;
      result.fdLimit = usage.fdLimit;
    }
    const removedInActivate = await removedExecutors(client);
    if (removedInActivate > 0) result.notes.push(`${removedInActivate} live executors removed as lost during ACTIVATE`);
    log(stepsLine(result.activateSteps!));
    log(`ACTIVE in ${result.activateS.toFixed(1)} s; API ${result.api.map((a) => `${a.name} ${a.p50Ms?.toFixed(0)}/${a.p99Ms?.toFixed(0)} ms (${a.requests}, ${a.errors} errors)`).join(', ')}`);

    // RESTART every instance: done when the service is ACTIVE again with N HEALTHY instances, none of them old.
    const old = new Set(healthy(await client.instances(serviceId)).map((i) => i.instanceId));
    // Timed from the acceptance: a wait for the service's slot (see submit) is the reconciler's, not the restart's.
    const slotWaitMs = await submit(client, 'restart', limit, {
      type: 'RESTART',
      serviceId,
      opSpec: { timeout: `${Math.ceil(limit / 1000)} seconds`, parallelism: options.parallelism, failureStrategy: 'STOP' },
    });
    if (slotWaitMs > 1_000) result.notes.push(`RESTART waited ${(slotWaitMs / 1000).toFixed(1)} s for the service's operation slot`);
    const restartStarted = Date.now();
    let listedAt = 0;
    let working = false;
    let endedUnreplaced = 0;
    await pollUntil('restart', limit, async () => {
      const summary = await client.service(serviceId);
      seen = `state ${summary?.state}, ${summary?.healthyInstances}/${instances} healthy`;
      if (summary?.state !== undefined && summary.state !== 'ACTIVE') working = true;
      if (summary?.state !== 'ACTIVE' || summary.healthyInstances !== instances || Date.now() - listedAt < LIST_POLL_MS) return undefined;
      listedAt = Date.now();
      const now = healthy(await client.instances(serviceId));
      const stale = now.filter((i) => old.has(i.instanceId)).length;
      seen += `, ${stale} not replaced yet`;
      // The operation ended (the service left ACTIVE and came back) without replacing everything: three list checks
      // in a row, so a reconciler pass between two steps of the restart is not mistaken for its end.
      endedUnreplaced = working && stale > 0 ? endedUnreplaced + 1 : 0;
      if (endedUnreplaced >= 3) throw new PhaseFailure(`RESTART ended with ${stale} of ${instances} instances not replaced`);
      return now.length === instances && stale === 0 ? true : undefined;
    }, () => seen);
    result.restartS = (listedAt - restartStarted) / 1000;
    const removedInRestart = (await removedExecutors(client)) - removedInActivate;
    if (removedInRestart > 0) result.notes.push(`${removedInRestart} live executors removed as lost during RESTART`);
    log(`RESTART done in ${result.restartS.toFixed(1)} s`);
    // The old instances are out of the healthy count once they are STOPPING: wait until they are gone from the list
    // too, so that the join below measures placement on a steady cluster, not the tail of 20,000 stops.
    await pollUntil('restart (old instances stopped)', limit, async () => {
      const listed = await client.instances(serviceId);
      seen = `${listed.length - instances} old instances still listed`;
      return listed.length === instances ? true : undefined;
    }, () => seen);
    result.restartSettledS = (Date.now() - restartStarted) / 1000;
    log(`RESTART settled (old instances stopped) at ${result.restartSettledS.toFixed(1)} s`);

    // Join: new executors while the service is ACTIVE; each should get its START at once. The event-loop delays
    // over the join say where a slow one waited: the controller sends START, a fleet worker observes it.
    await Promise.all([controller.usage({ openFds: false }), hollow.usage()]);
    const joined = await bounded('join', limit, hollow.grow(joinCount));
    const times = await pollUntil('join', limit, async () => {
      const all = await hollow.times();
      const waiting = joined.filter((j) => all.get(j.executorId)?.firstStartAt === undefined).length;
      seen = `${waiting}/${joined.length} joined executors without a START`;
      return waiting === 0 ? all : undefined;
    }, () => seen);
    const delays = joined.map((j) => times.get(j.executorId)!.firstStartAt! - times.get(j.executorId)!.joinedAt);
    result.joined = joined.length;
    result.joinP50Ms = percentile(delays, 50);
    result.joinP99Ms = percentile(delays, 99);
    const [controllerJoin, fleetJoin] = await Promise.all([controller.usage({ openFds: false }), hollow.usage()]);
    const joinLoops = `event-loop delay max over the join: controller ${controllerJoin.loopDelayMaxMs.toFixed(0)} ms, fleet worst ${Math.max(...fleetJoin.map((u) => u.loopDelayMaxMs)).toFixed(0)} ms`;
    const total = (size + joinCount) * options.instancesPerHost;
    await pollUntil('join (instances healthy)', limit, async () => {
      const summary = await client.service(serviceId);
      seen = `${summary?.healthyInstances}/${total} healthy`;
      return summary?.healthyInstances === total ? true : undefined;
    }, () => seen);
    const order = [...joined].sort((a, b) => a.joinedAt - b.joinedAt).map((j) => j.executorId);
    const slowest = joined
      .map((j, i) => ({ ms: delays[i]!, nth: order.indexOf(j.executorId) + 1 }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 3)
      .map((s) => `${s.ms.toFixed(0)} ms (joined ${s.nth}th)`);
    log(`join->START p50/p99 ${result.joinP50Ms?.toFixed(0)}/${result.joinP99Ms?.toFixed(0)} ms over ${joined.length} executors; slowest ${slowest.join(', ')}; ${joinLoops}`);

    // Idle: controller CPU per heartbeat over at least one heartbeat interval of a steady fleet.
    await sleep(2_000);
    const windowMs = Math.max(heartbeatMs, 10_000);
    if (profiling) await controller.profileStart();
    // Nothing of the measuring inside the window: the scrape of /metrics (whose process_open_fds also reads
    // /proc/self/fd) before the first CPU reading and after the last, and no open-file count.
    const m0 = (await controllerMetrics(controller.url)).messages.count;
    const u0 = await controller.usage({ openFds: false });
    await sleep(windowMs);
    const u1 = await controller.usage({ openFds: false });
    const m1 = (await controllerMetrics(controller.url)).messages.count;
    if (profiling) await keepProfile(result, controller, 'idle', m0);
    result.heartbeats = m1 - m0;
    if (result.heartbeats > 0) result.cpuMsPerHeartbeat = ((u1.cpuSeconds - u0.cpuSeconds) * 1000) / result.heartbeats;
    log(`idle ${(windowMs / 1000).toFixed(0)} s: ${result.heartbeats} messages (expected ~${Math.round(((size + joinCount) * windowMs) / heartbeatMs)}), ${((u1.cpuSeconds - u0.cpuSeconds) * 1000).toFixed(0)} ms CPU`);

    // Loss: 10% of the executors stop dead; their instances must leave the healthy count once they are stale, and
    // no live executor may be removed with them.
    const victims = victimsOf(hollow.executorIds);
    const victimSet = new Set(victims);
    const alive = hollow.executorIds.length - victims.length;
    await hollow.kill(victims);
    const killedAt = Date.now();
    result.killed = victims.length;
    const falselyRemoved = new Set<string>();
    let removedVictims = 0;
    let lastListed = 0;
    const lostAt = await pollUntil('lost', limit + staleMs, async () => {
      const summary = await client.service(serviceId);
      seen = `${summary?.healthyInstances}/${alive * options.instancesPerHost} healthy, ${removedVictims}/${victims.length} killed executors removed`;
      if (summary?.healthyInstances !== alive * options.instancesPerHost) return undefined;
      if (Date.now() - lastListed < LIST_POLL_MS && removedVictims < victims.length) return undefined;
      lastListed = Date.now();
      const removed = (await client.executors()).filter((e) => e.state === 'REMOVED');
      for (const e of removed) if (!victimSet.has(e.executorId)) falselyRemoved.add(e.executorId);
      removedVictims = removed.filter((e) => victimSet.has(e.executorId)).length;
      return removedVictims === victims.length ? Date.now() : undefined;
    }, () => seen, 500);
    result.lostDetectS = (lostAt - killedAt - staleMs) / 1000;
    result.falseLost = falselyRemoved.size;
    if (falselyRemoved.size > 0) result.notes.push(`${falselyRemoved.size} live executors removed as lost`);
    log(`lost: ${victims.length} executors' instances out ${result.lostDetectS.toFixed(1)} s after staleExecutorAge; ${falselyRemoved.size} live executors removed`);
  } catch (error) {
    if (error instanceof PhaseFailure) result.notes.push(error.message);
    else result.notes.push(`failed: ${error instanceof Error ? error.message.slice(0, 300) : String(error)}`);
    log(result.notes.at(-1)!);
    // The usual way a controller dies at scale; the log says so, the note saves opening it.
    if (controller && existsSync(controller.logFile) && readFileSync(controller.logFile, 'utf8').includes('EMFILE')) {
      result.notes.push(`the controller ran out of file descriptors (EMFILE in ${controller.logFile})`);
    }
  } finally {
    result.loadAvg[1] = loadavg()[0]!;
    if (fleet) {
      const usage = await fleet.usage().catch(() => []);
      if (usage.length) result.fleetRssMb = usage.reduce((sum, u) => sum + u.rssBytes, 0) / 2 ** 20;
      await fleet.stop().catch((error: unknown) => result.notes.push(`fleet stop: ${String(error)}`));
    }
    await api?.close();
    if (controller) await controller.stop().catch((error: unknown) => result.notes.push(`controller stop: ${String(error)}`));
  }
  return result;
}

/**
 * Ends the running profile of `phase` and keeps its top functions, with the executor messages served since
 * `messagesBefore` (the controller's message counter). A profile that cannot be had is a note, not a failed run.
 */
async function keepProfile(result: SizeResult, controller: ScaleController, phase: PhaseProfile['phase'], messagesBefore: number): Promise<void> {
  try {
    const path = await controller.profileStop(phase);
    const messages = (await controllerMetrics(controller.url)).messages.count - messagesBefore;
    result.profiles.push({ process: 'controller', phase, paths: [path], top: topSelfTime([path], repoRoot), per: { count: messages, unit: 'executor messages' } });
  } catch (error) {
    result.notes.push(`${phase} profile: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * Ends the fleet's ACTIVATE profile (docs/scale.md#the-hollow-fleets-share): the fleet shares the cores with the
 * controller, so what its executor code costs per instance started is part of what the rollout's time is made of.
 */
async function keepFleetProfile(result: SizeResult, hollow: HollowFleet, dir: string, label: string): Promise<void> {
  try {
    const paths = await hollow.profileStop((worker) => join(dir, `${label}-fleet-${worker}-activate.cpuprofile`));
    result.profiles.push({ process: 'fleet', phase: 'activate', paths, top: topSelfTime(paths, repoRoot), per: { count: result.instances, unit: 'instances started' } });
  } catch (error) {
    result.notes.push(`fleet activate profile: ${error instanceof Error ? error.message : String(error)}`);
  }
}
