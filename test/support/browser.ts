import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { chromiumPath, mainJs } from '../../scripts/prepare.mjs';
import { success } from '../../src/model/index.js';
import { executorIdOf } from '../../src/model/ids.js';
import { ensureBinaryBuilt, scratchDir } from './e2e-cluster.js';
import { freePort } from './etcd-cluster.js';
import { repoRoot } from './images.js';
import { waitUntil } from './wait.js';

/**
 * What the web console's browser tests (test/browser) drive: Debian's Chromium through playwright-core (never a
 * downloaded browser), and a real `drove dev` (controller + executor on the machine's dockerd) on free ports.
 */

/** Where the tests leave their screenshots (gitignored); the README's picture is copied from here into docs/. */
export const SCREENSHOT_DIR = join(repoRoot, '.screenshots');

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // Root in CI has no user namespace sandbox to give; no background traffic to Google's services either.
    args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
}

export const WIDTHS = { desktop: { width: 1280, height: 900 }, phone: { width: 390, height: 844 } } as const;

/** A full-page screenshot at `width`, named after the page; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}-${page.viewportSize()?.width ?? 0}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * Makes a stub controller serve the built console (dist/ui): its assets, its page at `pagePath` (a fastify route
 * path), and who the user is: the default user of a cluster without authentication, allowed everything.
 */
export async function serveConsole(app: FastifyInstance, pagePath: string): Promise<void> {
  const dist = join(repoRoot, 'dist', 'ui');
  await app.register(fastifyStatic, { root: join(dist, 'assets'), prefix: '/assets/', index: false });
  app.get(pagePath, async (_request, reply) => reply.type('text/html').sendFile('index.html', dist));
  app.get('/apis/v1/console/whoami', async () =>
    success({
      name: 'default-user',
      role: 'EXTERNAL_ROOT',
      authEnabled: false,
      permissions: { write: true, maintenance: true, logs: true },
      view: { installation: { label: 'stub', criticality: 'LOCAL' }, links: {} },
      version: 'test',
    }),
  );
}

export interface DevCluster {
  url: string;
  executorId: string;
  /** The running `drove dev` (another process after a restart). */
  readonly child: ChildProcess;
  output(): string;
  /** Ends `drove dev` (SIGTERM) and starts it again on the same ports and data directory; resolves as startDev. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** `drove dev`'s admin user (admin:admin), as an Authorization header. */
export const DEV_ADMIN = `Basic ${Buffer.from('admin:admin').toString('base64')}`;

/**
 * Starts of `drove dev` on fresh ports before giving up: a port found free can be taken by another process before
 * drove dev binds it (the machine runs other test files and other work at once; seen once in ten paired runs).
 */
const DEV_START_ATTEMPTS = 3;

/** `drove dev` from the built binary on free ports with its own data directory; resolves once its executor is ACTIVE. */
export async function startDev(options: { pickPort?: () => Promise<number> } = {}): Promise<DevCluster> {
  const pickPort = options.pickPort ?? freePort;
  await ensureBinaryBuilt();
  const dir = scratchDir('drove-ui-');
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
    const port = await pickPort();
    executorPort = await pickPort();
    args = [mainJs, 'dev', '--host', '127.0.0.1', '--port', String(port), '--executor-port', String(executorPort), '--data-dir', join(dir, 'data')];
    url = `http://127.0.0.1:${port}`;
    child = spawnDev();
    if ((await ready()) === 'up') break;
    if (attempt === DEV_START_ATTEMPTS || !log.includes('is already in use')) throw new Error(`drove dev exited (${child.exitCode}): ${log}`);
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

export interface RunningContainer {
  name: string;
  instanceId: string;
}

/** What `docker ps` says runs for one executor and service (running containers only). */
export function runningContainers(executorId: string, serviceId: string): RunningContainer[] {
  const ps = spawnSync(
    'docker',
    ['ps', '--filter', `label=drove.executor.id=${executorId}`, '--format', '{{.Names}} {{.Label "drove.instance.id"}}'],
    { encoding: 'utf8' },
  );
  if (ps.status !== 0) throw new Error(`docker ps failed: ${ps.stderr}`);
  return ps.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name, instanceId] = line.split(' ');
      return { name: name!, instanceId: instanceId! };
    })
    .filter((c) => c.name.startsWith(`${serviceId}-`))
    .sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
}

function removeContainers(executorId: string): void {
  const ids = spawnSync('docker', ['ps', '-aq', '--filter', `label=drove.executor.id=${executorId}`], { encoding: 'utf8' });
  const list = ids.stdout.split('\n').filter(Boolean);
  if (list.length > 0) spawnSync('docker', ['rm', '-f', '-v', ...list], { encoding: 'utf8' });
}
