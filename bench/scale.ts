import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import type { StoreKind } from './scale/controller.js';
import { goalLines, profileLines, storeTable } from './scale/report.js';
import { DEFAULT_SCALE_OPTIONS, runScale, type ScaleOptions } from './scale/run.js';

/**
 * Fleet-scale benchmark (docs/scale.md): a real controller in its own process, hollow executors (docs/hollow.md)
 * over real HTTP, per store and fleet size: ACTIVATE, RESTART, join -> START, 10% loss, API reads under load,
 * controller memory and CPU per heartbeat. Prints figures and the goals met or missed; never fails a build.
 *   npm run bench:scale [-- --sizes 500,1000 --stores sqlite,etcd --phase-limit 600 --cpu-prof [--cpu-prof-runs sqlite:5000]]
 */

const { values } = parseArgs({
  options: {
    sizes: { type: 'string' },
    stores: { type: 'string' },
    'phase-limit': { type: 'string' },
    heartbeat: { type: 'string' },
    'stale-executor-age': { type: 'string' },
    lease: { type: 'string' },
    parallelism: { type: 'string' },
    rate: { type: 'string' },
    workers: { type: 'string' },
    'controller-log-level': { type: 'string' },
    'fleet-log-level': { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    'cpu-prof-runs': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

const USAGE = `npm run bench:scale -- [options]
  --sizes 500,1000,2000,5000     fleet sizes (executors; 4 instances each)
  --stores sqlite,etcd           stores (etcd at DROVE_TEST_ETCD_ENDPOINTS or http://127.0.0.1:2379)
  --phase-limit 600              seconds a phase may take before it is reported as not completed
  --heartbeat 10                 executor heartbeat interval, seconds
  --stale-executor-age 30        controller staleExecutorAge, seconds
  --lease 30                     etcd leader lease TTL, seconds
  --parallelism 256              ACTIVATE (clusterOpParallelism) and RESTART parallelism
  --rate 50                      API reads per second during ACTIVATE
  --workers N                    hollow worker processes (default: the fleet's)
  --controller-log-level warn    pino level of the controllers' logs in the run directory (info: every START and ADJUST)
  --fleet-log-level error        pino level of the hollow executors' shared log, printed to this output
  --cpu-prof                     profile the controller over ACTIVATE and over the idle window: every run, or those of --cpu-prof-runs
  --cpu-prof-runs sqlite:5000    store:size list of the runs to profile`;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function fail(message: string): never {
  process.stderr.write(`bench:scale: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function positiveInt(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive integer, got '${text}'`);
  return n;
}

function parseOptions(): ScaleOptions {
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const d = DEFAULT_SCALE_OPTIONS;
  const sizes = values.sizes === undefined ? d.sizes : values.sizes.split(',').map((s) => positiveInt('sizes', s.trim(), 0));
  const stores = values.stores === undefined ? d.stores : values.stores.split(',').map((s) => s.trim());
  for (const store of stores) if (store !== 'sqlite' && store !== 'etcd') fail(`--stores: unknown store '${store}' (sqlite, etcd)`);
  const seconds = (name: string, text: string | undefined, fallback: string) => (text === undefined ? fallback : `${positiveInt(name, text, 0)} seconds`);
  const cpuProfile = !values['cpu-prof'] ? [] : values['cpu-prof-runs'] === undefined ? ['*'] : values['cpu-prof-runs'].split(',').map((s) => s.trim());
  if (values['cpu-prof-runs'] !== undefined && !values['cpu-prof']) fail('--cpu-prof-runs needs --cpu-prof');
  const workers = values.workers === undefined ? undefined : positiveInt('workers', values.workers, 0);
  const level = (name: string, text: string | undefined, fallback: string) => {
    if (text === undefined) return fallback;
    if (!LOG_LEVELS.includes(text)) fail(`--${name} must be one of ${LOG_LEVELS.join(', ')}, got '${text}'`);
    return text;
  };
  return {
    ...d,
    sizes,
    stores: stores as StoreKind[],
    phaseLimitMs: positiveInt('phase-limit', values['phase-limit'], d.phaseLimitMs / 1000) * 1000,
    heartbeatInterval: seconds('heartbeat', values.heartbeat, d.heartbeatInterval),
    staleExecutorAge: seconds('stale-executor-age', values['stale-executor-age'], d.staleExecutorAge),
    leaseTtlSeconds: positiveInt('lease', values.lease, d.leaseTtlSeconds),
    parallelism: positiveInt('parallelism', values.parallelism, d.parallelism),
    apiRate: positiveInt('rate', values.rate, d.apiRate),
    cpuProfile,
    controllerLogLevel: level('controller-log-level', values['controller-log-level'], d.controllerLogLevel),
    fleetLogLevel: level('fleet-log-level', values['fleet-log-level'], d.fleetLogLevel),
    ...(workers !== undefined ? { workers } : {}),
    log: (line) => process.stdout.write(`${line}\n`),
  };
}

async function main(): Promise<void> {
  const options = parseOptions();
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`bench:scale ${new Date().toISOString()}; ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load avg ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  out(
    `sizes ${options.sizes.join(', ')} executors x ${options.instancesPerHost} instances; stores ${options.stores.join(', ')}; parallelism ${options.parallelism}; ` +
      `heartbeat ${options.heartbeatInterval}; staleExecutorAge ${options.staleExecutorAge}; etcd lease ${options.leaseTtlSeconds} s; ` +
      `API load ${options.apiRate} req/s during ACTIVATE; simulated start ${options.startLatencyMs}+${options.startJitterMs} ms; phase limit ${options.phaseLimitMs / 1000} s`,
  );
  const results = await runScale(options);
  out('');
  for (const store of options.stores) {
    out(storeTable(store, results.filter((r) => r.store === store)).join('\n'));
    out('');
  }
  out(goalLines(results).join('\n'));
  const profiles = profileLines(results);
  if (profiles.length) out(['', ...profiles].join('\n'));
  out(
    '\ncolumns: activate = ACTIVATE accepted -> ACTIVE with every instance HEALTHY; restart = RESTART accepted -> all replaced and HEALTHY; ' +
      'join->START = a new executor registered -> its first START message; lost +s = after staleExecutorAge, until the killed 10% are out of the healthy count; ' +
      'API = reads during ACTIVATE; RSS/heap at the end of ACTIVATE; CPU ms/hb = controller CPU over an idle window / messages served in it',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:scale failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
