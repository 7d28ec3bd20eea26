import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startControllerServer, type RunningController } from '../../src/controller/server.js';
import { testConfig } from '../unit/api/helpers.js';

export { ADMIN, GUEST, MAINT, ROOT, basic } from '../unit/api/helpers.js';

/** A real controller (SQLite in a temporary directory) listening on a loopback port: the attacker's target. */
export interface LiveController {
  running: RunningController;
  dir: string;
  url: string;
  call(method: string, path: string, headers?: Record<string, string>, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export async function startLiveController(overrides: Record<string, unknown> = {}): Promise<LiveController> {
  const dir = mkdtempSync(join(tmpdir(), 'drove-security-'));
  const config = testConfig({
    server: { host: '127.0.0.1', port: 0, hostname: '127.0.0.1' },
    store: { type: 'sqlite', path: join(dir, 'drove.db') },
    logLevel: 'silent',
    ...overrides,
  });
  const running = await startControllerServer(config, { logger: pino({ level: 'silent' }) });
  return {
    running,
    dir,
    url: running.url,
    async call(method, path, headers = {}, body) {
      const response = await fetch(`${running.url}${path}`, {
        method,
        headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, body: parsed };
    },
    async close() {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
