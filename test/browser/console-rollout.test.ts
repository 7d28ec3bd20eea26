import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { WIDTHS, launchChromium, runningContainers } from '../support/browser.js';
import { startDev, type DevCluster } from '../support/dev-cluster.js';
import { ensureTestImage } from '../support/images.js';
import { fastSpec } from '../support/specs.js';
import { waitUntil } from '../support/wait.js';

/**
 * The seed rollout done only through the web console, in Chromium, against a real `drove dev` with real Docker:
 * create (a rejected spec first, its error beside the field), conftest, activate, update to 2, restart
 * stop-first, kill one instance, deactivate, destroy. Each step checks what a person sees on the page and that
 * `docker ps` agrees. Then: a read-only user sees no write control; the log tail shows lines written after it
 * opened; screenshots of the main pages at 1280 and 390 px.
 */

const SERVICE = 'UI_AGENT-1';
const spec = fastSpec('node-agent.json', { name: 'UI_AGENT', version: '1' });

describe('the web console drives the seed rollout', () => {
  let dev: DevCluster;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    ensureTestImage();
    dev = await startDev();
    browser = await launchChromium();
    context = await browser.newContext({ viewport: WIDTHS.desktop });
    page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });

  afterEach((test) => {
    if (test.task.result?.state === 'fail') process.stderr.write(`----- drove dev\n${dev?.output()}\n----- page errors\n${pageErrors.join('\n')}\n`);
  });

  afterAll(async () => {
    await browser?.close();
    await dev?.stop();
  });

  /**
   * Polls what the page shows until `check` holds (the console updates from events, not on a timer). Every check of
   * the page waits: a page load reads several API routes one after another, so a change landing between two of them
   * shows in part (the instances table ahead of the summary) until the next load, which the change's own event
   * brings a moment later. Seen on the real event stream, which delivers events as they happen.
   */
  const sees = <T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000) =>
    waitUntil(what, check, { timeoutMs, detail: () => dev.output().slice(-3000) });

  const headingState = () => page.locator('h1 .badge').first().textContent();
  const instanceRows = async () =>
    page.locator('[data-testid="instances"] tbody tr[data-instance]').evaluateAll((rows) =>
      rows.map((row) => ({ id: row.getAttribute('data-instance')!, state: row.querySelector('.badge')?.textContent ?? '' })),
    );
  const healthyIds = async () => (await instanceRows()).filter((r) => r.state === 'HEALTHY').map((r) => r.id).sort();
  const running = () => runningContainers(dev.executorId, SERVICE).map((c) => c.instanceId);
  const confirm = async (expectInPayload: string[]) => {
    const dialog = page.locator('dialog.confirm');
    await dialog.waitFor();
    const payload = await dialog.getByTestId('confirm-payload').textContent();
    for (const text of expectInPayload) expect(payload).toContain(text);
    const cli = await dialog.getByTestId('confirm-cli').textContent();
    expect(cli).toContain(`drove -e ${dev.url}`);
    await dialog.locator('button[type="submit"]').click();
    await dialog.waitFor({ state: 'detached' });
    return cli!;
  };
  const operation = (name: string) => page.getByRole('toolbar', { name: 'Operations' }).getByRole('button', { name, exact: true });

  it('logs in with the form', async () => {
    await page.goto(`${dev.url}/localservices`);
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel('Password').fill('wrong');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('Wrong user name or password').waitFor();
    await page.getByLabel('Password').fill('admin');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Local services', level: 1 }).waitFor();
    expect(await page.getByTestId('user-name').textContent()).toContain('admin');
  });

  it('create: a rejected spec shows its error beside the field; the fixed one is created INACTIVE', async () => {
    await page.getByRole('button', { name: 'Create local service' }).click();
    const rejected = { ...spec, placementPolicy: { type: 'ANY' } };
    await page.getByLabel('Spec (JSON or YAML)').fill(JSON.stringify(rejected, null, 2));
    await page.getByRole('button', { name: 'Check spec' }).click();
    await page.getByTestId('spec-rejected').waitFor();
    expect(await page.getByTestId('field-error-placementPolicy').textContent()).toBe('Only local placement is allowed for local services');
    expect(await page.getByTestId('field-error-name').textContent()).toBe('');

    await page.getByLabel('Spec (JSON or YAML)').fill(JSON.stringify(spec, null, 2));
    await page.getByRole('button', { name: 'Check spec' }).click();
    await page.getByTestId('spec-valid').waitFor();
    await page.getByRole('button', { name: 'Create…' }).click();
    const cli = await confirm(['"type": "CREATE"', '"name": "UI_AGENT"', '"instancesPerHost": 1']);
    expect(cli).toContain('localservices create spec.json --instances 1');
    await page.waitForURL(`${dev.url}/localservices/${SERVICE}`);
    await sees('the service INACTIVE', async () => (await headingState()) === 'INACTIVE');
    expect(running()).toEqual([]);
  });

  it('conftest: one test instance, HEALTHY on the page and running in docker', async () => {
    await operation('Config test').click();
    await confirm(['"type": "DEPLOY_TEST_INSTANCE"']);
    const ids = await sees('a HEALTHY test instance', async () => {
      const healthy = await healthyIds();
      return (await headingState()) === 'CONFIG_TESTING' && healthy.length === 1 && healthy;
    });
    expect(running()).toEqual(ids);
  });

  it('activate: ACTIVE with one instance per host, the grid cell and the progress say so', async () => {
    await operation('Activate').click();
    await confirm(['"type": "ACTIVATE"']);
    const ids = await sees('ACTIVE with one HEALTHY instance', async () => {
      const healthy = await healthyIds();
      return (await headingState()) === 'ACTIVE' && healthy.length === 1 && (await instanceRows()).length === 1 && healthy;
    });
    await sees('the grid cell', async () => (await page.locator(`td[data-cell="${SERVICE}"]`).textContent()) === '1 HEALTHY');
    await sees('the rollout progress', async () => (await page.getByTestId('rollout-progress').textContent())?.includes('1/1 hosts'));
    expect(running()).toEqual(ids);
  });

  it('update to 2: two HEALTHY instances on the host', async () => {
    await operation('Update count').click();
    await page.locator('dialog.confirm').getByLabel('Instances per host').fill('2');
    const cli = await confirm(['"type": "UPDATE_INSTANCE_COUNT"', '"instancesPerHost": 2']);
    expect(cli).toContain(`localservices update ${SERVICE} 2`);
    const ids = await sees('two HEALTHY instances', async () => {
      const healthy = await healthyIds();
      return (await page.getByTestId('instances-per-host').textContent()) === '2' && healthy.length === 2 && (await instanceRows()).length === 2 && healthy;
    });
    await sees('the grid cell', async () => (await page.locator(`td[data-cell="${SERVICE}"]`).textContent()) === '2 HEALTHY');
    await sees('the healthy count', async () => (await page.getByTestId('healthy-instances').textContent()) === '2');
    expect(running()).toEqual(ids);
  });

  let beforeRestart: string[] = [];
  it('restart stop-first: both instances replaced by new HEALTHY ones, the old ones STOPPED', async () => {
    beforeRestart = await healthyIds();
    await operation('Restart').click();
    await page.locator('dialog.confirm').getByLabel(/Stop first/).check();
    const cli = await confirm(['"type": "RESTART"', '"stopFirst": true']);
    expect(cli).toContain(`localservices restart ${SERVICE} --stop --parallelism 1 --timeout 5m`);
    const ids = await sees(
      'two new HEALTHY instances',
      async () => {
        const healthy = await healthyIds();
        const fresh = healthy.filter((id) => !beforeRestart.includes(id));
        return (await headingState()) === 'ACTIVE' && fresh.length === 2 && (await instanceRows()).length === 2 && fresh;
      },
      // Two stop-first replacements one after the other took 6.5 s on the loaded 2-core machine; under vitest's 120 s.
      100_000,
    );
    const oldRows = () =>
      page.locator('[data-testid="old-instances"] tbody tr[data-instance]').evaluateAll((rows) =>
        rows.map((row) => `${row.getAttribute('data-instance')} ${row.querySelector('.badge')?.textContent}`),
      );
    await sees('the old instances STOPPED', async () => {
      const old = await oldRows();
      return beforeRestart.every((id) => old.includes(`${id} STOPPED`));
    });
    expect(running()).toEqual(ids);
  });

  it('kill one instance: it stops, and the reconciler starts a fresh one', async () => {
    const [victim, survivor] = await healthyIds();
    await page.getByRole('button', { name: `Kill ${victim}` }).click();
    const cli = await confirm(['"type": "STOP_INSTANCES"', victim!]);
    expect(cli).toContain(`lsinstances kill ${SERVICE} ${victim}`);
    const ids = await sees('the killed instance replaced', async () => {
      const healthy = await healthyIds();
      return healthy.length === 2 && !healthy.includes(victim!) && healthy.includes(survivor!) && (await instanceRows()).length === 2 && healthy;
    });
    await sees('the killed instance STOPPED', async () => (await page.locator(`[data-testid="old-instances"] tr[data-instance="${victim}"] .badge`).textContent()) === 'STOPPED');
    expect(running()).toEqual(ids);
  });

  it('deactivate: every instance stops', async () => {
    await operation('Deactivate').click();
    await confirm(['"type": "DEACTIVATE"']);
    await sees('INACTIVE with no instance', async () => (await headingState()) === 'INACTIVE' && (await instanceRows()).length === 0);
    await sees('docker ps agrees', async () => running().length === 0);
    await sees('no healthy instance', async () => (await page.getByTestId('healthy-instances').textContent()) === '0');
  });

  it('destroy: the service is gone from the list and from docker', async () => {
    await operation('Destroy').click();
    await confirm(['"type": "DESTROY"']);
    await page.waitForURL(`${dev.url}/localservices`);
    await page.getByRole('heading', { name: 'Local services', level: 1 }).waitFor();
    await sees('the service not listed', async () => (await page.locator(`tr[data-service="${SERVICE}"]`).count()) === 0 && (await page.getByText('No local services yet').count()) === 1);
    expect(running()).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
