import type { Browser, Page, Request } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_STREAM_PATH } from '../../src/model/event-stream.js';
import { WIDTHS, launchChromium } from '../support/browser.js';
import { DEV_ADMIN, devApi, startDev, type DevCluster } from '../support/dev-cluster.js';
import { SseClient } from '../support/sse-client.js';
import { fastSpec } from '../support/specs.js';
import { waitUntil } from '../support/wait.js';

/**
 * The console on the controller's real event stream (docs/console.md#live-updates), against a real `drove dev`:
 * pages change on the events a change through the API causes, with nothing polling; the stream is one per page
 * and survives moving between the console's pages; a controller restart drops it, and the console resumes with
 * Last-Event-ID, is told that events were lost (a new run of the controller keeps a new log), says so and reads
 * the page again; logout and leaving the page close the stream. The stub in console-live.test.ts covers what a
 * real controller cannot be made to do on cue (silence, refusals).
 */


describe('the console on the real event stream', () => {
  let dev: DevCluster;
  let browser: Browser;
  const pageErrors: string[] = [];

  const api = (method: 'GET' | 'POST', path: string, body?: unknown) => devApi(dev, method, path, body);
  const create = async (name: string) => {
    const created = await api('POST', '/apis/v1/localservices/operations', { type: 'CREATE', spec: fastSpec('node-agent.json', { name, version: '1' }), instancesPerHost: 1 });
    expect(created.status, created.message).toBe('SUCCESS');
    return `${name}-1`;
  };

  beforeAll(async () => {
    dev = await startDev();
    browser = await launchChromium();
  });
  afterEach((test) => {
    if (test.task.result?.state === 'fail') process.stderr.write(`----- drove dev\n${dev?.output()}\n----- page errors\n${pageErrors.join('\n')}\n`);
  });
  afterAll(async () => {
    await browser?.close();
    await dev?.stop();
  });

  /**
   * What the page asks of the controller: its stream requests (tries that found no controller included), those
   * the controller answered with a stream, which of them ended, and anything that polls.
   */
  function watch(page: Page) {
    const streams: Request[] = [];
    const opened: Request[] = [];
    /** How many list reads the page had sent when each stream opened. */
    const readsAtOpen: number[] = [];
    const ended = new Set<Request>();
    const polls: string[] = [];
    let listReads = 0;
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.pathname === EVENT_STREAM_PATH) streams.push(request);
      // The event timelines read the latest events once when they open (lastSyncTime=0, a full page); the feed's
      // polling would ask for size=0 first and then from a later time.
      if (url.pathname === '/apis/v1/cluster/events/latest' && url.search !== '?lastSyncTime=0&size=1024') polls.push(url.search);
      if (url.pathname === '/apis/v1/localservices') listReads++;
    });
    page.on('response', (response) => {
      if (new URL(response.url()).pathname === EVENT_STREAM_PATH && response.status() === 200) {
        opened.push(response.request());
        readsAtOpen.push(listReads);
      }
    });
    page.on('requestfailed', (request) => ended.add(request));
    page.on('requestfinished', (request) => ended.add(request));
    return {
      streams,
      opened,
      polls,
      open: () => opened.filter((s) => !ended.has(s)),
      ended: (request: Request) => ended.has(request),
      listReads: () => listReads,
      readsAtOpen,
    };
  }

  const statusShown = (page: Page) => page.getByTestId('feed-status').textContent();
  const serviceLink = (page: Page, serviceId: string) => page.getByRole('link', { name: serviceId, exact: true });

  it('updates from the stream, one stream per page; resumes it after a controller restart and says events may be missing; closes it on logout and on leaving', async () => {
    const context = await browser.newContext({ viewport: WIDTHS.desktop });
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    const seen = watch(page);
    // The test's own reader of the same stream: what the console should have seen last.
    const observer = await SseClient.open(`${dev.url}${EVENT_STREAM_PATH}`, { authorization: DEV_ADMIN });
    expect(observer.status).toBe(200);

    await page.goto(`${dev.url}/localservices`);
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel('Password').fill('admin');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Local services', level: 1 }).waitFor();
    await waitUntil('Live in the header', async () => (await statusShown(page)) === 'Live');
    expect(seen.streams).toHaveLength(1);
    expect(seen.opened).toEqual(seen.streams);
    const first = await seen.opened[0]!.allHeaders();
    expect(first.authorization).toBe(DEV_ADMIN);
    expect(first['last-event-id']).toBeUndefined();

    // A change made elsewhere (the API): its events reach the page, which reads the list again; nothing polls.
    const one = await create('UI_STREAM');
    await serviceLink(page, one).waitFor();
    expect(seen.polls).toEqual([]);
    expect(await page.getByTestId('feed-notice').count()).toBe(0);

    // Moving between the console's pages keeps the one stream.
    await serviceLink(page, one).click();
    await page.getByRole('heading', { name: one, level: 1 }).waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Local services' }).click();
    await serviceLink(page, one).waitFor();
    expect(seen.streams).toHaveLength(1);
    expect(seen.open()).toEqual(seen.opened);

    // The controller restarts: every stream it served ends. The console resumes from the last id it got (the
    // observer's last too), and the new run, whose log does not hold that id, answers event: lost.
    await waitUntil('the observer has the service events', () => observer.events().some((e) => e.event.metadata.LOCAL_SERVICE_ID === one));
    await dev.restart();
    await observer.closed;
    const lastId = observer.lastId();
    expect(lastId).toBeDefined();
    await waitUntil('a second stream', () => seen.opened.length >= 2, { detail: () => `tries: ${seen.streams.length}` });
    expect(seen.ended(seen.opened[0]!)).toBe(true);
    // Every try while the controller was down (refused connections) and the one that found it resumed from there.
    const tries = seen.streams.slice(1);
    expect(tries.at(-1)).toBe(seen.opened[1]);
    for (const attempt of tries) {
      const headers = await attempt.allHeaders();
      expect(headers['last-event-id']).toBe(String(lastId));
      expect(headers.authorization).toBe(DEV_ADMIN);
    }
    const notice = page.getByTestId('feed-notice');
    await notice.waitFor();
    expect(await notice.textContent()).toContain('Events may be missing');
    await waitUntil('Live again', async () => (await statusShown(page)) === 'Live');
    // The page was read again, and the service is still shown (from the store, across the restart).
    await waitUntil('the list read again after the loss', () => seen.listReads() > seen.readsAtOpen[1]!);
    await serviceLink(page, one).waitFor();

    // The resumed stream carries the new run's events to the page.
    const two = await create('UI_STREAM_TWO');
    await serviceLink(page, two).waitFor();
    expect(seen.polls).toEqual([]);
    expect(seen.opened).toHaveLength(2);
    expect(seen.open()).toEqual([seen.opened[1]]);

    // Logout closes the stream; logging in opens one; leaving the page closes that one.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('User name').waitFor();
    await waitUntil('the stream closed on logout', () => seen.ended(seen.opened[1]!));
    expect(seen.open()).toEqual([]);
    const triesBeforeLogin = seen.streams.length;
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel('Password').fill('admin');
    await page.getByRole('button', { name: 'Log in' }).click();
    await waitUntil('a stream after logging in again', () => seen.opened.length === 3);
    await waitUntil('Live after logging in again', async () => (await statusShown(page)) === 'Live');
    expect(seen.streams).toHaveLength(triesBeforeLogin + 1);
    // A new session asks for new events only: its pages were just read.
    expect((await seen.opened[2]!.allHeaders())['last-event-id']).toBeUndefined();
    await page.goto('about:blank');
    await waitUntil('the stream closed on leaving the page', () => seen.ended(seen.opened[2]!));
    expect(seen.streams).toHaveLength(triesBeforeLogin + 1);
    expect(seen.polls).toEqual([]);
    await context.close();
  });
});
