import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { success } from '../../src/model/index.js';
import { WIDTHS, launchChromium, serveConsole } from '../support/browser.js';
import { ensureBinaryBuilt } from '../support/e2e-cluster.js';
import { waitUntil } from '../support/wait.js';

/**
 * The console's log tail when a rotation falls between its read and its look at the file list, which a real
 * executor does only by chance (console-views.test.ts rotates a real one): a stub controller serves an in-memory
 * log directory through Drove's log API and rotates it right after answering a list, with lines the tail has not
 * read yet left in the old file.
 */

interface LogStub {
  url: string;
  app: FastifyInstance;
  /** File name -> content (ASCII: offsets in bytes and characters agree). */
  files: Map<string, string>;
  /** Once set: run right after the next list is answered, then cleared. */
  afterNextList: (() => void) | undefined;
}

const BASE = '/apis/v1/logfiles/localservices/:serviceId/:instanceId';

async function startLogStub(): Promise<LogStub> {
  const app = Fastify();
  const stub: LogStub = { url: '', app, files: new Map(), afterNextList: undefined };
  await serveConsole(app, '/localservices/*');
  // The event stream is not what this test is about: the console polls an events API that has nothing.
  app.get('/apis/v1/cluster/events/stream', async (_request, reply) => reply.code(404).send({ status: 'FAILED', message: 'HTTP 404 Not Found' }));
  app.get('/apis/v1/cluster/events/latest', async () => success({ events: [], lastSyncTime: 0 }));
  app.get(`${BASE}/list`, async (_request, reply) => {
    const then = stub.afterNextList;
    stub.afterNextList = undefined;
    if (then) reply.raw.once('finish', then);
    return { files: [...stub.files.keys()] };
  });
  app.get<{ Params: { fileName: string }; Querystring: { offset: string; length: string } }>(`${BASE}/read/:fileName`, async (request, reply) => {
    const content = stub.files.get(request.params.fileName);
    if (content === undefined) return reply.code(404).send({ status: 'FAILED', message: 'No such file' });
    const offset = Number(request.query.offset);
    if (offset === -1) return { data: '', offset: content.length };
    return { data: content.slice(offset, offset + Number(request.query.length)), offset };
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  stub.url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return stub;
}

describe('the log tail across a rotation between its read and its look at the file list', () => {
  let browser: Browser;
  let stub: LogStub;
  beforeAll(async () => {
    await ensureBinaryBuilt();
    browser = await launchChromium();
    stub = await startLogStub();
  });
  afterAll(async () => {
    await browser?.close();
    await stub?.app.close();
  });

  it("shows the old file's unread rest from its rotated copy, in order, then the new file from its start", async () => {
    stub.files.set('output.log', 'line-1 long enough that the new file is shorter than this offset\nline-2\n');
    const page = await browser.newPage({ viewport: WIDTHS.desktop });
    await page.goto(`${stub.url}/localservices/S-1/instances/SI-1/stream?logFileName=output.log`);
    const shown = async () => (await page.getByTestId('log-tail').textContent()) ?? '';
    await waitUntil('the existing lines', async () => (await shown()).includes('line-2'));

    // After the next list answer (which shows no rotation yet): a line the tail has not read lands in the old file,
    // and the executor rotates, as it does when a write passes maxSize.
    stub.afterNextList = () => {
      stub.files.set('output.log-1', `${stub.files.get('output.log')}old-rest-3\n`);
      stub.files.set('output.log', 'new-1\n');
    };
    await waitUntil('the new file followed', async () => (await shown()).includes('new-1'), { timeoutMs: 15_000 });
    const text = await shown();
    expect(text.split('\n')).toEqual([
      'line-1 long enough that the new file is shorter than this offset',
      'line-2',
      'old-rest-3',
      '--- output.log was rotated; following the new file ---',
      'new-1',
    ]);
    await page.close();
  });
});
