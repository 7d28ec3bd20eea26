import { execFile } from 'node:child_process';
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

/**
 * Rollout benchmark: on one real executor (local dockerd), ACTIVATE a local service with N instances per host and
 * time it until all N are HEALTHY (HTTP readiness, then HTTP health), next to the same N containers started with
 * raw `docker run` followed by the same HTTP probe loop, in the same run. Goal: drove / raw <= 1.3.
 *   npm run bench:rollout [-- runs]      (default 3 runs per N; medians are printed)
 * Needs a running dockerd and the test image (npm run images). Prints figures; never fails a build.
 */

const execFileAsync = promisify(execFile);
const IMAGE = TEST_IMAGE;
const COUNTS = [1, 4, 8];
const RUNS = Number(process.argv[2] ?? 3);
/** How often the bench looks at the controller's summary; small against the figures being measured. */
const POLL_MS = 10;
const WAIT_LIMIT_MS = 120_000;
const ROLLOUT_WAIT = { timeoutMs: WAIT_LIMIT_MS, intervalMs: POLL_MS };

/** Readiness and health as a real node agent would declare them, tight enough that probing is not the bottleneck. */
const READINESS = httpCheck('/cgi-bin/health', '100 milliseconds', 50);
const HEALTH = httpCheck('/cgi-bin/health', '100 milliseconds', 50);

function spec(name: string): LocalServiceSpec {
  return httpdServiceSpec(name, {
    resources: [
      { type: 'CPU', count: 1 },
      { type: 'MEMORY', sizeInMB: 64 },
    ],
    healthcheck: HEALTH,
    readiness: READINESS,
  });
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

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
        await docker(['run', '-d', '--name', name, '-p', '127.0.0.1::8000', '--memory', '64m', IMAGE]);
        const port = Number((await docker(['port', name, '8000/tcp'])).split(':').pop());
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

async function main(): Promise<void> {
  await docker(['image', 'inspect', IMAGE]).catch(() => {
    throw new Error(`image ${IMAGE} is missing: run \`npm run images\` first`);
  });
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

  process.stdout.write(`rollout benchmark: ${RUNS} run(s) per N, medians; image ${IMAGE}; readiness+health HTTP probes every 100 ms\n`);
  process.stdout.write(' N   drove ACTIVATE->HEALTHY   docker run + probes   ratio\n');
  const rows: Array<{ n: number; drove: number; raw: number; ratio: number }> = [];
  try {
    // One untimed round each warms the page cache, the image and the code paths.
    await droveRollout(client, 1, -1);
    await rawRollout(1, -1);
    for (const n of COUNTS) {
      const droveTimes: number[] = [];
      const rawTimes: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        // Interleaved so that machine load drifts affect both sides alike.
        droveTimes.push(await droveRollout(client, n, run));
        rawTimes.push(await rawRollout(n, run));
      }
      const drove = median(droveTimes);
      const raw = median(rawTimes);
      rows.push({ n, drove, raw, ratio: drove / raw });
      process.stdout.write(
        `${String(n).padStart(2)}   ${`${drove.toFixed(0)} ms`.padStart(22)}   ${`${raw.toFixed(0)} ms`.padStart(19)}   ${(drove / raw).toFixed(2)}\n`,
      );
    }
  } finally {
    await executor.stop();
    await controller.close();
    await dispatcher.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const worst = Math.max(...rows.map((r) => r.ratio));
  process.stdout.write(`worst ratio ${worst.toFixed(2)} (goal <= 1.30): ${worst <= 1.3 ? 'met' : 'NOT met'}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:rollout failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
