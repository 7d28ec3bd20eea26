import { spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { WIDTHS, launchChromium, runningContainers, screenshot } from '../support/browser.js';
import { devApi, startDev, type DevCluster } from '../support/dev-cluster.js';
import { ensureTestImage } from '../support/images.js';
import { fastSpec } from '../support/specs.js';
import { waitUntil } from '../support/wait.js';

/**
 * The console for a user who may only read, the live log tail, keyboard use, the layout at 1280 and 390 px
 * (with the screenshots of the main pages), against a real `drove dev` running one service on real Docker.
 */

const SERVICE = 'UI_VIEWS-1';
// Small log files, so that the tail test can make the executor rotate output.log.
const spec = fastSpec('node-agent.json', { name: 'UI_VIEWS', version: '1', logging: { type: 'LOCAL', maxSize: '4k', maxFiles: 3, compress: false } });

/** Every control that changes something, by its visible name: none may show for a read-only user. */
const WRITE_CONTROLS = /^(Create local service|Config test|Activate|Deactivate|Destroy|Update count|Restart|Cancel operation|Replace|Kill|Blacklist|Unblacklist|Start maintenance|End maintenance)$/;

describe('web console views', () => {
  let dev: DevCluster;
  let browser: Browser;
  let instanceId: string;
  const pageErrors: string[] = [];

  const api = (method: 'GET' | 'POST', path: string, body?: unknown) => devApi<any>(dev, method, path, body);

  const newPage = async (viewport: { width: number; height: number } = WIDTHS.desktop): Promise<Page> => {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    return page;
  };

  const login = async (page: Page, user: string, password: string, path = '/') => {
    await page.goto(`${dev.url}${path}`);
    await page.getByLabel('User name').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByTestId('user-name').waitFor();
  };

  /** The page has its data: no "Loading ..." left (no network idleness to wait for: the event stream stays open). */
  const settled = (page: Page) =>
    waitUntil('the page to load its data', async () => (await page.getByRole('status').filter({ hasText: /^Loading/ }).count()) === 0 && (await page.locator('h1').count()) > 0);

  beforeAll(async () => {
    ensureTestImage();
    dev = await startDev();
    browser = await launchChromium();
    // The service is set up through the API: these tests are about what the console shows.
    expect((await api('POST', '/apis/v1/localservices/operations', { type: 'CREATE', spec, instancesPerHost: 1 })).status).toBe('SUCCESS');
    expect((await api('POST', '/apis/v1/localservices/operations', { type: 'ACTIVATE', serviceId: SERVICE })).status).toBe('SUCCESS');
    const instance = await waitUntil('a HEALTHY instance', async () => {
      const list = (await api('GET', `/apis/v1/localservices/${SERVICE}/instances`)).data as any[];
      return list.find((i) => i.state === 'HEALTHY');
    });
    instanceId = instance.instanceId;
  });

  afterEach((test) => {
    if (test.task.result?.state === 'fail') process.stderr.write(`----- drove dev\n${dev?.output()}\n----- page errors\n${pageErrors.join('\n')}\n`);
  });

  afterAll(async () => {
    await browser?.close();
    await dev?.stop();
  });

  it('a read-only user sees no write control on any page, and the API refuses the write anyway', async () => {
    const page = await newPage();
    await login(page, 'guest', 'guest', '/localservices');
    const pages = ['/localservices', `/localservices/${SERVICE}`, `/localservices/${SERVICE}/instances/${instanceId}`, '/cluster', `/executors/${dev.executorId}`, '/fleet', '/events', '/'];
    for (const path of pages) {
      await page.goto(`${dev.url}${path}`);
      await page.getByTestId('user-name').waitFor();
      await settled(page);
      const buttons = await page.getByRole('button').allTextContents();
      expect(buttons.filter((b) => WRITE_CONTROLS.test(b.trim())), path).toEqual([]);
      expect(await page.getByRole('toolbar', { name: 'Operations' }).count(), path).toBe(0);
    }
    // The same request an admin's confirmation would send, from the read-only user's page: refused.
    const status = await page.evaluate(async (serviceId) => {
      const authorization = sessionStorage.getItem('drove.console.authorization')!;
      const res = await fetch('/apis/v1/localservices/operations', {
        method: 'POST',
        credentials: 'omit',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'DEACTIVATE', serviceId }),
      });
      return res.status;
    }, SERVICE);
    expect(status).toBe(403);
    // Logging out forgets the credentials: the next page asks for them again.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('User name').waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('drove.console.authorization'))).toBeNull();
    await page.context().close();
  });

  it('the log tail shows lines the container writes after the page opened, across a rotation', async () => {
    const page = await newPage();
    await login(page, 'admin', 'admin', `/localservices/${SERVICE}/instances/${instanceId}`);
    await page.getByRole('link', { name: 'Tail' }).first().click();
    await page.getByRole('heading', { name: 'Log output.log' }).waitFor();
    // The container's first line: the executor's copy has it since its attach comes before the container's start.
    let tail = '';
    let listed = '';
    await waitUntil(
      'the tail to show the existing lines',
      async () => {
        tail = (await page.getByTestId('log-tail').textContent()) ?? '';
        listed = JSON.stringify((await api('GET', `/apis/v1/logfiles/localservices/${SERVICE}/${instanceId}/list`)) as unknown);
        return tail.includes('starting httpd');
      },
      { detail: () => `tail shown: ${JSON.stringify(tail.slice(-500))}; files: ${listed}` },
    );
    // A line the container's main process writes now, after the page opened (its stdout is the log).
    const marker = `ui-tail-marker-${Date.now()}`;
    const [container] = runningContainers(dev.executorId, SERVICE);
    const exec = spawnSync('docker', ['exec', container!.name, 'sh', '-c', `echo ${marker} > /proc/1/fd/1`], { encoding: 'utf8' });
    expect(exec.status, exec.stderr).toBe(0);
    await waitUntil('the marker in the tail', async () => ((await page.getByTestId('log-tail').textContent()) ?? '').includes(marker), { timeoutMs: 20_000 });

    // More than maxSize (4k) at once: the executor renames output.log and starts a new one; the tail follows it.
    const after = `after-rotation-${Date.now()}`;
    const filler = `for i in $(seq 1 120); do echo filler-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done > /proc/1/fd/1; echo ${after} > /proc/1/fd/1`;
    const rotate = spawnSync('docker', ['exec', container!.name, 'sh', '-c', filler], { encoding: 'utf8' });
    expect(rotate.status, rotate.stderr).toBe(0);
    let shown = '';
    let files = '';
    await waitUntil('the line written after the rotation', async () => {
      shown = (await page.getByTestId('log-tail').textContent()) ?? '';
      files = JSON.stringify((await api('GET', `/apis/v1/logfiles/localservices/${SERVICE}/${instanceId}/list`)) as unknown);
      return shown.includes('output.log was rotated') && shown.includes(after);
    }, { timeoutMs: 20_000, detail: () => `log files: ${files}\nthe tail's last 1,500 characters:\n${shown.slice(-1_500)}` });
    await page.context().close();
  });

  it('works with the keyboard: skip link, search box, dialogs that Escape closes', async () => {
    const page = await newPage();
    await login(page, 'admin', 'admin', '/cluster');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.getByLabel('Search services, executors and instance ids').focus();
    await page.keyboard.type('UI_VIEWS');
    await page.getByRole('list', { name: 'Search results' }).getByText(SERVICE).waitFor();
    await page.keyboard.press('Enter');
    await page.waitForURL(`${dev.url}/localservices/${SERVICE}`);
    await page.getByRole('toolbar', { name: 'Operations' }).getByRole('button', { name: 'Restart' }).focus();
    await page.keyboard.press('Enter');
    await page.locator('dialog.confirm').waitFor();
    await page.keyboard.press('Escape');
    await page.locator('dialog.confirm').waitFor({ state: 'detached' });
    await page.context().close();
  });

  it('the main pages at 1280 and 390 px: nothing wider than the screen, screenshots saved', async () => {
    const pages: Array<[string, string]> = [
      ['dashboard', '/'],
      ['services', '/localservices'],
      ['service', `/localservices/${SERVICE}`],
      ['instance', `/localservices/${SERVICE}/instances/${instanceId}`],
      ['cluster', '/cluster'],
      ['executor', `/executors/${dev.executorId}`],
      ['fleet', '/fleet'],
      ['events', '/events'],
    ];
    const saved: string[] = [];
    for (const viewport of [WIDTHS.desktop, WIDTHS.phone]) {
      const page = await newPage(viewport);
      await page.goto(`${dev.url}/login`);
      await page.getByLabel('User name').waitFor();
      saved.push(await screenshot(page, 'login'));
      await login(page, 'admin', 'admin', '/');
      for (const [name, path] of pages) {
        await page.goto(`${dev.url}${path}`);
        await page.getByTestId('user-name').waitFor();
        await settled(page);
        // Tables may scroll inside their frame; the page itself never scrolls sideways.
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        expect(overflow, `${name} at ${viewport.width} px`).toBeLessThanOrEqual(0);
        saved.push(await screenshot(page, name));
      }
      await page.context().close();
    }
    process.stdout.write(`screenshots:\n${saved.map((p) => `  ${p}`).join('\n')}\n`);
    expect(pageErrors).toEqual([]);
  });
});
