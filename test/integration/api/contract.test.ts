import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  ADMIN,
  CLUSTER_HEADERS,
  FollowerElector,
  GUEST,
  MAINT,
  executorMessages,
  instance,
  startHarness,
  validSpec,
  type Harness,
} from '../../support/api-harness.js';
import { waitUntil } from '../../support/wait.js';

/** Contract tests of every endpoint against the real controller core and a real SQLite store. */

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => h.close());

const post = (url: string, payload?: unknown, headers: Record<string, string> = ADMIN) =>
  h.api.inject({ method: 'POST', url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
const get = (url: string, headers: Record<string, string> = GUEST) => h.api.inject({ method: 'GET', url, headers });
const op = (body: unknown, headers?: Record<string, string>) => post('/apis/v1/localservices/operations', body, headers);
const SID = 'TEST_SPEC-00001';
/** Instance ids as the controller makes them (reports with other ids are refused); sorted as numbered. */
const [SI1, SI2, SI3, SI9] = [1, 2, 3, 9].map((n) => `SI-00000000-0000-4000-8000-00000000000${n}`) as [string, string, string, string];
/** Applying a report batch is one SQLite transaction: milliseconds; generous for a loaded CI machine. */
const REPORT_APPLY_DEADLINE_MS = 5_000;

async function create(instancesPerHost = 1) {
  const res = await op({ type: 'CREATE', spec: validSpec(), instancesPerHost });
  expect(res.json()).toEqual({ status: 'SUCCESS', data: { serviceId: SID }, message: 'success' });
}

async function report(instances: ReturnType<typeof instance>[]) {
  for (const message of executorMessages(h.clock.now(), instances)) {
    const res = await post('/apis/v1/messages', message, CLUSTER_HEADERS);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().status).toBe('ACCEPTED');
  }
  // Reports are queued and applied in a batch; wait until every reported instance reads back as reported.
  await h.clock.advance(10);
  const applied = async () => {
    for (const i of instances) {
      const res = await get(`/apis/v1/localservices/${i.serviceId}/instances/${i.instanceId}`);
      if (res.json().data?.state !== i.state) return false;
    }
    return true;
  };
  await waitUntil('the reports applied', applied, { timeoutMs: REPORT_APPLY_DEADLINE_MS, intervalMs: 0 });
}

describe('POST /apis/v1/localservices/validate/spec', () => {
  test('valid', async () => {
    const res = await post('/apis/v1/localservices/validate/spec', validSpec(), GUEST);
    expect(res.json()).toEqual({ status: 'SUCCESS', data: { valid: true }, message: 'success' });
  });
  test('semantic failure with literal texts', async () => {
    const res = await post('/apis/v1/localservices/validate/spec', validSpec({ placementPolicy: { type: 'ANY' } }));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      status: 'FAILED',
      data: { validationErrors: ['Only local placement is allowed for local services'] },
      message: 'Command validation failure',
    });
  });
  test('401 without credentials', async () => {
    expect((await h.api.inject({ method: 'POST', url: '/apis/v1/localservices/validate/spec', payload: validSpec() })).statusCode).toBe(401);
  });
});

describe('POST /apis/v1/localservices/operations', () => {
  test('create then activate; record stored INACTIVE first (docs/design/operations.md#create)', async () => {
    await create();
    expect((await get(`/apis/v1/localservices/${SID}`)).json().data.activationState).toBe('INACTIVE');
    const res = await op({ type: 'ACTIVATE', serviceId: SID });
    expect(res.json()).toEqual({ status: 'SUCCESS', data: { serviceId: SID }, message: 'success' });
  });
  test('validation failure texts from the real validator', async () => {
    await create();
    const dup = await op({ type: 'CREATE', spec: validSpec(), instancesPerHost: 1 });
    expect(dup.statusCode).toBe(400);
    expect(dup.json().data.validationErrors).toEqual([`Local service ${SID} already exists`]);
    const missing = await op({ type: 'ACTIVATE', serviceId: 'NOPE-1' });
    expect(missing.json().data.validationErrors).toEqual(['No state found for local service: NOPE-1']);
    const wrongState = await op({ type: 'DEACTIVATE', serviceId: SID });
    expect(wrongState.json().data.validationErrors).toEqual([
      `Only [ACTIVATE, ADJUST_INSTANCES, DEPLOY_TEST_INSTANCE, DESTROY, UPDATE_INSTANCE_COUNT] allowed for local service ${SID} as it is in INACTIVE state`,
    ]);
  });
  test('403 for read-only users, 401 without credentials', async () => {
    expect((await op({ type: 'ACTIVATE', serviceId: SID }, GUEST)).statusCode).toBe(403);
    expect((await op({ type: 'ACTIVATE', serviceId: SID }, {})).statusCode).toBe(401);
  });
  test('maintenance window blocks operations', async () => {
    await create();
    expect((await post('/apis/v1/cluster/maintenance/set', {}, MAINT)).json().data.state).toBe('MAINTENANCE');
    const res = await op({ type: 'ACTIVATE', serviceId: SID });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      status: 'FAILED',
      data: { validationErrors: ['Cluster is in maintenance mode'] },
      message: 'Command validation failure',
    });
  });
});

describe('cancel', () => {
  test('nothing running: 400 with the literal message', async () => {
    await create();
    const res = await post(`/apis/v1/localservices/operations/${SID}/cancel`);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ status: 'FAILED', message: 'Current operation could not be cancelled' });
  });
  test('403 for read-only', async () => {
    expect((await post(`/apis/v1/localservices/operations/${SID}/cancel`, undefined, GUEST)).statusCode).toBe(403);
  });
});

describe('local service reads', () => {
  test('list, summary, spec (masked) and not-found shapes', async () => {
    await create();
    const list = (await get('/apis/v1/localservices')).json();
    expect(list.status).toBe('SUCCESS');
    expect(list.data[SID]).toMatchObject({ id: SID, name: 'TEST_SPEC', instancesPerHost: 1, activationState: 'INACTIVE', state: 'INACTIVE' });
    // Drove's keys in Drove's order, then drove-ts's requiredInstances (docs/design/placement.md#tag-constraints).
    const order = ['id', 'name', 'instancesPerHost', 'healthyInstances', 'totalCPUs', 'totalMemory', 'tags', 'activationState', 'state', 'created', 'updated', 'requiredInstances'];
    expect(Object.keys(list.data[SID])).toEqual(order);
    expect(Object.keys((await get(`/apis/v1/localservices/${SID}`)).json().data)).toEqual(order);
    expect((await get('/apis/v1/localservices?from=1')).json().data).toEqual({});
    expect((await get('/apis/v1/localservices?size=2147483647')).statusCode).toBe(400);
    const spec = (await get(`/apis/v1/localservices/${SID}/spec`)).json().data;
    expect(spec.configs[0].data).toBe('');
    expect((await get(`/apis/v1/localservices/${SID}/spec`)).json().data.configs[0].data).toBe('');
    for (const url of ['/apis/v1/localservices/NOPE-1', '/apis/v1/localservices/NOPE-1/spec']) {
      const res = await get(url);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: 'FAILED', message: 'Local service NOPE-1 not found' });
    }
  });

  test('instances, state filter, old, single instance (data from executor messages)', async () => {
    await create();
    await op({ type: 'ACTIVATE', serviceId: SID });
    const now = h.clock.now();
    await report([instance(now, SID, SI1, 'HEALTHY'), instance(now, SID, SI2, 'UNREADY'), instance(now, SID, SI3, 'STOPPED')]);
    const ids = (res: { json(): { data: Array<{ instanceId: string }> } }) => res.json().data.map((i) => i.instanceId).sort();
    expect(ids(await get(`/apis/v1/localservices/${SID}/instances`))).toEqual([SI1, SI2]);
    expect(ids(await get(`/apis/v1/localservices/${SID}/instances?state=HEALTHY&state=STOPPED`))).toEqual([SI1]);
    expect(ids(await get(`/apis/v1/localservices/${SID}/instances/old`))).toEqual([SI3]);
    expect((await get(`/apis/v1/localservices/${SID}/instances/${SI3}`)).json().data.state).toBe('STOPPED');
    const missing = await get(`/apis/v1/localservices/${SID}/instances/${SI9}`);
    expect(missing.json()).toEqual({ status: 'FAILED', message: `No such local service instance ${SID}/${SI9}` });
    expect((await get(`/apis/v1/localservices/${SID}/instances?state=NOPE`)).statusCode).toBe(400);
    expect((await get(`/apis/v1/localservices/${SID}`)).json().data.healthyInstances).toBe(1);
  });
});

describe('cluster, executors, events, internal', () => {
  test('ping, summary, dashboard', async () => {
    expect((await get('/apis/v1/ping')).json()).toEqual({ status: 'SUCCESS', data: 'pong', message: 'success' });
    const summary = (await get('/apis/v1/cluster')).json().data;
    expect(summary).toMatchObject({ leader: 'ctrl1.local:10000', state: 'NORMAL', numApplications: 0, numActiveApplications: 0 });
    const dash = (await get('/apis/v1/cluster/dashboard')).json().data;
    expect(Object.keys(dash.serviceStats.serviceCountByState)).toContain('ACTIVE');
  });

  test('executors list / node data / not found / blacklist shapes', async () => {
    await create();
    // Active, so the reported instance is wanted and the controller has nothing to send to the fake executor.
    await op({ type: 'ACTIVATE', serviceId: SID });
    await report([instance(h.clock.now(), SID, SI1, 'HEALTHY')]);
    const list = (await get('/apis/v1/cluster/executors')).json().data;
    expect(list).toHaveLength(1);
    const id = list[0].executorId;
    expect(Object.keys(list[0])).toEqual(['executorId', 'hostname', 'port', 'transportType', 'freeCores', 'usedCores', 'freeMemory', 'usedMemory', 'tags', 'state']);
    const node = (await get(`/apis/v1/cluster/executors/${id}`)).json().data;
    expect(node.type).toBe('EXECUTOR');
    expect(node.serviceInstances.map((i: { instanceId: string }) => i.instanceId)).toEqual([SI1]);
    expect((await get('/apis/v1/cluster/executors/nope')).json()).toEqual({ status: 'FAILED', message: 'No executor found with id: nope' });
    const bl = await post('/apis/v1/cluster/executors/blacklist?id=nope', {}, MAINT);
    expect(bl.json().data).toMatchObject({ successful: [], failed: ['nope'], approxCompletionTimeMs: 0 });
    expect((await post(`/apis/v1/cluster/executors/${id}/blacklist`, {}, ADMIN)).statusCode).toBe(403);
  });

  test('events: latest, summary, bare array', async () => {
    await create();
    const latest = (await get('/apis/v1/cluster/events/latest')).json().data;
    expect(latest.events.some((e: { type: string }) => e.type === 'LOCAL_SERVICE_STATE_CHANGE')).toBe(true);
    expect(latest.lastSyncTime).toBeGreaterThan(0);
    const none = (await get(`/apis/v1/cluster/events/latest?lastSyncTime=${latest.lastSyncTime}`)).json().data;
    expect(none.events).toEqual([]);
    expect((await get('/apis/v1/cluster/events/summary')).json().data.eventsCount.LOCAL_SERVICE_STATE_CHANGE).toBeGreaterThan(0);
    expect(Array.isArray((await get('/apis/v1/cluster/events')).json().data)).toBe(true);
  });

  test('internal cluster APIs need the cluster secret', async () => {
    await create();
    await op({ type: 'ACTIVATE', serviceId: SID });
    await h.clock.advance(100);
    const reserved = (await get('/apis/v1/internal/cluster/resources/reserved', CLUSTER_HEADERS)).json().data;
    expect(reserved).toEqual({ cpus: 1, memory: 512, requiredInstances: { [SID]: 1 } });
    expect((await get('/apis/v1/internal/cluster/resources/reserved', ADMIN)).statusCode).toBe(403);
    const missing = await get('/apis/v1/internal/cluster/executors/nope/instances/current', CLUSTER_HEADERS);
    expect(missing.json()).toEqual({ status: 'FAILED', message: 'No data found for executor nope' });
    expect((await get('/apis/v1/internal/cluster/executors/nope/instances/last', CLUSTER_HEADERS)).json().status).toBe('SUCCESS');
  });

  test('log proxy: unknown instance is 204', async () => {
    expect((await get(`/apis/v1/logfiles/localservices/${SID}/SI-00000000-0000-4000-8000-000000000009/list`)).statusCode).toBe(204);
  });
});

describe('not the leader', () => {
  test('every API answers 400 with the leader address', async () => {
    const follower = await startHarness({ leadership: new FollowerElector() });
    try {
      for (const [method, url] of [
        ['GET', '/apis/v1/ping'],
        ['GET', '/apis/v1/localservices'],
        ['POST', '/apis/v1/localservices/operations'],
        ['POST', '/apis/v1/messages'],
      ] as const) {
        const res = await follower.api.inject({ method, url, headers: method === 'POST' && url.endsWith('messages') ? CLUSTER_HEADERS : ADMIN, ...(method === 'POST' ? { payload: {} } : {}) });
        expect(res.statusCode, url).toBe(400);
        expect(res.json()).toEqual({ status: 'FAILED', data: { leader: 'ctrl2.local:10000' }, message: 'This node is not the leader controller' });
      }
    } finally {
      await follower.close();
    }
  });
});

describe('every endpoint: 401 without credentials, 403 for roles it does not allow', () => {
  const ENDPOINTS: Array<[method: 'GET' | 'POST', url: string, forbiddenFor: Record<string, string>[]]> = [
    ['POST', '/apis/v1/localservices/validate/spec', []],
    ['POST', '/apis/v1/localservices/operations', [GUEST, MAINT, CLUSTER_HEADERS]],
    ['POST', `/apis/v1/localservices/operations/${SID}/cancel`, [GUEST, MAINT]],
    ['GET', '/apis/v1/localservices', []],
    ['GET', `/apis/v1/localservices/${SID}`, []],
    ['GET', `/apis/v1/localservices/${SID}/spec`, []],
    ['GET', `/apis/v1/localservices/${SID}/instances`, []],
    ['GET', `/apis/v1/localservices/${SID}/instances/old`, []],
    ['GET', `/apis/v1/localservices/${SID}/instances/SI-1`, []],
    ['GET', '/apis/v1/ping', []],
    ['GET', '/apis/v1/cluster', []],
    ['GET', '/apis/v1/cluster/dashboard', []],
    ['POST', '/apis/v1/cluster/maintenance/set', [ADMIN, GUEST, CLUSTER_HEADERS]],
    ['POST', '/apis/v1/cluster/maintenance/unset', [ADMIN, GUEST]],
    ['GET', '/apis/v1/cluster/executors', []],
    ['GET', '/apis/v1/cluster/executors/E1', []],
    ['POST', '/apis/v1/cluster/executors/blacklist?id=E1', [ADMIN, GUEST]],
    ['POST', '/apis/v1/cluster/executors/unblacklist?id=E1', [ADMIN, GUEST]],
    ['POST', '/apis/v1/cluster/executors/E1/blacklist', [ADMIN, GUEST]],
    ['POST', '/apis/v1/cluster/executors/E1/unblacklist', [ADMIN, GUEST]],
    ['GET', '/apis/v1/cluster/events/latest', []],
    ['GET', '/apis/v1/cluster/events/summary', []],
    ['GET', '/apis/v1/cluster/events', []],
    ['GET', `/apis/v1/logfiles/localservices/${SID}/SI-1/list`, [MAINT, CLUSTER_HEADERS]],
    ['GET', `/apis/v1/logfiles/localservices/${SID}/SI-1/read/output.log`, [MAINT]],
    ['GET', `/apis/v1/logfiles/localservices/${SID}/SI-1/download/output.log`, [MAINT]],
    ['GET', '/apis/v1/internal/cluster/resources/reserved', [ADMIN, GUEST, MAINT]],
    ['GET', '/apis/v1/internal/cluster/executors/E1/instances/last', [ADMIN]],
    ['GET', '/apis/v1/internal/cluster/executors/E1/instances/current', [ADMIN]],
    ['POST', '/apis/v1/messages', [ADMIN, GUEST, MAINT]],
    ['GET', '/apis/openapi.json', []],
  ];
  for (const [method, url, forbidden] of ENDPOINTS) {
    test(`${method} ${url}`, async () => {
      const anonymous = await h.api.inject({ method, url, ...(method === 'POST' ? { payload: {} } : {}) });
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.headers['www-authenticate']).toBe('Basic realm="realm"');
      for (const headers of forbidden) {
        const res = await h.api.inject({ method, url, headers, ...(method === 'POST' ? { payload: {} } : {}) });
        expect(res.statusCode, JSON.stringify(headers)).toBe(403);
      }
    });
  }
});

describe('maintenance and blacklisting shapes on the real core', () => {
  test('maintenance unset and unblacklist of an unknown executor', async () => {
    await post('/apis/v1/cluster/maintenance/set', {}, MAINT);
    const unset = (await post('/apis/v1/cluster/maintenance/unset', {}, MAINT)).json();
    expect(unset).toMatchObject({ status: 'SUCCESS', data: { state: 'NORMAL' }, message: 'success' });
    expect(typeof unset.data.updated).toBe('number');
    // Inside the grace window after the change, operations are still refused.
    expect((await op({ type: 'ACTIVATE', serviceId: SID })).json().data.validationErrors).toEqual(['Cluster is in maintenance mode']);
    const ub = (await post('/apis/v1/cluster/executors/unblacklist?id=nope&id=nope2', {}, MAINT)).json();
    expect(ub.data).toMatchObject({ successful: [], failed: ['nope', 'nope2'], approxCompletionTimeMs: 0 });
  });
});
