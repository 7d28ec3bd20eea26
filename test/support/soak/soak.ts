import { rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { TEST_IMAGE } from '../images.js';
import type { Reply } from './api.js';
import { SETTLE_AFTER_FAULTS_MS } from './bounds.js';
import { startSoakCluster, type SoakCluster } from './cluster.js';
import { FaultInjector } from './faults.js';
import { InvariantChecker, type Violation } from './invariants.js';
import { Observer } from './observer.js';
import { OperationRunner } from './operations.js';
import type { OperationRecord } from './records.js';
import { formatReport, type SoakReport } from './report.js';
import type { Sample } from './sample.js';
import { buildSchedule, type Schedule } from './schedule.js';
import { SOAK_SERVICES } from './services.js';
import { TermTracker } from './terms.js';
import { CHECKER_WINDOWS, SOAK_TIMINGS } from './timings.js';

/**
 * The chaos soak (docs/soak.md): a real HA cluster, a seeded stream of operations and faults, and an invariant
 * checker reading Docker and the API all along. Returns the report; everything it started is gone when it returns
 * or throws. SIGINT/SIGTERM end the soak early: it cleans up and returns a report marked interrupted.
 */

export interface SoakOptions {
  seed: number;
  /** Length of the chaos phase (operations and faults); setup, settling and convergence come on top. */
  durationMs: number;
  log?: (line: string) => void;
  /** Keep the run directory (configs, process logs) even when the soak passed. */
  keepLogs?: boolean;
}

const HOSTS = 3;

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const schedule = buildSchedule(options.seed, options.durationMs, { hosts: HOSTS, etcdMembers: 3 });
  log(`soak: seed ${options.seed}, ${Math.round(options.durationMs / 1000)} s of chaos: ${schedule.operations.length} operations and ${schedule.faults.length} faults planned`);
  try {
    execFileSync('docker', ['image', 'inspect', TEST_IMAGE], { stdio: 'ignore' });
  } catch {
    throw new Error(`soak: the test image ${TEST_IMAGE} is missing; build it with \`npm run images\``);
  }
  // Signals are taken over before anything starts: the hosts' dockerds run detached and must not outlive us.
  let interrupted: NodeJS.Signals | undefined;
  let abort: (() => void) | undefined;
  const aborted = new Promise<void>((resolve) => (abort = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    log(`soak: ${signal} received, cleaning up`);
    interrupted = signal;
    abort?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let cluster: SoakCluster | undefined;
  let report: SoakReport | undefined;
  const started = Date.now();
  try {
    cluster = await startSoakCluster({ hosts: HOSTS, log });
    log(`soak: cluster up after ${((Date.now() - started) / 1000).toFixed(1)} s; logs and configs in ${cluster.dir}`);
    report = interrupted ? emptyReport(schedule) : await drive(cluster, schedule, log, aborted, () => interrupted);
    await cluster.close();
    report.leftovers = await cluster.leftovers();
    return report;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (cluster) {
      await cluster.close();
      const keep = options.keepLogs || !report || report.violations.length > 0 || report.leftovers.length > 0;
      if (!keep) rmSync(cluster.dir, { recursive: true, force: true });
      log(`soak: cluster removed${keep ? `; logs kept in ${cluster.dir}` : ''}; ${((Date.now() - started) / 1000).toFixed(1)} s in all`);
    }
  }
}

function emptyReport(schedule: Schedule): SoakReport {
  return {
    seed: schedule.seed,
    durationMs: schedule.durationMs,
    operations: [],
    faults: [],
    violations: [],
    tally: { finished: 0, interrupted: 0, pending: 0 },
    terms: 0,
    interrupted: true,
    leftovers: [],
  };
}

async function drive(
  cluster: SoakCluster,
  schedule: Schedule,
  log: (line: string) => void,
  aborted: Promise<void>,
  interrupted: () => NodeJS.Signals | undefined,
): Promise<SoakReport> {
  const tracker = new TermTracker();
  let t0 = Date.now();
  const rel = (wall: number) => `${((wall - t0) / 1000).toFixed(1)} s`;
  const checker = new InvariantChecker({
    services: SOAK_SERVICES,
    executorIds: cluster.executors.map((e) => e.executorId),
    tracker,
    onViolation: (v: Violation) => log(`VIOLATION at ${rel(v.at)} [${v.rule}] ${v.message}${v.evidence ? `\n${v.evidence}` : ''}`),
  });
  const serverError = (what: string, reply: Reply) => checker.serverError(what, reply);
  const observer = new Observer(cluster, tracker, serverError);
  let last: Sample | undefined;
  const leader = () => (last && last.leaders.length === 1 ? last.leaders[0] : undefined);
  const runner = new OperationRunner(cluster, leader, serverError);
  const faults = new FaultInjector(cluster, {
    leader,
    hostFaultStarted: (h) => checker.hostFaultStarted(h),
    hostFaultEnded: (h) => checker.hostFaultEnded(h),
    log,
  });

  const sleep = (ms: number) => Promise.race([new Promise<void>((resolve) => setTimeout(resolve, ms)), aborted]);
  const stopped = () => interrupted() !== undefined;

  // ---- startup: one leader, every executor ACTIVE ----
  const startupDeadline = Date.now() + SOAK_TIMINGS.startupMs;
  for (;;) {
    last = await observer.sample();
    const ready =
      last.view && cluster.executors.every((e) => last!.view!.executors.some((x) => x.executorId === e.executorId && x.state === 'ACTIVE'));
    if (ready) break;
    if (stopped()) return emptyReport(schedule);
    if (Date.now() > startupDeadline) throw new Error(`soak: the cluster did not come up within ${SOAK_TIMINGS.startupMs / 1000} s (see ${cluster.dir})`);
    await sleep(500);
  }
  log(`soak: leader is controller-${last.leaders[0]! + 1}; ${cluster.executors.length} executors ACTIVE; chaos starts`);

  // ---- sampling, all along ----
  let sampling = true;
  const sampler = (async () => {
    while (sampling && !stopped()) {
      const started = Date.now();
      last = await observer.sample();
      checker.sample(last);
      await sleep(Math.max(0, SOAK_TIMINGS.sampleIntervalMs - (Date.now() - started)));
    }
  })();

  // ---- chaos: operations and faults on their schedule ----
  t0 = Date.now();
  log(`soak: chaos starts at ${new Date(t0).toISOString()} (${t0} ms); times below are seconds since then`);
  const operationRecords: OperationRecord[] = [];
  const inFlight = new Set<Promise<void>>();
  const timers: NodeJS.Timeout[] = [];
  const at = (ms: number, work: () => Promise<void>) => {
    timers.push(
      setTimeout(() => {
        if (stopped()) return;
        const p = work().finally(() => inFlight.delete(p));
        inFlight.add(p);
      }, ms),
    );
  };
  for (const op of schedule.operations) {
    at(op.atMs, async () => {
      const record = await runner.run(op);
      operationRecords.push(record);
      checker.operation(record);
      const by = record.controller === undefined ? '' : ` by controller-${record.controller + 1}`;
      log(`${rel(record.sentAt).padStart(8)}  op    ${op.kind} ${op.serviceId}: ${record.outcome}${by}${record.outcome === 'accepted' ? '' : ` (${record.status} ${record.message ?? ''})`}`);
    });
  }
  for (const fault of schedule.faults) {
    at(fault.atMs, async () => {
      await faults.inject(fault);
      const record = faults.records.at(-1)!;
      log(`${rel(record.startedAt).padStart(8)}  fault ${fault.kind} on ${record.target}${record.error ? ` FAILED: ${record.error}` : ''}`);
    });
  }
  await sleep(schedule.durationMs);
  for (const t of timers) clearTimeout(t);
  await Promise.all([...inFlight]);
  await faults.healAll();
  const healedAt = Date.now();
  log(`soak: chaos over at ${rel(healedAt)}; every fault healed; waiting for every operation to end`);

  // ---- settle: every service steady again, then converge within 30 s ----
  let settledAt: number | undefined;
  let gaps: string[] = ['not sampled yet'];
  while (!stopped()) {
    const sample = last;
    if (sample && sample.wall > healedAt) {
      const busy = sample.view ? [...sample.view.services.values()].filter((s) => s.state && !['ACTIVE', 'INACTIVE', 'CONFIG_TESTING'].includes(s.state)) : undefined;
      if (settledAt === undefined && busy && busy.length === 0) {
        settledAt = sample.wall;
        log(`soak: every service steady at ${rel(settledAt)}; the cluster must converge within ${CHECKER_WINDOWS.convergenceMs / 1000} s`);
      }
      if (settledAt !== undefined) {
        gaps = checker.convergenceGaps(sample);
        if (gaps.length === 0) {
          log(`soak: converged at ${rel(sample.wall)} (${((sample.wall - settledAt) / 1000).toFixed(1)} s after settling)`);
          break;
        }
        if (sample.wall - settledAt > CHECKER_WINDOWS.convergenceMs) {
          checker.notConverged(sample.wall, CHECKER_WINDOWS.convergenceMs, gaps);
          break;
        }
      } else if (sample.wall - healedAt > SETTLE_AFTER_FAULTS_MS) {
        checker.notConverged(sample.wall, SETTLE_AFTER_FAULTS_MS, [
          `operations still running ${SETTLE_AFTER_FAULTS_MS / 1000} s after the last fault: ${(busy ?? []).map((s) => `${s.id} ${s.state}`).join(', ') || 'no leader view'}`,
        ]);
        break;
      }
    }
    await sleep(250);
  }
  sampling = false;
  await sampler;
  // An interrupted soak judges nothing it did not see through.
  if (!stopped()) checker.finish();
  else await faults.healAll();

  return {
    seed: schedule.seed,
    durationMs: schedule.durationMs,
    operations: operationRecords,
    faults: faults.records,
    violations: [...checker.violations],
    tally: checker.operationTally(),
    terms: tracker.allTerms().length,
    interrupted: interrupted() !== undefined,
    leftovers: [],
  };
}

export { formatReport };
