import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { chromiumPath } from '../../scripts/prepare.mjs';
import { success } from '../../src/model/index.js';
import { repoRoot } from './images.js';

/**
 * What the web console's browser tests (test/browser) drive: Debian's Chromium through playwright-core (never a
 * downloaded browser), the built console behind stub controllers, and a real `drove dev` (dev-cluster.ts).
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
