import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startControllerServer, type RunningController } from '../../../src/controller/server.js';
import { FollowerElector, startHarness, type Harness } from '../../support/api-harness.js';
import { ADMIN, testConfig } from '../../support/controller-config.js';

/** The controller's health endpoints (docs/health.md) on real servers, without credentials. */

describe('controller health endpoints', () => {
  let running: RunningController;
  let dir: string;
  const lines: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'drove-health-'));
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }));
    running = await startControllerServer(
      testConfig({ server: { host: '127.0.0.1', port: 0, hostname: '127.0.0.1' }, store: { type: 'sqlite', path: join(dir, 'drove.db') } }),
      { logger },
    );
  });
  afterAll(async () => {
    await running?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the leader: /livez 200, /readyz 200 naming itself, no credentials needed (wrong ones are not even looked at)', async () => {
    for (const headers of [{}, { authorization: 'Basic d3Jvbmc6d3Jvbmc=' }] as Array<Record<string, string>>) {
      const live = await fetch(`${running.url}/livez`, { headers });
      expect([live.status, await live.json()]).toEqual([200, { live: true }]);
      const ready = await fetch(`${running.url}/readyz`, { headers });
      expect([ready.status, await ready.json()]).toEqual([200, { ready: true, leader: `127.0.0.1:${running.port}` }]);
      expect(ready.headers.get('cache-control')).toBe('no-store');
    }
    expect((await fetch(`${running.url}/readyz`, { method: 'HEAD' })).status).toBe(200);
    // Drove's ping keeps needing credentials.
    expect((await fetch(`${running.url}/apis/v1/ping`)).status).toBe(401);
    expect((await fetch(`${running.url}/apis/v1/ping`, { headers: ADMIN })).status).toBe(200);
  });

  test('probes leave no request log lines; other requests still do', async () => {
    const before = lines.length;
    for (let i = 0; i < 5; i++) await fetch(`${running.url}/readyz`);
    expect(lines.slice(before).filter((l) => l.includes('/readyz'))).toEqual([]);
    await fetch(`${running.url}/apis/v1/cluster`, { headers: ADMIN });
    expect(lines.slice(before).some((l) => l.includes('"msg":"request completed"'))).toBe(true);
  });
});

describe('a follower', () => {
  let h: Harness;
  let base: string;
  beforeAll(async () => {
    h = await startHarness({ leadership: new FollowerElector() });
    await h.api.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(h.api.server.address() as { port: number }).port}`;
  });
  afterAll(async () => h?.close());

  test('is live, and not ready: 503 naming the leader, so a gateway sends nothing to it', async () => {
    const live = await fetch(`${base}/livez`);
    expect([live.status, await live.json()]).toEqual([200, { live: true }]);
    const ready = await fetch(`${base}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([
      503,
      { ready: false, leader: 'ctrl2.local:10000', reason: 'This node is not the leader controller' },
    ]);
  });
});
