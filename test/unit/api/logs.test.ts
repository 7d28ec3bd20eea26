import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { FakeCore } from '../../support/fake-core.js';
import { ADMIN, CONTROLLER_SECRET, GUEST, app } from '../../support/controller-config.js';

/** A stand-in executor log endpoint that records what the controller sent. */
let executor: Server;
let seen: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
let core: FakeCore;
let api: FastifyInstance;
const BIG = 'x'.repeat(3 * 1024 * 1024);

beforeAll(async () => {
  executor = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    if (req.url?.endsWith('/list')) return res.writeHead(200, { 'content-type': 'application/json' }).end('{"files":["output.log"]}');
    if (req.url?.includes('/read/bad')) return res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"Path escapes"}');
    if (req.url?.includes('/read/broken')) return res.writeHead(500).end('kaput');
    if (req.url?.includes('/read/')) return res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":"","offset":42}');
    if (req.url?.includes('/download/')) return res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(BIG);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => executor.listen(0, '127.0.0.1', r));
  core = new FakeCore();
  core.logTarget = { executorId: 'E1', hostname: '127.0.0.1', port: (executor.address() as AddressInfo).port, transportType: 'HTTP' };
  api = app(core);
});
afterAll(async () => {
  await api.close();
  executor.close();
});

describe('log-file proxy', () => {
  test('list is forwarded with cluster credentials and returned raw', async () => {
    seen = [];
    const res = await api.inject({ url: '/apis/v1/logfiles/localservices/S-1/SI-00000000-0000-4000-8000-000000000001/list', headers: GUEST });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ files: ['output.log'] });
    expect(seen[0]?.url).toBe('/apis/v1/logs/filestream/S-1/SI-00000000-0000-4000-8000-000000000001/list');
    expect(seen[0]?.headers['cluster-authorization']).toBe(CONTROLLER_SECRET);
    expect(seen[0]?.headers['nodeid']).toBeTruthy();
  });

  test('read passes offset and length', async () => {
    seen = [];
    const res = await api.inject({ url: '/apis/v1/logfiles/localservices/S-1/SI-00000000-0000-4000-8000-000000000001/read/output.log?offset=-1', headers: ADMIN });
    expect(res.json()).toEqual({ data: '', offset: 42 });
    expect(seen[0]?.url).toBe('/apis/v1/logs/filestream/S-1/SI-00000000-0000-4000-8000-000000000001/read/output.log?offset=-1&length=-1');
  });

  test('executor 4xx is passed on, 5xx becomes 502 with the executor answer', async () => {
    const bad = await api.inject({ url: '/apis/v1/logfiles/localservices/S-1/SI-00000000-0000-4000-8000-000000000001/read/bad', headers: ADMIN });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ error: 'Path escapes' });
    const broken = await api.inject({ url: '/apis/v1/logfiles/localservices/S-1/SI-00000000-0000-4000-8000-000000000001/read/broken', headers: ADMIN });
    expect(broken.statusCode).toBe(502);
    expect(broken.json()).toEqual({ error: 'Executor call returned: 500 body: kaput' });
  });

  test('download streams the whole file with an attachment name', async () => {
    const res = await api.inject({ url: '/apis/v1/logfiles/localservices/S-1/SI-00000000-0000-4000-8000-000000000001/download/output.log', headers: ADMIN });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-disposition']).toBe('attachment; filename=output.log');
    expect(res.rawPayload.length).toBe(BIG.length);
    const renamed = await api.inject({ url: '/apis/v1/logfiles/localservices/S-1/SI-00000000-0000-4000-8000-000000000001/download/output.log?rename=true', headers: ADMIN });
    expect(renamed.headers['content-disposition']).toMatch(/^attachment; filename=S-1_SI-00000000-0000-4000-8000-000000000001_output\.log-\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d$/);
  });

  test('unknown instance or executor: 204, no body', async () => {
    const saved = core.logTarget;
    core.logTarget = undefined;
    try {
      for (const path of ['list', 'read/output.log', 'download/output.log']) {
        const res = await api.inject({ url: `/apis/v1/logfiles/localservices/S-1/SI-00000000-0000-4000-8000-000000000009/${path}`, headers: ADMIN });
        expect(res.statusCode).toBe(204);
        expect(res.body).toBe('');
      }
    } finally {
      core.logTarget = saved;
    }
  });

  test('unreachable executor is a 502 naming it', async () => {
    const saved = core.logTarget;
    core.logTarget = { ...saved!, port: 1 };
    try {
      const res = await api.inject({ url: '/apis/v1/logfiles/localservices/S-1/SI-00000000-0000-4000-8000-000000000001/list', headers: ADMIN });
      expect(res.statusCode).toBe(502);
      expect(res.json().error).toContain('127.0.0.1:1 could not be reached');
    } finally {
      core.logTarget = saved;
    }
  });
});
