import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildControllerApp } from '../../src/controller/api/app.js';
import { WIDTHS, launchChromium } from '../support/browser.js';
import { testConfig } from '../support/controller-config.js';
import { ensureBinaryBuilt } from '../support/e2e-cluster.js';
import { FakeCore } from '../support/fake-core.js';
import { instanceInfo, nodeData } from '../support/records.js';
import { testSpec } from '../support/specs.js';
import { waitUntil } from '../support/wait.js';

/**
 * The console at fleet scale: a controller API over seeded records of 5,000 executors and 20,000 instances (four
 * services on every host). The cluster and fleet pages render their first screen (one page of 50 executors,
 * chosen and sorted by the controller); the time from navigation to that screen is printed, a figure and not an
 * assertion (docs/console.md).
 */

const EXECUTORS = 5_000;
const SERVICES = ['AGENT_A-1', 'AGENT_B-1', 'AGENT_C-1', 'AGENT_D-1'];

describe('the console with 5,000 executors and 20,000 instances', () => {
  let app: FastifyInstance;
  let url: string;
  let browser: Browser;
  let page: Page;
  let core: FakeCore;
  const trouble: string[] = [];

  beforeAll(async () => {
    await ensureBinaryBuilt();
    core = new FakeCore();
    for (const serviceId of SERVICES) {
      const [name, version] = serviceId.split('-') as [string, string];
      core.services.set(serviceId, {
        info: { serviceId, spec: testSpec({ name, version }), instancesPerHost: 1, activationState: 'ACTIVE', created: 1, updated: 1 },
        state: 'ACTIVE',
      });
    }
    for (let i = 0; i < EXECUTORS; i++) {
      const data = nodeData({ hostname: `node-${String(i).padStart(4, '0')}.dc1`, port: 3000 });
      core.executors.set(data.state.executorId, data);
      for (const serviceId of SERVICES) core.instances.push(instanceInfo({ serviceId, executorId: data.state.executorId, created: 1_700_000_000_000 }));
    }
    app = buildControllerApp({ core, config: testConfig() });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: WIDTHS.desktop });
    // What the page met on its way (the fleet screen once did not appear in CI under load, not reproduced since):
    // a first screen that does not come says which requests failed and what the page showed instead.
    page.on('requestfailed', (request) => trouble.push(`${request.method()} ${request.url()} failed: ${request.failure()?.errorText}`));
    page.on('response', (response) => {
      if (response.status() >= 400) trouble.push(`${response.request().method()} ${response.url()} answered ${response.status()}`);
    });
    page.on('console', (message) => {
      if (message.type() === 'error') trouble.push(`console error: ${message.text()}`);
    });
    page.on('crash', () => trouble.push('the page crashed'));
    await page.goto(`${url}/login`);
    await page.getByLabel('User name').fill('guest');
    await page.getByLabel('Password').fill('guest');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByTestId('user-name').waitFor();
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  /** Navigation to the 50th rendered row: a full page load (`load`), or a click on a link inside the console (`link`). */
  const firstScreen = async (path: string, rows: string, how: 'load' | 'link') => {
    let started = Date.now();
    if (how === 'load') {
      await page.goto(`${url}${path}`);
    } else {
      await page.goto(`${url}/events`);
      await page.getByRole('heading', { name: 'Events', level: 1 }).waitFor();
      started = Date.now();
      await page.evaluate((to) => {
        const link = document.createElement('a');
        link.href = to;
        document.body.append(link);
        link.click();
      }, path);
    }
    try {
      await page.locator(rows).nth(49).waitFor({ timeout: 30_000 });
    } catch (error) {
      const shown = await page.locator('main').innerText({ timeout: 1_000 }).catch((e: unknown) => `(unreadable: ${String(e)})`);
      throw new Error(`${String(error)}\nat ${page.url()} (${how}) the page showed: ${shown.slice(0, 500)}\nrequests and errors: ${trouble.join('; ') || 'none'}`);
    }
    return Date.now() - started;
  };

  const measure = async (path: string, rows: string) => {
    const load = await firstScreen(path, rows, 'load');
    const link = await firstScreen(path, rows, 'link');
    return `page load ${load} ms, link inside the console ${link} ms`;
  };

  it('the cluster page shows its first 50 executors of 5,000, sorted by the controller', async () => {
    process.stdout.write(`5,000 executors: /cluster first screen (50 rows): ${await measure('/cluster', '[data-testid="executors"] tbody tr')}\n`);
    expect(await page.getByRole('navigation', { name: 'Pages' }).textContent()).toContain('1-50 of 5000');
    const hosts = await page.locator('[data-testid="executors"] tbody th a').allTextContents();
    expect(hosts.slice(0, 2)).toEqual(['node-0000.dc1:3000', 'node-0001.dc1:3000']);
    // Sorting by host, descending, is the controller's work: the last host of all 5,000 comes first.
    await page.getByRole('button', { name: /^Host/ }).click();
    await waitUntil('the descending order', async () => (await page.locator('[data-testid="executors"] tbody th a').first().textContent()) === 'node-4999.dc1:3000');
    await page.getByRole('button', { name: 'Next' }).click();
    await waitUntil('the second page', async () => ((await page.getByRole('navigation', { name: 'Pages' }).textContent()) ?? '').includes('51-100 of 5000'));
  });

  it('the fleet grid shows its first screen: 50 executors x 4 services, every cell with its state', async () => {
    process.stdout.write(`5,000 executors, 20,000 instances: /fleet first screen (50 x 4 cells): ${await measure('/fleet', 'table.fleet tbody tr')}\n`);
    expect(await page.locator('table.fleet tbody td[data-cell="AGENT_C-1"]').first().textContent()).toBe('1 HEALTHY');
    expect(await page.getByTestId('rollout-progress').first().textContent()).toContain('5000/5000 hosts');
  });

  it('the search box finds one executor among 5,000', async () => {
    await page.getByLabel('Search services, executors and instance ids').fill('node-4321');
    await page.getByRole('list', { name: 'Search results' }).getByText('executor on node-4321.dc1:3000, ACTIVE').waitFor();
  });

  it('a maintenance user blacklists an executor and starts maintenance, each after its confirmation', async () => {
    const maint = await browser.newPage({ viewport: WIDTHS.desktop });
    await maint.goto(`${url}/cluster`);
    await maint.getByLabel('User name').fill('maint');
    await maint.getByLabel('Password').fill('maint');
    await maint.getByRole('button', { name: 'Log in' }).click();
    const first = maint.locator('[data-testid="executors"] tbody tr').first();
    const executorId = (await first.getAttribute('data-executor'))!;
    await first.getByRole('button', { name: 'Blacklist' }).click();
    const dialog = maint.locator('dialog.confirm');
    expect(await dialog.getByTestId('confirm-payload').textContent()).toBe(`POST /apis/v1/cluster/executors/blacklist?id=${executorId}`);
    expect(await dialog.getByTestId('confirm-cli').textContent()).toBe(`drove -e ${url} -u maint -p <password> executor blacklist ${executorId}`);
    await dialog.getByRole('button', { name: 'Blacklist' }).click();
    await dialog.waitFor({ state: 'detached' });

    await maint.getByRole('button', { name: 'Start maintenance' }).click();
    expect(await dialog.getByTestId('confirm-cli').textContent()).toContain('cluster maintenance-on');
    await dialog.getByRole('button', { name: 'Start maintenance' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(core.maintenance).toBe(true);
    await waitUntil('MAINTENANCE on the page', async () => (await maint.locator('.facts .badge').first().textContent()) === 'MAINTENANCE');
    await maint.getByRole('button', { name: 'End maintenance' }).waitFor();
    // A maintenance user may not run local-service operations: the services page offers none.
    await maint.goto(`${url}/localservices`);
    await maint.getByRole('heading', { name: 'Local services', level: 1 }).waitFor();
    expect(await maint.getByRole('button', { name: 'Create local service' }).count()).toBe(0);
    await maint.close();
  });
});
