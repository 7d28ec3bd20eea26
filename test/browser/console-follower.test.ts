import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { WIDTHS, launchChromium } from '../support/browser.js';
import { ensureBinaryBuilt } from '../support/e2e-cluster.js';
import { call, leaders, startHaCluster, type ControllerProcess, type HaCluster } from '../support/ha-cluster.js';
import { waitUntil } from '../support/wait.js';

/**
 * Two controllers on etcd (test/support/ha-cluster.ts): a browser that opens the console on the follower lands on
 * the same page of the leader, which shows the cluster; Drove's `/apis/ui/...` view paths land there too.
 */
describe('a follower controller sends the console to the leader', () => {
  let cluster: HaCluster;
  let browser: Browser;
  let leader: ControllerProcess;
  let follower: ControllerProcess;

  beforeAll(async () => {
    // The controllers run from source and serve the console from dist/ui.
    await ensureBinaryBuilt();
    cluster = await startHaCluster({ controllers: 2, executors: 0, etcdMembers: 1 });
    [leader] = await waitUntil('a leader', async () => {
      const found = await leaders(cluster.controllers);
      return found.length === 1 && found;
    });
    follower = cluster.controllers.find((c) => c !== leader)!;
    // The leader knows it leads before the follower has seen it win the election; until then the follower answers
    // pages with Drove's 400 "not the leader" and no leader to send the browser to (failed once in CI that way).
    await waitUntil('the follower to know the leader', async () => {
      const answer = await call<{ leader?: string }>(follower.url, 'GET', '/apis/v1/ping');
      return answer.body.data?.leader === leader.address;
    });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await cluster?.close();
  });

  it('opens the page asked for on the leader, query string and all', async () => {
    const page = await browser.newPage({ viewport: WIDTHS.desktop });
    await page.goto(`${follower.url}/cluster?from=follower`);
    expect(page.url()).toBe(`${leader.url}/cluster?from=follower`);
    // This cluster has no user authentication: the console opens without a login, as root.
    await page.getByRole('heading', { name: 'Cluster', level: 1 }).waitFor();
    await waitUntil('the leader named on the page', async () => ((await page.locator('.facts').first().textContent()) ?? '').includes(leader.address));
    expect(await page.getByTestId('user-name').textContent()).toContain('EXTERNAL_ROOT');

    await page.goto(`${follower.url}/apis/ui/localservices`);
    expect(page.url()).toBe(`${leader.url}/localservices`);
    await page.getByRole('heading', { name: 'Local services', level: 1 }).waitFor();
    await page.close();
  });
});
