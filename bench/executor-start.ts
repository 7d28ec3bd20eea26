import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { pino } from 'pino';
import { request } from 'undici';
import { parseExecutorConfig } from '../src/executor/config.js';
import { startExecutor } from '../src/executor/server.js';
import type { ControllerMessage, LocalServiceInstanceSpec } from '../src/model/executor.js';
import type { LocalServiceInstanceInfo } from '../src/model/instance.js';

/**
 * Time from START_LOCAL_SERVICE_INSTANCE to the HEALTHY report for the test image (median of N), next to a raw
 * `docker run` of the same image followed by the same HTTP probe loop (readiness probe until 200, then one
 * health probe), measured in the same run. Prints the figures; never fails a build.
 *   node dist/bench/executor-start.js [runs]
 */
const RUNS = Number(process.argv[2] ?? 10);
const IMAGE = 'drove-ts/httpd:1';
const PROBE_INTERVAL_MS = 100;
const SECRET = 'bench-secret';
/** What a controller sends; the executor accepts nothing else. */
const CONTROLLER_SECRET = 'bench-controller-secret';
/** Run from the repository root (npm scripts do), where scripts/images.sh lives. */
const repoRoot = process.cwd();

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function probe(port: number): Promise<boolean> {
  try {
    const res = await request(`http://localhost:${port}/health`, { headersTimeout: 1000, bodyTimeout: 1000 });
    await res.body.text();
    return res.statusCode === 200;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rawDockerRun(): Promise<number> {
  const started = performance.now();
  const id = execFileSync('docker', ['run', '-d', '-p', '127.0.0.1::8000', IMAGE], { encoding: 'utf8' }).trim();
  try {
    const mapping = execFileSync('docker', ['port', id, '8000/tcp'], { encoding: 'utf8' }).trim().split('\n')[0]!;
    const port = Number(mapping.split(':').at(-1));
    while (!(await probe(port))) await sleep(PROBE_INTERVAL_MS);
    await probe(port);
    return performance.now() - started;
  } finally {
    execFileSync('docker', ['rm', '-f', id], { stdio: 'ignore' });
  }
}

async function main(): Promise<void> {
  execFileSync('bash', [join(repoRoot, 'scripts', 'images.sh'), 'httpd'], { stdio: 'inherit' });
  const waiters = new Map<string, { state: string; resolve: () => void }>();
  const leader = Fastify();
  leader.get('/apis/v1/ping', async () => ({ status: 'SUCCESS', data: 'pong', message: 'success' }));
  leader.get('/apis/v1/internal/cluster/resources/reserved', async () => ({ status: 'SUCCESS', data: { cpus: 0, memory: 0, requiredInstances: {} }, message: 'success' }));
  leader.post('/apis/v1/messages', async (req) => {
    const m = req.body as ControllerMessage;
    const infos: LocalServiceInstanceInfo[] =
      m.type === 'LOCAL_SERVICE_INSTANCE_STATE_REPORT' ? [m.instanceInfo] : m.type === 'LOCAL_SERVICE_INSTANCE_STATE_REPORTS' ? m.instanceInfos : [];
    for (const info of infos) {
      const w = waiters.get(info.instanceId);
      if (w && w.state === info.state) w.resolve();
    }
    return { header: m.header, status: 'ACCEPTED' };
  });
  const leaderUrl = await leader.listen({ host: '127.0.0.1', port: 0 });
  const root = mkdtempSync(join(tmpdir(), 'bench-executor-'));
  const executor = await startExecutor(
    parseExecutorConfig({
      server: { host: '127.0.0.1', port: 0, hostname: 'localhost' },
      controllers: [leaderUrl],
      clusterAuth: { secrets: [{ nodeType: 'CONTROLLER', secret: CONTROLLER_SECRET }, { nodeType: 'EXECUTOR', secret: SECRET }] },
      logDir: join(root, 'logs'),
      dataDir: join(root, 'data'),
      resources: { overProvisioning: { enabled: true, cpuMultiplier: 8, memoryMultiplier: 1 } },
      options: { containerStopGracePeriod: '1 second' },
    }),
    { logger: pino({ level: 'error' }) },
  );
  const port = Number(new URL(executor.url).port);
  const check = (path: string) => ({
    mode: { type: 'HTTP' as const, protocol: 'HTTP' as const, portName: 'main', path, verb: 'GET' as const, successCodes: [200] },
    timeout: '1 second',
    interval: `${PROBE_INTERVAL_MS} milliseconds`,
    attempts: 100,
    initialDelay: '0 seconds',
  });
  const until = (instanceId: string, state: string) =>
    new Promise<void>((resolve) => waiters.set(instanceId, { state, resolve }));
  const send = async (body: unknown) => {
    const res = await request(`${executor.url}/apis/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'Cluster-Authorization': CONTROLLER_SECRET },
      body: JSON.stringify(body),
    });
    return (await res.body.json()) as { status: string; message?: string };
  };
  const header = () => ({ id: `b-${Math.random()}`, senderType: 'CONTROLLER', direction: 'REQUEST', messageTime: Date.now() });
  const address = { executorId: executor.executorId, hostname: 'localhost', port, transportType: 'HTTP' };

  const executorTimes: number[] = [];
  const rawTimes: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const spec: LocalServiceInstanceSpec = {
      serviceId: 'BENCH-1', serviceName: 'BENCH', instanceId: `SI-bench-${Date.now()}-${i}`,
      executable: { type: 'DOCKER', url: IMAGE, dockerPullTimeout: '30 seconds' },
      resources: [{ type: 'CPU', cores: { '0': [i % 16] } }, { type: 'MEMORY', memoryInMB: { '0': 32 } }],
      ports: [{ name: 'main', port: 8000, type: 'HTTP' }], hostLevelInstance: false,
      healthcheck: check('/health'), readiness: check('/health'),
    };
    const healthy = until(spec.instanceId, 'HEALTHY');
    const started = performance.now();
    const answer = await send({ type: 'START_LOCAL_SERVICE_INSTANCE', header: header(), address, spec });
    if (answer.status !== 'ACCEPTED') throw new Error(`start refused: ${answer.message}`);
    await healthy;
    executorTimes.push(performance.now() - started);
    const stopped = until(spec.instanceId, 'STOPPED');
    await send({ type: 'STOP_LOCAL_SERVICE_INSTANCE', header: header(), address, instanceId: spec.instanceId });
    await stopped;
    rawTimes.push(await rawDockerRun());
  }
  await executor.stop();
  await leader.close();
  const fmt = (v: number[]) => `median ${median(v).toFixed(0)} ms (min ${Math.min(...v).toFixed(0)}, max ${Math.max(...v).toFixed(0)})`;
  console.log(`executor START -> HEALTHY, ${RUNS} runs: ${fmt(executorTimes)}`);
  console.log(`raw docker run + probe loop, ${RUNS} runs: ${fmt(rawTimes)}`);
  console.log(`probe interval ${PROBE_INTERVAL_MS} ms in both; the executor also tries a registry pull first (offline here).`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
