import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startControllerServer } from '../src/controller/server.js';
import { devControllerConfig, loadDevState } from '../src/dev.js';
import { freePort } from '../src/executor/server.js';
import type { HollowFleet } from '../test/support/hollow/fleet.js';
import { startHollowFleet } from '../test/support/hollow/fleet.js';

/**
 * What a hollow executor costs (docs/hollow.md#cost-measured): a real controller (SQLite) and a hollow fleet grown
 * to each given size; prints per step the time to start and to register, RSS and heap per worker and per added
 * executor, open files of the controller and the workers, then idle CPU over one heartbeat period.
 *   node dist/bench/hollow-footprint.js <workers> <size>... [--spread-ms N] [--late-ms N]
 * e.g. `node dist/bench/hollow-footprint.js 4 5000`. Prints figures; never fails a build.
 */

const MIB = 2 ** 20;
const HEARTBEAT_MS = 20_000;
const SETTLE_MS = 5_000;

function args(): { workers: number; sizes: number[]; spreadMs: number; lateMs: number } {
  const rest = process.argv.slice(2);
  const flag = (name: string) => {
    const i = rest.indexOf(name);
    if (i < 0) return 0;
    const value = Number(rest[i + 1]);
    rest.splice(i, 2);
    return value;
  };
  const spreadMs = flag('--spread-ms');
  const lateMs = flag('--late-ms');
  const [workers, ...sizes] = rest.map(Number);
  if (!workers || sizes.length === 0 || sizes.some((n, i) => !(n > (sizes[i - 1] ?? 0)))) {
    throw new Error('usage: hollow-footprint <workers> <size>... (sizes increasing) [--spread-ms N] [--late-ms N]');
  }
  return { workers, sizes, spreadMs, lateMs };
}

const openFiles = (pid: number) => {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
};

async function show(fleet: HollowFleet, label: string) {
  const usage = await fleet.usage();
  const perWorker = usage.map((w) => `rss ${(w.rssBytes / MIB).toFixed(1)} MiB, heap ${(w.heapUsedBytes / MIB).toFixed(1)} MiB, ${w.executors} executors, ${openFiles(w.pid)} fds`);
  process.stdout.write(`${label}: controller rss ${(process.memoryUsage().rss / MIB).toFixed(1)} MiB, ${openFiles(process.pid)} fds | ${perWorker.join(' | ')}\n`);
  return usage;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const { workers, sizes, spreadMs, lateMs } = args();
  const dataDir = mkdtempSync(join(tmpdir(), 'hollow-footprint-'));
  const state = loadDevState(dataDir, { port: await freePort(), executorPort: await freePort(), host: '127.0.0.1' });
  const controller = await startControllerServer(devControllerConfig(dataDir, state, 'silent'), { logger: pino({ level: 'silent' }) });
  const fleet = await startHollowFleet({
    controllerUrls: [controller.url],
    executors: sizes.at(-1)!,
    initialExecutors: 0,
    workers,
    hostnamePrefix: 'footprint',
    startSpreadMs: spreadMs,
    executorConfig: {
      clusterAuth: { secrets: [{ nodeType: 'CONTROLLER', secret: state.controllerSecret }, { nodeType: 'EXECUTOR', secret: state.executorSecret }] },
      options: { heartbeatInterval: `${HEARTBEAT_MS / 1000} seconds` },
    },
  });
  try {
    let before = await show(fleet, '0 executors');
    let have = 0;
    for (const size of sizes) {
      const t0 = performance.now();
      await fleet.grow(size - have);
      const started = performance.now() - t0;
      await fleet.ready();
      const registered = performance.now() - t0;
      process.stdout.write(`${have} -> ${size}: started in ${(started / 1000).toFixed(1)} s, all registered after ${(registered / 1000).toFixed(1)} s (${((size - have) / (registered / 1000)).toFixed(0)} executors/s)\n`);
      await sleep(SETTLE_MS);
      const after = await show(fleet, `${size} executors`);
      const sum = (list: typeof after, key: 'rssBytes' | 'heapUsedBytes') => list.reduce((s, w) => s + w[key], 0);
      const added = size - have;
      process.stdout.write(`  per added executor: rss ${((sum(after, 'rssBytes') - sum(before, 'rssBytes')) / added / 1024).toFixed(0)} KiB, heap ${((sum(after, 'heapUsedBytes') - sum(before, 'heapUsedBytes')) / added / 1024).toFixed(0)} KiB\n`);
      before = after;
      have = size;
    }
    if (lateMs > 0) {
      await sleep(lateMs);
      await show(fleet, `${lateMs / 1000} s later`);
    }
    const cpu0 = (await fleet.usage()).map((w) => w.cpuSeconds);
    await sleep(HEARTBEAT_MS);
    const cpu1 = (await fleet.usage()).map((w) => w.cpuSeconds);
    process.stdout.write(`idle CPU over one heartbeat period: ${cpu1.map((c, i) => `${(((c - cpu0[i]!) / (HEARTBEAT_MS / 1000)) * 100).toFixed(1)} % of a core`).join(', ')}\n`);
  } finally {
    await fleet.stop();
    await controller.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
