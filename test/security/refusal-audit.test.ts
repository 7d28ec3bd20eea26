import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { parseControllerConfig } from '../../src/controller/config.js';
import { startControllerServer, type RunningController } from '../../src/controller/server.js';
import { rawRequest } from './raw-http.js';

/**
 * Finding: the audit line was written only for requests that passed authentication and the role check, so
 * refused attempts (401, 403), the ones an operator most wants to see, left no trace. Now every 401 and 403 is
 * audited, with the user if known (or the name the caller claimed), role, method, matched route pattern, status.
 */

let running: RunningController;
let dir: string;
const lines: Array<Record<string, unknown>> = [];
const basic = (user: string, password: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'drove-audit-'));
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const config = parseControllerConfig({
    server: { host: '127.0.0.1', port: 0, hostname: 'localhost' },
    store: { type: 'sqlite', path: join(dir, 'drove.db') },
    clusterAuth: { secrets: [{ nodeType: 'CONTROLLER', secret: 'c-secret' }, { nodeType: 'EXECUTOR', secret: 'e-secret' }] },
    userAuth: {
      enabled: true,
      encoding: 'PLAIN',
      users: [
        { username: 'guest', password: 'guest-pw', role: 'EXTERNAL_READ_ONLY' },
        { username: 'admin', password: 'admin-pw', role: 'EXTERNAL_READ_WRITE' },
      ],
    },
  });
  running = await startControllerServer(config, { logger: pino({ level: 'info' }, sink) });
});
afterAll(async () => {
  await running?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function auditOf(method: string, target: string, headers: Record<string, string> = {}, body?: string) {
  const before = lines.length;
  const res = await rawRequest(running.port, method, target, headers, body);
  // The line is written when the response is done, which the client may see a moment earlier.
  for (let i = 0; i < 50 && !lines.slice(before).some((l) => l.audit); i++) await new Promise((r) => setTimeout(r, 10));
  const audit = lines.slice(before).filter((l) => l.audit);
  return { status: res.status, audit };
}

test('401 and 403 are audited with user, role, method, matched route pattern and status', async () => {
  const anonymous = await auditOf('POST', '/%61pis/v1/localservices/operations', {}, '{}');
  expect(anonymous.status).toBe(401);
  expect(anonymous.audit).toEqual([
    expect.objectContaining({ audit: true, user: null, authenticated: false, role: null, method: 'POST', route: '/apis/v1/localservices/operations', status: 401 }),
  ]);

  const wrongPassword = await auditOf('GET', '/apis/v1/cluster', basic('guest', 'guess'));
  expect(wrongPassword.status).toBe(401);
  expect(wrongPassword.audit).toEqual([
    expect.objectContaining({ user: 'guest', authenticated: false, role: null, method: 'GET', route: '/apis/v1/cluster', status: 401 }),
  ]);

  const forbidden = await auditOf('GET', '/apis/v1/internal/cluster/executors/E1/instances/last', basic('guest', 'guest-pw'));
  expect(forbidden.status).toBe(403);
  expect(forbidden.audit).toEqual([
    expect.objectContaining({
      user: 'guest',
      authenticated: true,
      role: 'EXTERNAL_READ_ONLY',
      method: 'GET',
      route: '/apis/v1/internal/cluster/executors/:executorId/instances/last',
      status: 403,
    }),
  ]);

  const executorNode = await auditOf('POST', '/apis/v1/localservices/operations', { 'Cluster-Authorization': 'e-secret', NodeId: 'ex9' }, '{}');
  expect(executorNode.status).toBe(403);
  expect(executorNode.audit).toEqual([expect.objectContaining({ user: 'ex9', role: 'CLUSTER_NODE', status: 403 })]);

  const unmatched = await auditOf('GET', '/apis/v1/nothing/here');
  expect(unmatched.status).toBe(401);
  expect(unmatched.audit).toEqual([expect.objectContaining({ route: null, path: '/apis/v1/nothing/here', status: 401 })]);
});

test('accepted requests are audited for the audited methods only (Drove: POST, PUT)', async () => {
  const read = await auditOf('GET', '/apis/v1/cluster', basic('guest', 'guest-pw'));
  expect(read.status).toBe(200);
  expect(read.audit).toEqual([]);
  const write = await auditOf('POST', '/apis/v1/localservices/operations', basic('admin', 'admin-pw'), '{"type":"ACTIVATE","serviceId":"NONE"}');
  expect(write.status).toBe(400);
  expect(write.audit).toEqual([
    expect.objectContaining({ user: 'admin', authenticated: true, role: 'EXTERNAL_READ_WRITE', route: '/apis/v1/localservices/operations', status: 400 }),
  ]);
});
