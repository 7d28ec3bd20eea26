import { execFile } from 'node:child_process';
import Docker from 'dockerode';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { Agent, request } from 'undici';
import { startControllerServer } from '../src/controller/server.js';
import { devControllerConfig, devExecutorConfig, loadDevState, openFilesLimit } from '../src/dev.js';
import { startExecutor } from '../src/executor/server.js';
import type { CheckSpec, LocalServiceSpec, LocalServiceSummary } from '../src/model/index.js';
import { durationMs } from '../src/model/index.js';
import { TEST_IMAGE } from '../test/support/images.js';
import { httpCheck, httpdServiceSpec } from '../test/support/specs.js';
import { waitUntil } from '../test/support/wait.js';
import { goalLine, rolloutRow, tableHeader, tableLine, type RolloutRow } from './rollout/figures.js';
import { SwarmPeer } from './rollout/swarm.js';
import { swarmMode } from './rollout/swarm-spec.js';

/**
 * Rollout benchmark: on one real executor (local dockerd), ACTIVATE a local service with N instances per host and
 * time it until all N are HEALTHY (HTTP readiness, then HTTP health), next to the same N containers started with
 * raw `docker run` followed by the same HTTP probe loop, and to a Docker Swarm service of the same image with the
 * same check as a Docker health check (create -> tasks running and containers healthy), in the same run. Swarm
 * has one task per node in global mode, so N = 1 is a global service and N > 1 a replicated one on this node.
 * If the engine is in no swarm the bench runs `swarm init` on loopback and leaves at the end (also on SIGINT or
 * SIGTERM); a manager it finds is used and left as found. Goal: drove / raw <= 1.3.
 *   npm run bench:rollout [-- runs]      (default 3 runs per N; medians are printed)
 * Needs a running dockerd and the test image (npm run images). Prints figures; never fails a build.
 */

const execFileAsync = promisify(execFile);
const IMAGE = TEST_IMAGE;
const COUNTS = [1, 4, 8];
const RUNS = Number(process.argv[2] ?? 3);
/** How often the bench looks at the controller's summary; small against the figures being measured. */
const POLL_MS = 10;
const GOAL = 1.3;
const MEMORY_MB = 64;
const CONTAINER_PORT = 8000;
const WAIT_LIMIT_MS = 120_000;
const ROLLOUT_WAIT = { timeoutMs: WAIT_LIMIT_MS, intervalMs: POLL_MS };

/** Readiness and health as a real node agent would declare them, tight enough that probing is not the bottleneck. */
const READINESS = httpCheck('/cgi-bin/health', '100 milliseconds', 50);
const HEALTH = httpCheck('/cgi-bin/health', '100 milliseconds', 50);

function spec(name: string): LocalServiceSpec {
  return httpdServiceSpec(name, {
    resources: [
      { type: 'CPU', count: 1 },
      { type: 'MEMORY', sizeInMB: MEMORY_MB },
    ],
    healthcheck: HEALTH,
    readiness: READINESS,
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

const dispatcher = new Agent({ connections: 16 });

async function probe(port: number, path: string): Promise<boolean> {
  try {
    const res = await request(`http://127.0.0.1:${port}${path}`, { dispatcher, headersTimeout: 1000, bodyTimeout: 1000 });
    await res.body.dump();
    return res.statusCode === 200;
  } catch {
    return false;
  }
}

/** The executor's probe loop (src/executor/instances/instance.ts): initial delay, then probe every interval. */
async function probeLoop(port: number, spec: CheckSpec): Promise<void> {
  await sleep(durationMs(spec.initialDelay ?? '0 seconds'));
  const path = spec.mode.type === 'HTTP' ? spec.mode.path : '/';
  for (let attempt = 1; attempt <= spec.attempts; attempt++) {
    if (await probe(port, path)) return;
    await sleep(durationMs(spec.interval));
  }
  throw new Error(`probe of port ${port} failed ${spec.attempts} times`);
}

async function docker(args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('docker', args);
  return stdout.trim();
}

/** N containers with `docker run`, each followed by readiness then health probing; ms until all are healthy. */
async function rawRollout(n: number, run: number): Promise<number> {
  const names = Array.from({ length: n }, (_, i) => `drove-bench-raw-${process.pid}-${run}-${i}`);
  const started = performance.now();
  try {
    await Promise.all(
      names.map(async (name) => {
        await docker(['run', '-d', '--name', name, '-p', `127.0.0.1::${CONTAINER_PORT}`, '--memory', `${MEMORY_MB}m`, IMAGE]);
        const port = Number((await docker(['port', name, `${CONTAINER_PORT}/tcp`])).split(':').pop());
        await probeLoop(port, READINESS);
        await probeLoop(port, HEALTH);
      }),
    );
    return performance.now() - started;
  } finally {
    await docker(['rm', '-f', ...names]).catch(() => '');
  }
}

/** Drove's answer envelope; `data` is whatever the path serves. */
interface Envelope<T> {
  status: string;
  data: T;
  message?: string;
}

interface Api {
  post(path: string, body: unknown): Promise<{ status: number; json: unknown }>;
  get<T>(path: string): Promise<Envelope<T>>;
}

function api(baseUrl: string): Api {
  const authorization = `Basic ${Buffer.from('admin:admin').toString('base64')}`;
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const res = await request(`${baseUrl}${path}`, {
      method,
      dispatcher,
      headers: { authorization, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.statusCode, json: await res.body.json() };
  };
  return {
    post: (path, body) => call('POST', path, body),
    get: async <T>(path: string) => (await call('GET', path)).json as Envelope<T>,
  };
}

async function operation(client: Api, body: Record<string, unknown>): Promise<void> {
  const reply = await client.post('/apis/v1/localservices/operations', body);
  if (reply.status !== 200) throw new Error(`${String(body.type)} rejected: ${JSON.stringify(reply.json)}`);
}

/** CREATE (untimed), then ACTIVATE -> N HEALTHY (timed); then deactivate and destroy (untimed). */
async function droveRollout(client: Api, n: number, run: number): Promise<number> {
  const name = `BENCH_${n}_${run}`;
  const serviceId = `${name}-1`;
  const summary = async () => (await client.get<LocalServiceSummary | undefined>(`/apis/v1/localservices/${serviceId}`)).data;
  await operation(client, { type: 'CREATE', spec: spec(name), instancesPerHost: n });
  await waitUntil('INACTIVE after create', async () => (await summary())?.state === 'INACTIVE', ROLLOUT_WAIT);
  const started = performance.now();
  await operation(client, { type: 'ACTIVATE', serviceId });
  await waitUntil(`${n} healthy instances`, async () => (await summary())?.healthyInstances === n, ROLLOUT_WAIT);
  const elapsed = performance.now() - started;
  await waitUntil('ACTIVE', async () => (await summary())?.state === 'ACTIVE', ROLLOUT_WAIT);
  await operation(client, { type: 'DEACTIVATE', serviceId });
  await waitUntil('no instances', async () => {
    const s = await summary();
    return s?.state === 'INACTIVE' && (await client.get<unknown[]>(`/apis/v1/localservices/${serviceId}/instances`)).data.length === 0;
  }, ROLLOUT_WAIT);
  await operation(client, { type: 'DESTROY', serviceId });
  await waitUntil('destroyed', async () => (await summary()) === undefined, ROLLOUT_WAIT);
  return elapsed;
}

/**
 * Swarm's health check stands for both of drove's checks: readiness and health are the same HTTP probe here, and
 * Docker has one check per container.
 */
function joinSwarm(): Promise<SwarmPeer> {
  const options = {
    image: IMAGE,
    check: HEALTH,
    containerPort: CONTAINER_PORT,
    memoryBytes: MEMORY_MB * 1024 * 1024,
    pollMs: POLL_MS,
    waitLimitMs: WAIT_LIMIT_MS,
  };
  return SwarmPeer.join(new Docker({ socketPath: '/var/run/docker.sock' }), options);
}

const swarmName = (n: number, run: number) => `drove-bench-swarm-${process.pid}-${n}-${run}`;

async function main(): Promise<void> {
  await docker(['image', 'inspect', IMAGE]).catch(() => {
    throw new Error(`image ${IMAGE} is missing: run \`npm run images\` first`);
  });
  const swarm = await joinSwarm();
  // Leaves the swarm the bench made even when interrupted: a swarm left on keeps its networks and iptables rules
  // in dockerd for everything else on the host.
  const interrupted = (signal: NodeJS.Signals) => {
    process.stderr.write(`bench:rollout: ${signal}, removing the swarm service${swarm.initialized ? ' and leaving the swarm' : ''}\n`);
    void swarm.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    await benchmark(swarm);
  } finally {
    await swarm.close();
  }
}

async function benchmark(swarm: SwarmPeer): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'drove-bench-'));
  const state = loadDevState(dataDir, { port: await freePort(), executorPort: await freePort(), host: '127.0.0.1' });
  const logger = pino({ level: 'silent' });
  const controllerConfig = devControllerConfig(dataDir, state, 'silent');
  // Drove's docs recommend a default parallelism of about 8; with 1 the N starts would run one after the other.
  controllerConfig.options.clusterOpParallelism = Math.max(...COUNTS);
  const controller = await startControllerServer(controllerConfig, { logger });
  const executorConfig = devExecutorConfig(dataDir, state, 'silent', '/var/run/docker.sock');
  executorConfig.maxOpenFiles = openFilesLimit();
  const executor = await startExecutor(executorConfig, { logger });
  const client = api(`http://127.0.0.1:${state.port}`);
  await waitUntil('the executor to register', async () => (await client.get<unknown[]>('/apis/v1/cluster/executors')).data.length === 1, ROLLOUT_WAIT);

  process.stdout.write(
    `rollout benchmark: ${RUNS} run(s) per N, medians in ms; image ${IMAGE}; HTTP checks every 100 ms\n` +
      `  drove: ACTIVATE -> N HEALTHY (readiness then health probes by the executor)\n` +
      `  swarm: service create -> N tasks running, containers healthy (Docker health check, wget in the container);` +
      ` swarm ${swarm.initialized ? 'initialised by this bench' : 'found as a manager'}\n` +
      `  raw:   docker run -> N containers answering readiness then health probes\n`,
  );
  process.stdout.write(`${tableHeader()}\n`);
  const rows: RolloutRow[] = [];
  try {
    // One untimed round each warms the page cache, the image and the code paths.
    await droveRollout(client, 1, -1);
    await swarm.rollout(1, swarmName(1, -1));
    await rawRollout(1, -1);
    for (const n of COUNTS) {
      const drove: number[] = [];
      const swarmTimes: number[] = [];
      const raw: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        // Interleaved so that machine load drifts affect all sides alike.
        drove.push(await droveRollout(client, n, run));
        swarmTimes.push(await swarm.rollout(n, swarmName(n, run)));
        raw.push(await rawRollout(n, run));
      }
      const row = rolloutRow({ instances: n, swarmMode: swarmMode(n), drove, swarm: swarmTimes, raw });
      rows.push(row);
      process.stdout.write(`${tableLine(row)}\n`);
    }
  } finally {
    await executor.stop();
    await controller.close();
    await dispatcher.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  process.stdout.write(`${goalLine(rows, GOAL)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:rollout failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
