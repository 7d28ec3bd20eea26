import { afterAll, beforeAll, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startControllerServer, type RunningController } from '../../../src/controller/server.js';
import { testConfig, ADMIN } from '../../support/controller-config.js';
import { validSpec } from '../../support/api-harness.js';
import { seedCurlExamples, shellWords } from '../../support/seeds.js';
import { waitUntil } from '../../support/wait.js';

/**
 * The curl examples of the seed documents, taken from the documents themselves and run as written, against a
 * controller with admin:admin. Only name resolution is added (`--connect-to drove.local:7000:127.0.0.1:<port>`),
 * since this machine has no `drove.local`. test/e2e/cli-dev.test.ts runs them against a real `drove dev --port 7000`.
 */

let running: RunningController;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'drove-seed-'));
  running = await startControllerServer(
    testConfig({ server: { host: '127.0.0.1', port: 0 }, store: { type: 'sqlite', path: join(dir, 'drove.db') } }),
    { logger: pino({ level: 'silent' }) },
  );
  const post = (body: unknown) =>
    fetch(`${running.url}/apis/v1/localservices/operations`, {
      method: 'POST',
      headers: { ...ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  expect((await post({ type: 'CREATE', spec: validSpec({ name: 'NODE_EXPORTER', version: '1' }), instancesPerHost: 1 })).status).toBe(200);
  expect((await post({ type: 'ACTIVATE', serviceId: 'NODE_EXPORTER-1' })).status).toBe(200);
  await waitUntil(
    'NODE_EXPORTER-1 ACTIVE',
    async () => {
      const summary = (await (await fetch(`${running.url}/apis/v1/localservices/NODE_EXPORTER-1`, { headers: ADMIN })).json()) as { data: { state: string } };
      return summary.data.state === 'ACTIVE';
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
});

afterAll(async () => {
  await running?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the seed documents curl examples run as written', async () => {
  const examples = seedCurlExamples();
  expect(examples.length).toBeGreaterThanOrEqual(2);
  const results = [];
  for (const command of examples) {
    const args = shellWords(command).slice(1);
    // Asynchronously: the controller answering curl runs in this very process.
    const { stdout: out } = await promisify(execFile)('curl', ['-sS', '-w', '\n%{http_code}', '--connect-to', `drove.local:7000:127.0.0.1:${running.port}`, ...args], { encoding: 'utf8' });
    const [body, code] = [out.slice(0, out.lastIndexOf('\n')), out.slice(out.lastIndexOf('\n') + 1)];
    results.push({ command: command.split('\n')[0], code, body: JSON.parse(body) as unknown });
  }
  // DEACTIVATE of the running service is accepted; the cancel finds nothing cancellable (a well-formed 400).
  expect(results).toEqual([
    { command: expect.stringContaining('/apis/v1/localservices/operations'), code: '200', body: { status: 'SUCCESS', data: { serviceId: 'NODE_EXPORTER-1' }, message: 'success' } },
    { command: expect.stringContaining('/cancel'), code: '400', body: { status: 'FAILED', message: 'Current operation could not be cancelled' } },
  ]);
});
