import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { testSpec } from '../../support/specs.js';
import { FakeCore } from '../../support/fake-core.js';
import { ADMIN, GUEST, app } from '../../support/controller-config.js';
import { instanceInfo } from '../../support/records.js';
import { success, type LocalServiceInstanceInfo, type LocalServiceInstanceState } from '../../../src/model/index.js';

let core: FakeCore;
let api: FastifyInstance;

beforeEach(async () => {
  core = new FakeCore();
  api = app(core);
  await api.ready();
});
afterEach(async () => api.close());

const post = (url: string, payload: unknown, headers = ADMIN) => api.inject({ method: 'POST', url, payload: payload as object, headers });
const get = (url: string, headers = ADMIN) => api.inject({ method: 'GET', url, headers });

describe('operations', () => {
  test('CREATE answers the derived service id', async () => {
    const res = await post('/apis/v1/localservices/operations', { type: 'CREATE', spec: testSpec(), instancesPerHost: 1 });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'SUCCESS', data: { serviceId: 'TEST_SPEC-00001' }, message: 'success' });
    expect(core.operations[0]?.type).toBe('CREATE');
  });

  test('seed-doc DEACTIVATE body with Basic admin:admin', async () => {
    await post('/apis/v1/localservices/operations', { type: 'CREATE', spec: testSpec(), instancesPerHost: 1 });
    const res = await api.inject({
      method: 'POST',
      url: '/apis/v1/localservices/operations',
      headers: { 'content-type': 'application/json', authorization: 'Basic YWRtaW46YWRtaW4=' },
      payload: '{\n    "type": "DEACTIVATE",\n    "serviceId": "TEST_SPEC-00001"\n}',
    });
    expect(res.json()).toEqual({ status: 'SUCCESS', data: { serviceId: 'TEST_SPEC-00001' }, message: 'success' });
  });

  test('STOP is accepted as DEACTIVATE and clusterOpSpec folds into opSpec', async () => {
    await post('/apis/v1/localservices/operations', { type: 'CREATE', spec: testSpec(), instancesPerHost: 1 });
    await post('/apis/v1/localservices/operations', { type: 'STOP', serviceId: 'TEST_SPEC-00001' });
    await post('/apis/v1/localservices/operations', {
      type: 'RESTART',
      serviceId: 'TEST_SPEC-00001',
      clusterOpSpec: { timeout: '5m', parallelism: 2, failureStrategy: 'stop' },
    });
    expect(core.operations[1]).toEqual({ type: 'DEACTIVATE', serviceId: 'TEST_SPEC-00001' });
    expect(core.operations[2]).toEqual({
      type: 'RESTART',
      serviceId: 'TEST_SPEC-00001',
      stopFirst: false,
      opSpec: { timeout: '5 minutes', parallelism: 2, failureStrategy: 'STOP' },
    });
  });

  test('core validation errors become the command-validation envelope', async () => {
    const res = await post('/apis/v1/localservices/operations', { type: 'ACTIVATE', serviceId: 'nope' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      status: 'FAILED',
      data: { validationErrors: ['No state found for local service: nope'] },
      message: 'Command validation failure',
    });
  });

  test('schema failures list "<path> <message>" for every field', async () => {
    const res = await post('/apis/v1/localservices/operations', { type: 'UPDATE_INSTANCE_COUNT', serviceId: '', instancesPerHost: 0 });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      status: 'FAILED',
      data: {
        validationErrors: ['serviceId - Service id is mandatory', 'instancesPerHost - Instances per host must be between 1 and 256'],
      },
      message: 'Command validation failure',
    });
  });

  test('explicit nulls count as absent', async () => {
    const res = await post('/apis/v1/localservices/operations', { type: 'ACTIVATE', serviceId: null });
    expect(res.json().data.validationErrors).toEqual(['serviceId - Service id is mandatory']);
  });

  test('unknown type is a JSON validation failure naming the value', async () => {
    const res = await post('/apis/v1/localservices/operations', { type: 'EXPLODE', serviceId: 'x' });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toBe('JSON validation failure');
    expect(res.json().data.validationErrors[0]).toContain('"EXPLODE" is not a known type id');
  });

  test('malformed JSON is a JSON validation failure', async () => {
    const res = await api.inject({
      method: 'POST',
      url: '/apis/v1/localservices/operations',
      headers: { ...ADMIN, 'content-type': 'application/json' },
      payload: '{"type": "ACTIVATE",',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toBe('JSON validation failure');
    expect(res.json().data.validationErrors[0]).toMatch(/^Malformed JSON body/);
  });

  test('a missing body is a validation failure, not a crash', async () => {
    const res = await api.inject({ method: 'POST', url: '/apis/v1/localservices/operations', headers: ADMIN });
    expect(res.statusCode).toBe(400);
    expect(res.json().data.validationErrors).toEqual(['Request body is mandatory and must be a JSON object']);
  });

  test('wrong content type is a 415 naming application/json', async () => {
    const res = await api.inject({
      method: 'POST',
      url: '/apis/v1/localservices/operations',
      headers: { ...ADMIN, 'content-type': 'text/xml' },
      payload: '<op/>',
    });
    expect(res.statusCode).toBe(415);
    expect(res.json().data.validationErrors[0]).toContain('application/json');
  });

  test('body over the limit is a 413 envelope', async () => {
    const res = await post('/apis/v1/localservices/operations', { type: 'ACTIVATE', serviceId: 'x'.repeat(2 * 1024 * 1024) });
    expect(res.statusCode).toBe(413);
    expect(res.json().data.validationErrors[0]).toContain('larger than the limit');
  });

  test('maintenance window rejects operations and spec validation', async () => {
    core.maintenance = true;
    const expected = {
      status: 'FAILED',
      data: { validationErrors: ['Cluster is in maintenance mode'] },
      message: 'Command validation failure',
    };
    const op = await post('/apis/v1/localservices/operations', { type: 'CREATE', spec: testSpec(), instancesPerHost: 1 });
    const val = await post('/apis/v1/localservices/validate/spec', testSpec());
    expect([op.statusCode, val.statusCode]).toEqual([400, 400]);
    expect(op.json()).toEqual(expected);
    expect(val.json()).toEqual(expected);
    expect(core.operations).toEqual([]);
  });

  test('read-only users may not submit operations (403) but may validate specs', async () => {
    const op = await post('/apis/v1/localservices/operations', { type: 'ACTIVATE', serviceId: 'x' }, GUEST);
    expect(op.statusCode).toBe(403);
    expect(op.json().status).toBe('FAILED');
    const val = await post('/apis/v1/localservices/validate/spec', testSpec(), GUEST);
    expect(val.json()).toEqual({ status: 'SUCCESS', data: { valid: true }, message: 'success' });
  });

  test('validate/spec reports semantic errors from the core', async () => {
    const res = await post('/apis/v1/localservices/validate/spec', testSpec({ placementPolicy: { type: 'ANY' } }));
    expect(res.statusCode).toBe(400);
    expect(res.json().data.validationErrors).toEqual(['Only LOCAL placement policy is supported']);
  });

  test('unexpected core errors are a 500 envelope without stack', async () => {
    core.failNext = new Error('boom');
    const res = await post('/apis/v1/localservices/operations', { type: 'ACTIVATE', serviceId: 'x' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ status: 'FAILED', data: { failure: 'boom' }, message: 'Unexpected Server error' });
  });

  test('store unavailability is a 503 with a clear message', async () => {
    const { StoreUnavailableError } = await import('../../../src/controller/store/store.js');
    core.failNext = new StoreUnavailableError('etcd quorum lost');
    const res = await post('/apis/v1/localservices/operations', { type: 'ACTIVATE', serviceId: 'x' });
    expect(res.statusCode).toBe(503);
    expect(res.json().message).toContain('State store unavailable');
    expect(res.json().message).toContain('etcd quorum lost');
  });
});

describe('cancel', () => {
  test('success omits data', async () => {
    core.cancellable.add('S-1');
    const res = await api.inject({ method: 'POST', url: '/apis/v1/localservices/operations/S-1/cancel', headers: ADMIN });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'SUCCESS', message: 'success' });
  });

  test("curl --data '' (empty form body) is accepted", async () => {
    core.cancellable.add('S-1');
    const res = await api.inject({
      method: 'POST',
      url: '/apis/v1/localservices/operations/S-1/cancel',
      headers: { ...ADMIN, 'content-type': 'application/x-www-form-urlencoded' },
      payload: '',
    });
    expect(res.json()).toEqual({ status: 'SUCCESS', message: 'success' });
  });

  test('nothing to cancel is a 400', async () => {
    const res = await api.inject({ method: 'POST', url: '/apis/v1/localservices/operations/S-1/cancel', headers: ADMIN });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ status: 'FAILED', message: 'Current operation could not be cancelled' });
  });

  test('read-only users get 403', async () => {
    const res = await api.inject({ method: 'POST', url: '/apis/v1/localservices/operations/S-1/cancel', headers: GUEST });
    expect(res.statusCode).toBe(403);
  });
});

describe('reads', () => {
  beforeEach(async () => {
    await post('/apis/v1/localservices/operations', { type: 'CREATE', spec: testSpec(), instancesPerHost: 1 });
    const record = (instanceId: string, state: LocalServiceInstanceState) => instanceInfo({ instanceId, state, created: 1, updated: 2 });
    core.instances.push(record('SI-1', 'HEALTHY'), record('SI-2', 'UNREADY'), record('SI-3', 'STOPPED'), record('old', 'HEALTHY'));
  });

  test('list is a map keyed by service id', async () => {
    const res = await get('/apis/v1/localservices', GUEST);
    expect(Object.keys(res.json().data)).toEqual(['TEST_SPEC-00001']);
    expect(res.json().data['TEST_SPEC-00001']).toMatchObject({ id: 'TEST_SPEC-00001', state: 'INACTIVE', healthyInstances: 2 });
  });

  test('list validates from and size', async () => {
    for (const q of ['from=-1', 'size=2147483647', 'size=abc']) {
      const res = await get(`/apis/v1/localservices?${q}`);
      expect(res.statusCode, q).toBe(400);
      expect(res.json().data.validationErrors[0], q).toMatch(/^query param (from|size) /);
    }
    expect((await get('/apis/v1/localservices?from=1&size=5')).json().data).toEqual({});
  });

  test('summary and spec: found and not found (200 + FAILED)', async () => {
    expect((await get('/apis/v1/localservices/TEST_SPEC-00001')).json().data.name).toBe('TEST_SPEC');
    const spec = (await get('/apis/v1/localservices/TEST_SPEC-00001/spec')).json().data;
    expect(spec.configs[0].data).toBe('');
    for (const url of ['/apis/v1/localservices/nope', '/apis/v1/localservices/nope/spec']) {
      const res = await get(url);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: 'FAILED', message: 'Local service nope not found' });
    }
  });

  test("summary: Drove's keys in Drove's order, then requiredInstances, then the crash loops (drove-ts) only when there are any", async () => {
    const drove = ['id', 'name', 'instancesPerHost', 'healthyInstances', 'totalCPUs', 'totalMemory', 'tags', 'activationState', 'state', 'created', 'updated'];
    expect(Object.keys((await get('/apis/v1/localservices/TEST_SPEC-00001')).json().data)).toEqual([...drove, 'requiredInstances']);
    const loop = {
      executorId: 'E1',
      hostname: 'ex1.local',
      restartCount: 3,
      lastFailure: { instanceId: 'SI-9', reason: 'Readiness check failed', time: 100 },
      nextAttemptAt: 20_100,
    };
    core.crashLoops.set('TEST_SPEC-00001', [loop]);
    const summary = (await get('/apis/v1/localservices/TEST_SPEC-00001')).json().data;
    expect(Object.keys(summary)).toEqual([...drove, 'requiredInstances', 'crashLoops']);
    expect(summary.crashLoops).toEqual([loop]);
    expect((await get('/apis/v1/localservices')).json().data['TEST_SPEC-00001'].crashLoops).toEqual([loop]);
  });

  test('instances with repeated state filter, and an invalid state is a 400', async () => {
    const all = (await get('/apis/v1/localservices/TEST_SPEC-00001/instances')).json().data;
    expect(all.map((i: { instanceId: string }) => i.instanceId)).toEqual(['SI-1', 'SI-2', 'old']);
    const healthy = (await get('/apis/v1/localservices/TEST_SPEC-00001/instances?state=HEALTHY&state=STOPPED')).json().data;
    expect(healthy.map((i: { instanceId: string }) => i.instanceId)).toEqual(['SI-1', 'old']);
    const bad = await get('/apis/v1/localservices/TEST_SPEC-00001/instances?state=BOGUS');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().data.validationErrors[0]).toContain('"BOGUS"');
  });

  test('a long instance list is the envelope of every record, and every change shows in the next read', async () => {
    const many = Array.from({ length: 2_000 }, (_, k) => instanceInfo({ instanceId: `SI-M${k}`, state: 'HEALTHY', created: 1, updated: 2 }));
    core.instances.splice(0, core.instances.length, ...many);
    const first = await get('/apis/v1/localservices/TEST_SPEC-00001/instances');
    expect(first.body).toBe(JSON.stringify(success(many)));
    // A report replaces a record with a new one (the working set's records are frozen): the next read has it.
    core.instances[7] = { ...many[7]!, state: 'UNHEALTHY', updated: 3 };
    core.instances[8] = { ...many[8]!, state: 'STOPPED', updated: 3 };
    const next = (await get('/apis/v1/localservices/TEST_SPEC-00001/instances')).json().data as LocalServiceInstanceInfo[];
    expect(next).toHaveLength(1_999);
    expect(next[7]).toMatchObject({ instanceId: 'SI-M7', state: 'UNHEALTHY', updated: 3 });
    expect(next.some((i) => i.instanceId === 'SI-M8')).toBe(false);
    const old = (await get('/apis/v1/localservices/TEST_SPEC-00001/instances/old')).json().data as LocalServiceInstanceInfo[];
    expect(old.map((i) => i.instanceId)).toEqual(['SI-M8']);
  });

  test('/instances/old is the literal path, not an instance id', async () => {
    const old = (await get('/apis/v1/localservices/TEST_SPEC-00001/instances/old')).json();
    expect(old.data.map((i: { instanceId: string }) => i.instanceId)).toEqual(['SI-3']);
  });

  test('single instance: found and not found', async () => {
    expect((await get('/apis/v1/localservices/TEST_SPEC-00001/instances/SI-3')).json().data.state).toBe('STOPPED');
    const res = await get('/apis/v1/localservices/TEST_SPEC-00001/instances/SI-9');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'FAILED', message: 'No such local service instance TEST_SPEC-00001/SI-9' });
  });
});
