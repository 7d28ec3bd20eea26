import { existsSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildControllerApp } from '../../src/controller/api/app.js';
import { parseExecutorConfig } from '../../src/executor/config.js';
import type { RunningExecutor } from '../../src/executor/server.js';
import { newInstanceId } from '../../src/model/index.js';
import {
  FakeLeader,
  CONTROLLER_SECRET,
  address,
  ensureImage,
  executorConfigInput,
  header,
  itSpec,
  removeContainersOf,
  send,
  startTestExecutor,
} from '../support/executor-harness.js';
import { FakeCore } from '../support/fake-core.js';
import {
  CLUSTER_HEADERS,
  executorMessages,
  instance as harnessInstance,
  startHarness,
  type Harness,
} from '../support/api-harness.js';
import { ADMIN, testConfig } from '../support/controller-config.js';

/**
 * Finding: ids in controller -> executor messages were only checked to be non-empty strings, so a START with
 * `serviceId: "../../x"` reached `join(logDir, serviceId, instanceId)` and the executor created folders (and
 * log files) outside its log directory. Every id is now checked (service id pattern, `SI-<uuid>`) before any
 * path or URL is built from it: messages are answered FAILED, log routes 400.
 */

/** A GET with the request target sent exactly as written (fetch would normalize dot segments first). */
function rawGet(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('executor: ids of every message are checked before a path is built from them', () => {
  let leader: FakeLeader;
  let executor: RunningExecutor;
  let logDir = '';

  beforeAll(async () => {
    ensureImage();
    leader = await new FakeLeader().start();
    const input = executorConfigInput(leader.url);
    logDir = parseExecutorConfig(input).logDir;
    executor = await startTestExecutor(leader, { logDir });
  });
  afterAll(async () => {
    await executor?.stop();
    await removeContainersOf(executor?.executorId ?? 'none');
    await leader?.stop();
  });

  it.each([
    ['serviceId', { serviceId: '../../escaped-service' }, 'spec.serviceId must be a local service id (<name>-<version> of letters, digits, - and _), got "../../escaped-service"'],
    ['serviceId', { serviceId: '..' }, 'spec.serviceId must be a local service id (<name>-<version> of letters, digits, - and _), got ".."'],
    ['instanceId', { instanceId: '../../../escaped-instance' }, 'spec.instanceId must be an instance id SI-<uuid>, got "../../../escaped-instance"'],
    ['instanceId', { instanceId: 'SI-1/../../x' }, 'spec.instanceId must be an instance id SI-<uuid>, got "SI-1/../../x"'],
  ])('START with a hostile %s is answered FAILED naming it; nothing is created outside the log directory', async (_field, ids, reason) => {
    const spec = { ...itSpec(), ...ids };
    const response = await send(executor, { type: 'START_LOCAL_SERVICE_INSTANCE', header: header(), address: address(executor), spec });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ status: 'FAILED', message: `Invalid message: ${reason}` });
    // Where the executor would have put the instance's logs.
    const target = join(logDir, spec.serviceId, spec.instanceId);
    expect(existsSync(target)).toBe(false);
    expect(executor.engine.list()).toEqual([]);
    expect(leader.reports(spec.instanceId)).toEqual([]);
  });

  it('STOP with a hostile instanceId is answered FAILED naming it', async () => {
    const response = await send(executor, { type: 'STOP_LOCAL_SERVICE_INSTANCE', header: header(), address: address(executor), instanceId: '../x' });
    expect(response.body).toMatchObject({ status: 'FAILED', message: 'Invalid message: instanceId must be an instance id SI-<uuid>, got "../x"' });
  });

  it.each([
    [`/apis/v1/logs/filestream/..%2F..%2F..%2Fetc/${newInstanceId()}/list`, 'Invalid service id: ../../../etc'],
    ['/apis/v1/logs/filestream/S-1/..%2F..%2F..%2Fetc/list', 'Invalid instance id: ../../../etc'],
    ['/apis/v1/logs/filestream/S-1/SI-1/list', 'Invalid instance id: SI-1'],
    [`/apis/v1/logs/filestream/S-1/${newInstanceId()}/read/%2e%2e`, 'Invalid log file name: ..'],
  ])('log route %s is a 400: %s', async (path, error) => {
    const response = await rawGet(Number(new URL(executor.url).port), path, { 'cluster-authorization': CONTROLLER_SECRET });
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body)).toEqual({ error });
  });
});

describe("controller log proxy: ids and file name are checked before the executor's URL is built", () => {
  let fakeExecutor: Server;
  let api: FastifyInstance;
  let port = 0;
  const forwarded: string[] = [];
  const instanceId = newInstanceId();

  beforeAll(async () => {
    fakeExecutor = createServer((req, res) => {
      forwarded.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"files":[]}');
    });
    await new Promise<void>((resolve) => fakeExecutor.listen(0, '127.0.0.1', resolve));
    const core = new FakeCore();
    core.logTarget = { executorId: 'E1', hostname: '127.0.0.1', port: (fakeExecutor.address() as AddressInfo).port, transportType: 'HTTP' };
    api = buildControllerApp({ core, config: testConfig() });
    await api.listen({ host: '127.0.0.1', port: 0 });
    port = (api.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await api?.close();
    fakeExecutor?.close();
  });

  it.each([
    [`/apis/v1/logfiles/localservices/S-1/${instanceId}/read/%2e%2e`, 'Invalid log file name: ..'],
    [`/apis/v1/logfiles/localservices/S-1/${instanceId}/download/%2e`, 'Invalid log file name: .'],
    ['/apis/v1/logfiles/localservices/S-1/SI-1/list', 'Invalid instance id: SI-1'],
    [`/apis/v1/logfiles/localservices/..%2Fx/${instanceId}/list`, 'Invalid service id: ../x'],
  ])('%s is a 400 (%s) and nothing is forwarded', async (path, error) => {
    const before = forwarded.length;
    const response = await rawGet(port, path, ADMIN);
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body)).toEqual({ error });
    expect(forwarded.slice(before)).toEqual([]);
  });

  it('a well-formed request is still forwarded', async () => {
    const response = await rawGet(port, `/apis/v1/logfiles/localservices/S-1/${instanceId}/list`, ADMIN);
    expect(response.status).toBe(200);
    expect(forwarded.at(-1)).toBe(`/apis/v1/logs/filestream/S-1/${instanceId}/list`);
  });
});

describe('controller: ids in executor reports are checked before they become store keys', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h?.close());

  it.each([
    ['serviceId', { serviceId: '../../x' }, 'must be a local service id'],
    ['instanceId', { instanceId: 'SI-1/../../x' }, 'must be an instance id SI-<uuid>'],
  ])('a report whose %s is forged is a 400 naming the field; nothing is stored', async (field, forged, rule) => {
    const good = harnessInstance(h.clock.now(), 'TEST_SPEC-00001', newInstanceId(), 'HEALTHY');
    const messages = executorMessages(h.clock.now(), [{ ...good, ...forged }]);
    for (const message of messages) {
      const res = await h.api.inject({ method: 'POST', url: '/apis/v1/messages', headers: CLUSTER_HEADERS, payload: message });
      expect(res.statusCode, res.body).toBe(400);
      expect(JSON.stringify(res.json())).toContain(field);
      expect(JSON.stringify(res.json())).toContain(rule);
    }
    await h.clock.advance(10);
    const executors = await h.api.inject({ method: 'GET', url: '/apis/v1/cluster/executors', headers: ADMIN });
    expect(executors.json().data).toEqual([]);
    const stored = await h.store.load();
    expect([stored.instances, stored.executors]).toEqual([[], []]);
  });
});
