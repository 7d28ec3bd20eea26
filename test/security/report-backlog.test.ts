import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { DEFAULT_BODY_LIMIT } from '../../src/controller/api/app.js';
import { startControllerServer, type RunningController } from '../../src/controller/server.js';
import { ControllerClient } from '../../src/executor/controller-client.js';
import { Reporter } from '../../src/executor/reporter.js';
import { systemClock } from '../../src/model/clock.js';
import type { ControllerMessage, ExecutorResourceSnapshot } from '../../src/model/executor.js';
import type { LocalServiceInstanceInfo } from '../../src/model/instance.js';
import { ADMIN, CLUSTER_SECRET, testConfig } from '../support/controller-config.js';
import { validSpec } from '../support/api-harness.js';
import { waitUntil } from '../support/wait.js';
import { instanceInfo } from '../support/records.js';

/**
 * An executor's report backlog larger than the controller's body limit (issue 9, item 8): it used to go out as one
 * message, be refused with 413 and be retried unchanged forever, jamming that executor's reports. Now it goes out
 * in messages under the limit, and a 413 makes the next message smaller. A real controller over a real socket.
 */

const SERVICE = 'TEST_SPEC-00001';
const REPORTS = 3_000;
/** 1 KiB of error text per report: the backlog is then about 4 MiB, four times the limit. */
const ERROR_TEXT = 'e'.repeat(1024);

let dir: string;
let controller: RunningController;

const snapshot = (): ExecutorResourceSnapshot => ({
  executorId: 'E-BACKLOG',
  cpus: { type: 'CPU', freeCores: { '0': [0, 1] }, usedCores: { '0': [] } },
  memory: { type: 'MEMORY', freeMemory: { '0': 1024 }, usedMemory: { '0': 0 } },
  layout: { cores: { '0': [0, 1] }, memory: { '0': 1024 } },
});

const report = (instanceId: string, updated: number): LocalServiceInstanceInfo =>
  instanceInfo({ serviceId: SERVICE, serviceName: 'TEST_SPEC', instanceId, executorId: 'E-BACKLOG', errorMessage: ERROR_TEXT, updated });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'drove-backlog-'));
  controller = await startControllerServer(
    testConfig({ server: { host: '127.0.0.1', port: 0 }, store: { type: 'sqlite', path: join(dir, 'drove.db') }, logLevel: 'silent' }),
  );
  const created = await fetch(`${controller.url}/apis/v1/localservices/operations`, {
    method: 'POST',
    headers: { ...ADMIN, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'CREATE', spec: validSpec(), instancesPerHost: 1 }),
  });
  expect(created.status).toBe(200);
});

afterAll(async () => {
  await controller?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A real ControllerClient that also records the size and answer of every message it sends. */
function recordingClient() {
  const client = new ControllerClient({
    endpoints: [controller.url],
    secret: CLUSTER_SECRET,
    nodeId: 'backlog-host',
    clock: systemClock,
    logger: pino({ level: 'silent' }),
  });
  const sent: Array<{ bytes: number; count: number; status: string }> = [];
  const send = client.send.bind(client);
  client.send = async (message: ControllerMessage) => {
    const result = await send(message);
    const count = message.type === 'LOCAL_SERVICE_INSTANCE_STATE_REPORTS' ? message.instanceInfos.length : 1;
    sent.push({ bytes: Buffer.byteLength(JSON.stringify(message)), count, status: result.status });
    return result;
  };
  return { client, sent };
}

async function deliverBacklog(maxMessageBytes?: number) {
  const { client, sent } = recordingClient();
  const reporter = new Reporter(client, snapshot, systemClock, pino({ level: 'silent' }), {
    batchWindowMs: 5,
    retryInitialMs: 100,
    retryMaxMs: 1_000,
    maxAnsweredFailures: 5,
    ...(maxMessageBytes ? { maxMessageBytes } : {}),
  });
  const ids = Array.from({ length: REPORTS }, () => `SI-${randomUUID()}`);
  const now = Date.now();
  // All within one batch window: one backlog, as after a leader outage.
  for (const id of ids) reporter.report(report(id, now));
  const backlogBytes = ids.length * Buffer.byteLength(JSON.stringify(report(ids[0]!, now)));
  const started = Date.now();
  const workingSet = controller.controller.term!.workingSet;
  // Delivered in about 0.4 s on the test machine; a jammed backlog never is, so the deadline only bounds the failure.
  await waitUntil(
    `all ${REPORTS} reports stored by the controller`,
    () => ids.every((id) => workingSet.instance(SERVICE, id)?.state === 'HEALTHY'),
    { timeoutMs: 30_000 },
  );
  await reporter.close();
  await client.close();
  process.stdout.write(
    `backlog of ${REPORTS} reports (${(backlogBytes / 1024 / 1024).toFixed(1)} MiB) delivered in ${Date.now() - started} ms as ` +
      `${sent.length} messages (${sent.filter((s) => s.status === 'TOO_LARGE').length} refused with 413), largest accepted ` +
      `${Math.max(...sent.filter((s) => s.status === 'ACCEPTED').map((s) => s.bytes))} bytes\n`,
  );
  expect(backlogBytes).toBeGreaterThan(3 * DEFAULT_BODY_LIMIT);
  return { sent, reporter };
}

describe('an instance report backlog larger than the controller body limit', () => {
  it('is delivered entirely, in messages under the limit', async () => {
    const { sent, reporter } = await deliverBacklog();
    expect(reporter.pendingCount()).toBe(0);
    // A message that timed out on a loaded machine is sent again (UNREACHABLE): that is fine; a 413 is not.
    expect(sent.every((s) => s.bytes < DEFAULT_BODY_LIMIT && s.status !== 'TOO_LARGE')).toBe(true);
    expect(sent.filter((s) => s.status === 'ACCEPTED').reduce((n, s) => n + s.count, 0)).toBe(REPORTS);
  });

  it('is delivered entirely when the reporter starts above the limit: each 413 is followed by a smaller message', async () => {
    const { sent } = await deliverBacklog(4 * DEFAULT_BODY_LIMIT);
    const refused = sent.flatMap((s, i) => (s.status === 'TOO_LARGE' ? [i] : []));
    expect(refused.length).toBeGreaterThan(0);
    for (const i of refused) expect(sent[i + 1]!.bytes).toBeLessThan(sent[i]!.bytes / 2 + 1024);
    expect(sent.filter((s) => s.status === 'ACCEPTED').reduce((n, s) => n + s.count, 0)).toBe(REPORTS);
  });
});
