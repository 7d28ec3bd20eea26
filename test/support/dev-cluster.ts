import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { mainJs } from '../../scripts/prepare.mjs';
import { executorIdOf } from '../../src/model/ids.js';
import { ensureBinaryBuilt, scratchDir } from './e2e-cluster.js';
import { freePort } from './etcd-cluster.js';
import { repoRoot } from './images.js';
import { waitUntil } from './wait.js';

/**
 * A real `drove dev` (controller + executor on the machine's dockerd) as a separate process, for the tests that
 * drive it from outside: the web console's browser tests and the CLI's end-to-end tests.
 */

/** `drove dev`'s admin user (admin:admin), as an Authorization header. */
export const DEV_ADMIN = `Basic ${Buffer.from('admin:admin').toString('base64')}`;

export interface DevCluster {
  url: string;
  executorId: string;
  executorPort: number;
  /** Its `--data-dir` (the store, drove.log, the executor's logs), removed by stop(). */
  dataDir: string;
  /** The running `drove dev` (another process after a restart). */
  readonly child: ChildProcess;
  output(): string;
  /** Ends `drove dev` (SIGTERM) and starts it again on the same ports and data directory; resolves as startDev. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts of `drove dev` on fresh ports before giving up: a port found free can be taken by another process before
 * drove dev binds it (the machine runs other test files and other work at once; seen once in ten paired runs).
 */
const DEV_START_ATTEMPTS = 3;

/**
 * `drove dev` from the built binary on free ports with its own data directory; resolves once its executor is
 * ACTIVE. `port` fixes the controller's port (no second attempt then: the caller needs that port); `args` are
 * more flags of `drove dev`.
 */
export async function startDev(options: { pickPort?: () => Promise<number>; port?: number; args?: string[] } = {}): Promise<DevCluster> {
  const pickPort = options.pickPort ?? freePort;
  await ensureBinaryBuilt();
  const dir = scratchDir('drove-dev-');
  const dataDir = join(dir, 'data');
  let log = '';
  const append = (chunk: Buffer) => (log = (log + chunk.toString()).slice(-50_000));
  let args: string[] = [];
  const spawnDev = () => {
    const started = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    started.stdout!.on('data', append);
    started.stderr!.on('data', append);
    return started;
  };
  let child: ChildProcess;
  let url = '';
  /** 'up' once its executor is ACTIVE, 'exited' when the process ended first. */
  const ready = () =>
    waitUntil(
      'drove dev with an ACTIVE executor',
      async () => {
        if (child.exitCode !== null) return 'exited' as const;
        // Bounded: what holds the port may be no HTTP server at all (another process took it first).
        const res = await fetch(`${url}/apis/v1/cluster/executors`, { headers: { authorization: DEV_ADMIN }, signal: AbortSignal.timeout(2_000) });
        const body = (await res.json()) as { data?: Array<{ state: string }> };
        return body.data?.some((e) => e.state === 'ACTIVE') && ('up' as const);
      },
      { timeoutMs: 60_000, detail: () => log },
    );
  const up = async () => {
    if ((await ready()) === 'exited') throw new Error(`drove dev exited (${child.exitCode}): ${log}`);
  };
  let executorPort = 0;
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await pickPort());
    executorPort = await pickPort();
    args = [mainJs, 'dev', '--host', '127.0.0.1', '--port', String(port), '--executor-port', String(executorPort), '--data-dir', dataDir, ...(options.args ?? [])];
    url = `http://127.0.0.1:${port}`;
    child = spawnDev();
    if ((await ready()) === 'up') break;
    if (attempt === DEV_START_ATTEMPTS || options.port !== undefined || !log.includes('is already in use')) throw new Error(`drove dev exited (${child.exitCode}): ${log}`);
    log += `\n(ports taken meanwhile; starting again on others)\n`;
  }
  const executorId = executorIdOf('127.0.0.1', executorPort);
  const end = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  };
  return {
    url,
    executorId,
    executorPort,
    dataDir,
    get child() {
      return child;
    },
    output: () => log,
    async restart() {
      await end();
      child = spawnDev();
      await up();
    },
    async stop() {
      await end();
      removeContainers(executorId);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Drove's envelope as `drove dev`'s API answers. */
export interface DevApiAnswer<Data> {
  status: string;
  data?: Data;
  message: string;
}

/** A call to `drove dev`'s API as its admin, with a JSON body when there is one. */
export async function devApi<Data = unknown>(dev: DevCluster, method: 'GET' | 'POST', path: string, body?: unknown): Promise<DevApiAnswer<Data>> {
  const res = await fetch(`${dev.url}${path}`, {
    method,
    headers: { authorization: DEV_ADMIN, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return (await res.json()) as DevApiAnswer<Data>;
}

function removeContainers(executorId: string): void {
  const ids = spawnSync('docker', ['ps', '-aq', '--filter', `label=drove.executor.id=${executorId}`], { encoding: 'utf8' });
  const list = ids.stdout.split('\n').filter(Boolean);
  if (list.length > 0) spawnSync('docker', ['rm', '-f', '-v', ...list], { encoding: 'utf8' });
}
