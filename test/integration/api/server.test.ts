import { afterEach, describe, expect, test, vi } from 'vitest';
import { Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { CONTROLLER_LISTEN_BACKLOG, startControllerServer, type RunningController } from '../../../src/controller/server.js';
import { testConfig, ADMIN } from '../../support/controller-config.js';
import { validSpec } from '../../support/api-harness.js';

/** startControllerServer: store from config, real controller, listening API; close releases everything. */

let running: RunningController | undefined;
let dir: string | undefined;
afterEach(async () => {
  await running?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('startControllerServer', () => {
  test('listens with a backlog for thousands of executors registering at once, not Node\'s 511', async () => {
    dir = mkdtempSync(join(tmpdir(), 'drove-server-'));
    const listen = vi.spyOn(Server.prototype, 'listen');
    try {
      const config = testConfig({ server: { host: '127.0.0.1', port: 0, hostname: '127.0.0.1' }, store: { type: 'sqlite', path: join(dir, 'drove.db') } });
      running = await startControllerServer(config, { logger: pino({ level: 'silent' }) });
      expect(CONTROLLER_LISTEN_BACKLOG).toBe(4096);
      expect(listen.mock.calls.map((args) => (args[0] as { backlog?: number }).backlog)).toContain(CONTROLLER_LISTEN_BACKLOG);
    } finally {
      listen.mockRestore();
    }
  });

  test('serves the API on an ephemeral port, keeps state in SQLite across restarts, audits writes', async () => {
    dir = mkdtempSync(join(tmpdir(), 'drove-server-'));
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) }));
    const config = testConfig({ server: { host: '127.0.0.1', port: 0, hostname: '127.0.0.1' }, store: { type: 'sqlite', path: join(dir, 'drove.db') } });
    running = await startControllerServer(config, { logger });
    expect(running.port).toBeGreaterThan(0);
    const ping = await fetch(`${running.url}/apis/v1/ping`, { headers: ADMIN });
    expect(await ping.json()).toEqual({ status: 'SUCCESS', data: 'pong', message: 'success' });
    const summary = (await (await fetch(`${running.url}/apis/v1/cluster`, { headers: ADMIN })).json()) as { data: { leader: string } };
    expect(summary.data.leader).toBe(`127.0.0.1:${running.port}`);
    const created = await fetch(`${running.url}/apis/v1/localservices/operations`, {
      method: 'POST',
      headers: { ...ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'CREATE', spec: validSpec(), instancesPerHost: 1 }),
    });
    expect(created.status).toBe(200);
    expect(lines.some((l) => l.includes('"audit":true') && l.includes('"user":"admin"') && l.includes('/apis/v1/localservices/operations'))).toBe(true);
    await running.close();

    running = await startControllerServer(config, { logger });
    const list = (await (await fetch(`${running.url}/apis/v1/localservices`, { headers: ADMIN })).json()) as { data: Record<string, unknown> };
    expect(Object.keys(list.data)).toEqual(['TEST_SPEC-00001']);
  });

  test('a port in use is an error, not a hang, and nothing is left running', async () => {
    dir = mkdtempSync(join(tmpdir(), 'drove-server-'));
    const config = testConfig({ server: { host: '127.0.0.1', port: 0 }, store: { type: 'sqlite', path: join(dir, 'a.db') }, logLevel: 'silent' });
    running = await startControllerServer(config);
    const clash = testConfig({ server: { host: '127.0.0.1', port: running.port }, store: { type: 'sqlite', path: join(dir, 'b.db') }, logLevel: 'silent' });
    await expect(startControllerServer(clash)).rejects.toThrow(/EADDRINUSE/);
  });
});
