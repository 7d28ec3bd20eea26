import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { ServerResponse } from 'node:http';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { success, type DashboardData, type DroveEvent } from '../../src/model/index.js';
import { WIDTHS, launchChromium } from '../support/browser.js';
import { ensureBinaryBuilt } from '../support/e2e-cluster.js';
import { repoRoot } from '../support/images.js';
import { waitUntil } from '../support/wait.js';

/**
 * How the console stays live, against a stub controller that speaks the event stream's contract
 * (`GET /apis/v1/cluster/events/stream`, docs/console.md#live-updates): a page re-reads when an event arrives and only then (no
 * timer), re-reads everything after `event: lost`, resumes a dropped stream with the last event id, and polls the
 * events API when the controller has no stream (404, as Drove).
 */

interface Stub {
  url: string;
  app: FastifyInstance;
  executors: number;
  dashboardReads: number;
  pollReads: number;
  /** `lastEventId` of every stream connection, in order. */
  connections: Array<string | undefined>;
  stream: ServerResponse | undefined;
  pollEvents: DroveEvent[];
}

async function startStub(withStream: boolean): Promise<Stub> {
  const app = Fastify();
  const stub: Stub = { url: '', app, executors: 1, dashboardReads: 0, pollReads: 0, connections: [], stream: undefined, pollEvents: [] };
  const dist = join(repoRoot, 'dist', 'ui');
  await app.register(fastifyStatic, { root: join(dist, 'assets'), prefix: '/assets/', index: false });
  app.get('/', async (_request, reply) => reply.type('text/html').sendFile('index.html', dist));
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
  app.get<{ Querystring: { lastEventId?: string } }>('/apis/v1/cluster/events/stream', async (request, reply) => {
    if (!withStream) return reply.code(404).send({ status: 'FAILED', message: 'HTTP 404 Not Found' });
    stub.connections.push(request.query.lastEventId);
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
  beforeAll(async () => {
    await ensureBinaryBuilt();
    browser = await launchChromium();
  });
  afterAll(async () => browser?.close());

  const executorsShown = (page: Page) => page.locator('.facts dt:text-is("Executors") + dd').textContent();

  describe('from the event stream', () => {
    let stub: Stub;
    beforeAll(async () => (stub = await startStub(true)));
    afterAll(async () => {
      stub.stream?.destroy();
      await stub.app.close();
    });

    it('re-reads on an event and only then, re-reads after a loss, resumes with the last event id', async () => {
      const page = await browser.newPage({ viewport: WIDTHS.desktop });
      await page.goto(`${stub.url}/`);
      await waitUntil('Live in the header', async () => (await page.getByTestId('feed-status').textContent()) === 'Live');
      await waitUntil('the dashboard', async () => (await executorsShown(page)) === '1');
      // Read when the page opened, and once more when the stream connected (what happened before is unknown).
      await waitUntil('the re-read on connecting', () => stub.dashboardReads === 2);
      const reads = stub.dashboardReads;
      stub.executors = 7;
      // Heartbeats are comments: nothing to re-read.
      stub.stream!.write(': heartbeat\n\n');
      stub.stream!.write(`id: 41\nevent: EXECUTOR_ADDED\ndata: ${JSON.stringify(executorAdded(41))}\n\n`);
      await waitUntil('the new count', async () => (await executorsShown(page)) === '7');
      expect(stub.dashboardReads).toBe(reads + 1);
      // While the stream is up nothing polls.
      expect(stub.pollReads).toBe(0);

      stub.executors = 9;
      stub.stream!.write(`id: 42\nevent: lost\ndata: {"from": 3, "to": 42}\n\n`);
      await waitUntil('everything read again after the loss', async () => (await executorsShown(page)) === '9');

      // The controller goes away mid-stream: the console reconnects and resumes after the last id it saw.
      stub.stream!.destroy();
      await waitUntil('a second connection', () => stub.connections.length === 2);
      expect(stub.connections).toEqual([undefined, '42']);
      await waitUntil('Live again', async () => (await page.getByTestId('feed-status').textContent()) === 'Live');
      await page.close();
    });
  });

  describe('without a stream (404, as Drove)', () => {
    let stub: Stub;
    beforeAll(async () => (stub = await startStub(false)));
    afterAll(async () => stub.app.close());

    it('polls the events API and re-reads when it brings an event', async () => {
      const page = await browser.newPage({ viewport: WIDTHS.desktop });
      await page.goto(`${stub.url}/`);
      await waitUntil('Polling in the header', async () => (await page.getByTestId('feed-status').textContent()) === 'Polling');
      await waitUntil('the dashboard', async () => (await executorsShown(page)) === '1');
      stub.executors = 3;
      stub.pollEvents.push(executorAdded(1));
      await waitUntil('the polled event applied', async () => (await executorsShown(page)) === '3', { timeoutMs: 15_000 });
      expect(stub.connections).toEqual([]);
      await page.close();
    });
  });
});
