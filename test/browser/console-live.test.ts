import type { AddressInfo } from 'node:net';
import type { ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { success, type DashboardData, type DroveEvent } from '../../src/model/index.js';
import { EVENT_STREAM_PATH, STREAM_SILENCE_MS } from '../../src/model/event-stream.js';
import { WIDTHS, launchChromium, serveConsole } from '../support/browser.js';
import { ensureBinaryBuilt } from '../support/e2e-cluster.js';
import { waitUntil } from '../support/wait.js';

/**
 * How the console stays live, against a stub controller that speaks the event stream's contract (docs/events.md)
 * and can misbehave on cue: a page re-reads when an event arrives and only then (no timer), re-reads everything
 * and says that events may be missing after `event: lost`, resumes a dropped stream with `Last-Event-ID`, gives
 * up on a stream that stays silent past three heartbeats, polls the events API when the stream path answers 404
 * or 400 (Drove), and keeps trying the stream on a follower that names its leader. The same against the real
 * controller: console-stream.test.ts.
 */

type StreamMode = 'stream' | 'absent-404' | 'absent-400' | 'follower';

interface Connection {
  lastEventIdHeader: string | undefined;
  lastEventIdQuery: string | undefined;
  accept: string | undefined;
}

interface Stub {
  url: string;
  app: FastifyInstance;
  mode: StreamMode;
  executors: number;
  dashboardReads: number;
  pollReads: number;
  connections: Connection[];
  stream: ServerResponse | undefined;
  pollEvents: DroveEvent[];
}

async function startStub(): Promise<Stub> {
  const app = Fastify();
  const stub: Stub = { url: '', app, mode: 'stream', executors: 1, dashboardReads: 0, pollReads: 0, connections: [], stream: undefined, pollEvents: [] };
  await serveConsole(app, '/');
  app.get('/apis/v1/cluster/dashboard', async () => {
    stub.dashboardReads++;
    const summary = { leader: 'stub', state: 'NORMAL', numExecutors: stub.executors, numApplications: 0, numActiveApplications: 0, numActiveTasks: 0, numLocalServices: 0, numActiveLocalServices: 0, freeCores: 0, usedCores: 0, totalCores: 0, freeMemory: 0, usedMemory: 0, totalMemory: 0 };
    const data: DashboardData = {
      serviceStats: { serviceCountByState: {} as never, serviceCountByActivationState: {} as never, topServices: [], totalHealthyInstances: 0 },
      clusterSummary: summary as DashboardData['clusterSummary'],
    };
    return success(data);
  });
  app.get<{ Querystring: { lastSyncTime?: string } }>('/apis/v1/cluster/events/latest', async (request) => {
    stub.pollReads++;
    const since = Number(request.query.lastSyncTime ?? 0);
    const events = stub.pollEvents.filter((e) => e.time > since).reverse();
    return success({ events, lastSyncTime: stub.pollEvents.reduce((m, e) => Math.max(m, e.time), since) });
  });
  app.get<{ Querystring: { lastEventId?: string } }>(EVENT_STREAM_PATH, async (request, reply) => {
    stub.connections.push({
      lastEventIdHeader: request.headers['last-event-id'] as string | undefined,
      lastEventIdQuery: request.query.lastEventId,
      accept: request.headers.accept,
    });
    if (stub.mode === 'absent-404') return reply.code(404).send({ status: 'FAILED', message: 'HTTP 404 Not Found' });
    if (stub.mode === 'absent-400') return reply.code(400).send({ status: 'FAILED', message: 'Unable to process JSON' });
    if (stub.mode === 'follower') {
      return reply.code(400).send({ status: 'FAILED', data: { leader: 'ctrl2.local:4000' }, message: 'This node is not the leader controller' });
    }
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    reply.raw.write(': connected\n\n');
    stub.stream = reply.raw;
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  stub.url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return stub;
}

const executorAdded = (id: number): DroveEvent => ({ type: 'EXECUTOR_ADDED', id: `event-${id}`, time: 1_000 + id, metadata: { EXECUTOR_ID: `E${id}` } });

describe('live updates', () => {
  let browser: Browser;
  let stub: Stub;
  let context: BrowserContext;
  beforeAll(async () => {
    await ensureBinaryBuilt();
    browser = await launchChromium();
  });
  afterAll(async () => browser?.close());
  beforeEach(async () => {
    stub = await startStub();
    context = await browser.newContext({ viewport: WIDTHS.desktop });
  });
  afterEach(async () => {
    await context?.close();
    stub.stream?.destroy();
    await stub?.app.close();
  });

  const executorsShown = (page: Page) => page.locator('.facts dt:text-is("Executors") + dd').textContent();
  const statusShown = (page: Page) => page.getByTestId('feed-status').textContent();
  const openDashboard = async (): Promise<Page> => {
    const page = await context.newPage();
    await page.goto(`${stub.url}/`);
    await waitUntil('the dashboard', async () => (await executorsShown(page)) === '1');
    return page;
  };

  it('re-reads on an event and only then; after event: lost re-reads everything and says events may be missing; resumes with Last-Event-ID', async () => {
    const page = await openDashboard();
    await waitUntil('Live in the header', async () => (await statusShown(page)) === 'Live');
    // Read when the page opened, and once more when the stream connected (what happened before is unknown).
    await waitUntil('the re-read on connecting', () => stub.dashboardReads === 2);
    const reads = stub.dashboardReads;
    stub.executors = 7;
    // Heartbeats are comments: nothing to re-read.
    stub.stream!.write(': heartbeat\n\n');
    stub.stream!.write(`id: 41\nevent: EXECUTOR_ADDED\ndata: ${JSON.stringify(executorAdded(41))}\n\n`);
    await waitUntil('the new count', async () => (await executorsShown(page)) === '7');
    expect(stub.dashboardReads).toBe(reads + 1);
    // While the stream is up nothing polls, and the first connection asks for new events only.
    expect(stub.pollReads).toBe(0);
    expect(stub.connections).toEqual([{ lastEventIdHeader: undefined, lastEventIdQuery: undefined, accept: 'text/event-stream' }]);
    expect(await page.getByTestId('feed-notice').count()).toBe(0);

    stub.executors = 9;
    stub.stream!.write(`event: lost\ndata: {"from": 3, "to": 42}\n\n`);
    await waitUntil('everything read again after the loss', async () => (await executorsShown(page)) === '9');
    const notice = page.getByTestId('feed-notice');
    await notice.waitFor();
    expect(await notice.textContent()).toContain('Events may be missing');
    await notice.getByRole('button', { name: 'Dismiss' }).click();
    await notice.waitFor({ state: 'detached' });

    // The controller goes away mid-stream: the console reconnects and resumes after the last id it saw, in the header.
    stub.stream!.write(`id: 42\nevent: EXECUTOR_ADDED\ndata: ${JSON.stringify(executorAdded(42))}\n\n`);
    await waitUntil('the event read', () => stub.dashboardReads >= reads + 3);
    stub.stream!.destroy();
    await waitUntil('a second connection', () => stub.connections.length === 2);
    expect(stub.connections[1]).toEqual({ lastEventIdHeader: '42', lastEventIdQuery: undefined, accept: 'text/event-stream' });
    await waitUntil('Live again', async () => (await statusShown(page)) === 'Live');
    // Resumed without a loss: nothing to say, and the events flow on.
    expect(await page.getByTestId('feed-notice').count()).toBe(0);
    stub.executors = 11;
    stub.stream!.write(`id: 43\nevent: EXECUTOR_ADDED\ndata: ${JSON.stringify(executorAdded(43))}\n\n`);
    await waitUntil('the event after the resume', async () => (await executorsShown(page)) === '11');
    expect(stub.pollReads).toBe(0);
  });

  it('gives up on a stream silent past three heartbeats and resumes; a heartbeat keeps it', async () => {
    // The page's timers run on a clock the test moves; everything else (sockets, the stub) in real time.
    await context.clock.install();
    const page = await openDashboard();
    await waitUntil('Live in the header', async () => (await statusShown(page)) === 'Live');
    // The page's own read and the one on connecting; an event before the second would join it.
    await waitUntil('the re-read on connecting', () => stub.dashboardReads === 2);
    stub.stream!.write(`id: 7\nevent: EXECUTOR_ADDED\ndata: ${JSON.stringify(executorAdded(7))}\n\n`);
    await waitUntil('the event read', () => stub.dashboardReads === 3);
    await context.clock.fastForward(STREAM_SILENCE_MS - 10_000);
    stub.stream!.write(': heartbeat\n\n');
    // The heartbeat reached the page once a later message has: an event it re-reads for.
    stub.stream!.write(`id: 8\nevent: EXECUTOR_ADDED\ndata: ${JSON.stringify(executorAdded(8))}\n\n`);
    await waitUntil('the second event read', () => stub.dashboardReads === 4);
    await context.clock.fastForward(STREAM_SILENCE_MS - 10_000);
    expect(stub.connections.length).toBe(1);
    // Now silent for longer than the limit since the last message.
    await context.clock.fastForward(10_000 + 1_000);
    await waitUntil('a new connection after the silence', () => stub.connections.length === 2);
    expect(stub.connections[1]!.lastEventIdHeader).toBe('8');
    await waitUntil('Live again', async () => (await statusShown(page)) === 'Live');
  });

  for (const mode of ['absent-404', 'absent-400'] as const) {
    it(`polls the events API when the stream path answers ${mode.slice(-3)} (Drove) and re-reads when it brings an event`, async () => {
      stub.mode = mode;
      const page = await openDashboard();
      await waitUntil('Polling in the header', async () => (await statusShown(page)) === 'Polling');
      stub.executors = 3;
      stub.pollEvents.push(executorAdded(1));
      await waitUntil('the polled event applied', async () => (await executorsShown(page)) === '3', { timeoutMs: 15_000 });
      // Asked once: a controller without the stream is not asked again on every poll.
      expect(stub.connections.length).toBe(1);
    });
  }

  it('on a follower (400 naming the leader) says who leads and tries the stream again instead of polling', async () => {
    stub.mode = 'follower';
    const page = await openDashboard();
    await waitUntil('Offline in the header', async () => (await statusShown(page)) === 'Offline');
    await waitUntil('the leader named', async () => ((await page.getByTestId('feed-detail').textContent()) ?? '').includes('the leader is ctrl2.local:4000'));
    await waitUntil('a second try', () => stub.connections.length >= 2);
    expect(stub.pollReads).toBe(0);
    // This controller leads again: the stream opens.
    stub.mode = 'stream';
    await waitUntil('Live', async () => (await statusShown(page)) === 'Live', { timeoutMs: 15_000 });
    expect(stub.pollReads).toBe(0);
  });
});
