import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startControllerServer, type RunningController } from '../../../src/controller/server.js';
import { parseExecutorConfig } from '../../../src/executor/config.js';
import { startExecutor, type RunningExecutor } from '../../../src/executor/server.js';
import { ADMIN, CLUSTER_SECRET, CONTROLLER_SECRET, testConfig } from '../../support/controller-config.js';
import { executorConfigInput, removeContainersOf } from '../../support/executor-harness.js';
import { ensureTestImage } from '../../support/images.js';
import { haServiceSpec } from '../../support/specs.js';
import { waitUntil } from '../../support/wait.js';

/**
 * Logs that connect (docs/request-ids.md): a real controller and a real executor on the local Docker daemon, each
 * with its own captured pino log. An operation submitted with an X-Request-Id leaves that id on the controller's
 * line for every START/STOP it causes and on the executor's line for the same message.
 */

type LogLine = Record<string, unknown> & { msg: string };

function capture(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const text of String(chunk).split('\n')) if (text.trim()) lines.push(JSON.parse(text) as LogLine);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

let dir: string;
let controller: RunningController;
let executor: RunningExecutor;
const controllerLog = capture();
const executorLog = capture();
const SERVICE = haServiceSpec('REQUEST_IDS');
const SID = `${SERVICE.name}-${SERVICE.version}`;

async function submit(requestId: string | undefined, body: unknown): Promise<Response> {
  const response = await fetch(`${controller.url}/apis/v1/localservices/operations`, {
    method: 'POST',
    headers: { ...ADMIN, 'content-type': 'application/json', ...(requestId ? { 'x-request-id': requestId } : {}) },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return response;
}

async function healthy(): Promise<string[]> {
  const response = await fetch(`${controller.url}/apis/v1/localservices/${SID}/instances`, { headers: ADMIN });
  const instances = ((await response.json()) as { data: Array<{ instanceId: string; state: string }> }).data;
  return instances.filter((i) => i.state === 'HEALTHY').map((i) => i.instanceId);
}

async function steady(state: string): Promise<void> {
  await waitUntil(`${SID} ${state}`, async () => {
    const response = await fetch(`${controller.url}/apis/v1/localservices/${SID}`, { headers: ADMIN });
    return ((await response.json()) as { data?: { state?: string } }).data?.state === state;
  });
}

/** The controller's and the executor's line for one message of `type` about `instanceId`. */
function linesFor(type: 'START' | 'STOP', instanceId: string) {
  const name = `${type}_LOCAL_SERVICE_INSTANCE`;
  return {
    controller: controllerLog.lines.find((l) => l.msg === `${name} accepted by executor` && l.instanceId === instanceId),
    executor: executorLog.lines.find((l) => l.msg === 'instance message handled' && l.type === name && l.instanceId === instanceId),
  };
}

beforeAll(async () => {
  ensureTestImage();
  dir = mkdtempSync(join(tmpdir(), 'drove-request-ids-'));
  controller = await startControllerServer(
    testConfig({
      server: { host: '127.0.0.1', port: 0, hostname: '127.0.0.1' },
      store: { type: 'sqlite', path: join(dir, 'drove.db') },
      options: { reconcileInterval: '1 second' },
    }),
    { logger: controllerLog.logger },
  );
  const config = parseExecutorConfig(
    executorConfigInput(controller.url, {
      clusterAuth: { secrets: [{ nodeType: 'CONTROLLER', secret: CONTROLLER_SECRET }, { nodeType: 'EXECUTOR', secret: CLUSTER_SECRET }] },
    }),
  );
  executor = await startExecutor(config, { logger: executorLog.logger });
  await waitUntil('executor ACTIVE at the leader', async () => {
    const response = await fetch(`${controller.url}/apis/v1/cluster/executors`, { headers: ADMIN });
    const list = ((await response.json()) as { data: Array<{ state: string }> }).data;
    return list.length === 1 && list[0]!.state === 'ACTIVE';
  });
}, 120_000);

afterAll(async () => {
  // The controller first: an executor stopping under a live leader would be sent replacements of what it stops.
  await controller?.close();
  await executor?.stop();
  if (executor) await removeContainersOf(executor.executorId);
  rmSync(dir, { recursive: true, force: true });
});

describe('request ids', () => {
  test('the id of an ACTIVATE is on the controller and executor lines of the START it caused; a RESTART carries its own to START and STOP', async () => {
    const created = await submit('create-7f3a', { type: 'CREATE', spec: SERVICE, instancesPerHost: 1 });
    expect(created.headers.get('x-request-id')).toBe('create-7f3a');
    await submit('activate-7f3a', { type: 'ACTIVATE', serviceId: SID });
    const [first] = await waitUntil('one healthy instance', async () => ((await healthy()).length === 1 ? healthy() : undefined));
    const started = linesFor('START', first!);
    expect(started.controller).toMatchObject({ requestId: 'activate-7f3a', serviceId: SID, instanceId: first });
    expect(started.executor).toMatchObject({ requestId: 'activate-7f3a', serviceId: SID, instanceId: first, status: 'ACCEPTED' });

    await steady('ACTIVE');
    await submit('restart-7f3a', { type: 'RESTART', serviceId: SID });
    const [second] = await waitUntil('the replacement healthy, the old one gone', async () => {
      const now = await healthy();
      return now.length === 1 && now[0] !== first ? now : undefined;
    });
    await waitUntil('the old instance stopped on both sides', () => linesFor('STOP', first!).executor !== undefined && linesFor('STOP', first!).controller);
    expect(linesFor('START', second!).controller).toMatchObject({ requestId: 'restart-7f3a' });
    expect(linesFor('START', second!).executor).toMatchObject({ requestId: 'restart-7f3a', serviceId: SID });
    expect(linesFor('STOP', first!).controller).toMatchObject({ requestId: 'restart-7f3a' });
    expect(linesFor('STOP', first!).executor).toMatchObject({ requestId: 'restart-7f3a', serviceId: SID, instanceId: first });

    // DEACTIVATE stops instances through the reconciler's ADJUST, which carries the DEACTIVATE's id.
    await steady('ACTIVE');
    await submit('deactivate-7f3a', { type: 'DEACTIVATE', serviceId: SID });
    await waitUntil('the instance stopped', () => linesFor('STOP', second!).executor);
    expect(linesFor('STOP', second!).executor).toMatchObject({ requestId: 'deactivate-7f3a' });
    expect(linesFor('STOP', second!).controller).toMatchObject({ requestId: 'deactivate-7f3a' });
    // The controller's request log names the same ids (fastify's lines, label `requestId`).
    expect(controllerLog.lines.some((l) => l.msg === 'request completed' && l.requestId === 'activate-7f3a')).toBe(true);
  }, 180_000);

  test('an unsafe or missing X-Request-Id is replaced by a fresh id, answered in the header of every response', async () => {
    for (const given of ['has space', '"quoted"', 'x'.repeat(129), undefined]) {
      const response = await fetch(`${controller.url}/apis/v1/cluster`, { headers: { ...ADMIN, ...(given ? { 'x-request-id': given } : {}) } });
      const answered = response.headers.get('x-request-id');
      expect(answered).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(answered).not.toBe(given);
    }
    // Refusals carry it too.
    const refused = await fetch(`${controller.url}/apis/v1/cluster`, { headers: { 'x-request-id': 'no-credentials-1' } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('x-request-id')).toBe('no-credentials-1');
  });
});
