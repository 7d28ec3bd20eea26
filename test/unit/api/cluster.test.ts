import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { FakeCore } from '../../support/fake-core.js';
import { ADMIN, GUEST, MAINT, NODE, app } from '../../support/controller-config.js';
import type { ExecutorNodeData } from '../../../src/model/index.js';
import { NotLeaderError } from '../../../src/controller/core.js';

let core: FakeCore;
let api: FastifyInstance;
beforeEach(async () => {
  core = new FakeCore();
  api = app(core);
});
afterEach(async () => api.close());

const EXECUTOR: ExecutorNodeData = {
  type: 'EXECUTOR',
  hostname: 'ex1.local',
  port: 3000,
  transportType: 'HTTP',
  updated: 1714000020000,
  state: {
    executorId: 'E1',
    cpus: { type: 'CPU', freeCores: { '0': [0, 1] }, usedCores: {} },
    memory: { type: 'MEMORY', freeMemory: { '0': 1000 }, usedMemory: {} },
    layout: { cores: { '0': [0, 1] }, memory: { '0': 1000 } },
  },
  instances: [],
  tasks: [],
  serviceInstances: [],
  tags: ['ex1.local'],
  metadata: {},
  executorState: 'ACTIVE',
};

describe('cluster', () => {
  test('ping', async () => {
    const res = await api.inject({ url: '/apis/v1/ping', headers: GUEST });
    expect(res.json()).toEqual({ status: 'SUCCESS', data: 'pong', message: 'success' });
  });

  test('summary keeps Drove key order', async () => {
    const res = await api.inject({ url: '/apis/v1/cluster', headers: GUEST });
    expect(Object.keys(res.json().data)).toEqual([
      'leader', 'state', 'numExecutors', 'numApplications', 'numActiveApplications', 'numActiveTasks', 'numLocalServices',
      'numActiveLocalServices', 'freeCores', 'usedCores', 'totalCores', 'freeMemory', 'usedMemory', 'totalMemory',
    ]);
  });

  test('dashboard', async () => {
    const res = await api.inject({ url: '/apis/v1/cluster/dashboard', headers: GUEST });
    expect(res.json().data.serviceStats.serviceCountByState.ACTIVE).toBe(0);
    expect(res.json().data.clusterSummary.state).toBe('NORMAL');
  });

  test('a write that finds leadership gone meanwhile is answered as the leader guard answers a follower', async () => {
    core.setMaintenance = async () => {
      throw new NotLeaderError();
    };
    const set = await api.inject({ method: 'POST', url: '/apis/v1/cluster/maintenance/set', headers: MAINT, payload: {} });
    expect(set.statusCode).toBe(400);
    expect(set.json()).toEqual({ status: 'FAILED', message: 'This node is not the leader controller', data: { leader: 'ctrl1.local:10000' } });
  });

  test('maintenance set/unset need MAINTENANCE or ROOT', async () => {
    const set = await api.inject({ method: 'POST', url: '/apis/v1/cluster/maintenance/set', headers: MAINT, payload: {} });
    expect(set.json()).toEqual({ status: 'SUCCESS', data: { state: 'MAINTENANCE', updated: 1_700_000_000_000 }, message: 'success' });
    expect((await api.inject({ method: 'POST', url: '/apis/v1/cluster/maintenance/unset', headers: ADMIN, payload: {} })).statusCode).toBe(403);
    const unset = await api.inject({ method: 'POST', url: '/apis/v1/cluster/maintenance/unset', headers: MAINT, payload: {} });
    expect(unset.json().data.state).toBe('NORMAL');
  });

  test('unknown path is a 404 envelope', async () => {
    const res = await api.inject({ url: '/apis/v1/nothing', headers: GUEST });
    expect(res.statusCode).toBe(404);
    expect(res.json().status).toBe('FAILED');
  });

  test('application paths answer as a Drove cluster without applications', async () => {
    expect((await api.inject({ url: '/apis/v1/applications/X/instances', headers: GUEST })).json()).toEqual({ status: 'SUCCESS', data: [], message: 'success' });
    expect((await api.inject({ url: '/apis/v1/endpoints', headers: GUEST })).json().data).toEqual([]);
    expect((await api.inject({ url: '/apis/v1/applications', headers: GUEST })).json().data).toEqual({});
  });
});

describe('executors', () => {
  beforeEach(() => {
    core.executors.set('E1', EXECUTOR);
  });

  test('list and node data; unknown is 200 + FAILED', async () => {
    const list = (await api.inject({ url: '/apis/v1/cluster/executors', headers: GUEST })).json().data;
    expect(Object.keys(list[0])).toEqual(['executorId', 'hostname', 'port', 'transportType', 'freeCores', 'usedCores', 'freeMemory', 'usedMemory', 'tags', 'state']);
    expect((await api.inject({ url: '/apis/v1/cluster/executors/E1', headers: GUEST })).json().data).toEqual(EXECUTOR);
    const missing = await api.inject({ url: '/apis/v1/cluster/executors/nope', headers: GUEST });
    expect(missing.statusCode).toBe(200);
    expect(missing.json()).toEqual({ status: 'FAILED', message: 'No executor found with id: nope' });
  });

  test('blacklist single and bulk forms, unknown ids in failed', async () => {
    const one = await api.inject({ method: 'POST', url: '/apis/v1/cluster/executors/E1/blacklist', headers: MAINT, payload: {} });
    expect(one.json().data).toEqual({ successful: ['E1'], failed: [], approxCompletionTimeMs: 0, message: 'Blacklisting successful and app movement scheduled' });
    const bulk = await api.inject({ method: 'POST', url: '/apis/v1/cluster/executors/unblacklist?id=E1&id=bogus', headers: MAINT, payload: {} });
    expect(bulk.json().data).toMatchObject({ successful: ['E1'], failed: ['bogus'] });
    const none = await api.inject({ method: 'POST', url: '/apis/v1/cluster/executors/blacklist', headers: MAINT, payload: {} });
    expect(none.statusCode).toBe(400);
    expect(none.json().data.validationErrors[0]).toContain('query param id');
    expect((await api.inject({ method: 'POST', url: '/apis/v1/cluster/executors/E1/blacklist', headers: ADMIN, payload: {} })).statusCode).toBe(403);
  });
});

describe('events', () => {
  beforeEach(() => {
    core.events.push(
      { type: 'EXECUTOR_ADDED', id: 'a', time: 10, metadata: { EXECUTOR_ID: 'E1' } },
      { type: 'LOCAL_SERVICE_STATE_CHANGE', id: 'b', time: 20, metadata: { LOCAL_SERVICE_ID: 'S-1' } },
    );
  });

  test('latest, summary and the deprecated bare array', async () => {
    const latest = (await api.inject({ url: '/apis/v1/cluster/events/latest?lastSyncTime=10', headers: GUEST })).json().data;
    expect(latest).toEqual({ events: [core.events[1]], lastSyncTime: 20 });
    const summary = (await api.inject({ url: '/apis/v1/cluster/events/summary', headers: GUEST })).json().data;
    expect(summary.eventsCount).toEqual({ EXECUTOR_ADDED: 1, LOCAL_SERVICE_STATE_CHANGE: 1 });
    const bare = (await api.inject({ url: '/apis/v1/cluster/events?size=1&lastSyncTime=0', headers: GUEST })).json().data;
    expect(bare.map((e: { id: string }) => e.id)).toEqual(['b']);
  });

  test('bad lastSyncTime or size is a 400 naming the parameter', async () => {
    const res = await api.inject({ url: '/apis/v1/cluster/events?lastSyncTime=-5&size=x', headers: GUEST });
    expect(res.statusCode).toBe(400);
    expect(res.json().data.validationErrors).toEqual([
      'query param lastSyncTime must be greater than or equal to 0',
      'query param size must be an integer, got "x"',
    ]);
  });
});

describe('internal and messages', () => {
  test('reserved resources and known instances', async () => {
    core.executors.set('E1', EXECUTOR);
    expect((await api.inject({ url: '/apis/v1/internal/cluster/resources/reserved', headers: NODE })).json().data).toEqual({ cpus: 0, memory: 0, requiredInstances: {} });
    const current = await api.inject({ url: '/apis/v1/internal/cluster/executors/E1/instances/current', headers: NODE });
    expect(current.json().data.localServiceInstanceIds).toEqual(['SI-1']);
    const missing = await api.inject({ url: '/apis/v1/internal/cluster/executors/E9/instances/current', headers: NODE });
    expect(missing.json()).toEqual({ status: 'FAILED', message: 'No data found for executor E9' });
    const last = await api.inject({ url: '/apis/v1/internal/cluster/executors/E9/instances/last', headers: NODE });
    expect(last.json().data.localServiceInstanceIds).toEqual([]);
  });

  test('executor message is parsed and answered with a bare MessageResponse', async () => {
    const header = { id: 'm1', senderType: 'EXECUTOR', direction: 'REQUEST', messageTime: 1 };
    const res = await api.inject({
      method: 'POST',
      url: '/apis/v1/messages',
      headers: NODE,
      payload: { type: 'EXECUTOR_SNAPSHOT', header, nodeData: EXECUTOR },
    });
    expect(res.json()).toEqual({ header, status: 'ACCEPTED' });
    expect(core.messages).toHaveLength(1);
    const bad = await api.inject({ method: 'POST', url: '/apis/v1/messages', headers: NODE, payload: { type: 'NOPE', header } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toBe('JSON validation failure');
    expect((await api.inject({ method: 'POST', url: '/apis/v1/messages', headers: ADMIN, payload: {} })).statusCode).toBe(403);
  });
});

describe('openapi', () => {
  test('document is generated from the zod schemas', async () => {
    const doc = (await api.inject({ url: '/apis/openapi.json', headers: GUEST })).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.paths['/apis/v1/localservices/operations'].post.requestBody.content['application/json'].schema.$ref).toBe(
      '#/components/schemas/LocalServiceOperation',
    );
    const spec = doc.components.schemas.LocalServiceSpec;
    expect(spec.required).toContain('name');
    expect(spec.properties.name.pattern).toBeDefined();
    expect(JSON.stringify(doc.components.schemas.LocalServiceOperation)).toContain('UPDATE_INSTANCE_COUNT');
  });

  test('documents hostAccess in the spec and the instance record, each field described', async () => {
    const doc = (await api.inject({ url: '/apis/openapi.json', headers: GUEST })).json();
    const access = doc.components.schemas.LocalServiceSpec.properties.hostAccess;
    expect(Object.keys(access.properties).sort()).toEqual(
      ['addCapabilities', 'dropCapabilities', 'network', 'pid', 'privileged', 'readOnlyRootFilesystem'],
    );
    for (const field of Object.values(access.properties) as Array<{ description?: string }>) expect(field.description).toBeTruthy();
    expect(access.properties.network.description).toContain('enableHostNetwork');
    expect(access.properties.addCapabilities.items.description).toContain('NET_ADMIN');
    expect(doc.components.schemas.LocalServiceInstanceInfo.properties.hostAccess.description).toContain('applied');
  });
});

describe('openapi: placement policies (docs/design/placement.md#tag-constraints)', () => {
  test('documents the COMPOSITE of LOCAL and tag constraints, level by level down to the depth limit', async () => {
    const doc = (await api.inject({ url: '/apis/openapi.json', headers: GUEST })).json();
    const policy = doc.components.schemas.LocalServiceSpec.properties.placementPolicy;
    expect(policy.description).toContain('COMPOSITE');
    expect(Object.keys(policy.properties).sort()).toEqual(['combiner', 'hostLevel', 'policies', 'tag', 'type']);
    for (const field of Object.values(policy.properties) as Array<{ description?: string }>) expect(field.description).toBeTruthy();
    expect(policy.properties.tag.description).toContain('MATCH_TAG');
    expect(policy.properties.combiner.enum).toEqual(['AND', 'OR']);
    // Nested policies have the same fields, down to level 4, whose `policies` must be empty.
    let level = policy;
    for (let depth = 1; depth < 4; depth++) level = level.properties.policies.items;
    expect(level.properties.policies.maxItems).toBe(0);
  });
});

describe('openapi: crash loops', () => {
  test('documents the summary extension and every field of a crash loop', async () => {
    const doc = (await api.inject({ url: '/apis/openapi.json', headers: GUEST })).json();
    const loop = doc.components.schemas.LocalServiceCrashLoop;
    expect(Object.keys(loop.properties).sort()).toEqual(['executorId', 'hostname', 'lastFailure', 'nextAttemptAt', 'restartCount']);
    expect(loop.description).toContain('crash loop');
    for (const name of ['restartCount', 'nextAttemptAt']) expect(loop.properties[name].description).toBeTruthy();
    for (const field of Object.values(loop.properties.lastFailure.properties) as Array<{ description?: string }>) expect(field.description).toBeTruthy();
    expect(doc.paths['/apis/v1/localservices/{serviceId}'].get.description).toContain('crashLoops: LocalServiceCrashLoop[]');
  });

  test('the summary routes name both summary extensions, requiredInstances and crashLoops', async () => {
    const doc = (await api.inject({ url: '/apis/openapi.json', headers: GUEST })).json();
    for (const path of ['/apis/v1/localservices/{serviceId}', '/apis/v1/localservices']) {
      expect(doc.paths[path].get.description).toContain('requiredInstances');
      expect(doc.paths[path].get.description).toContain('crashLoops');
    }
  });
});

describe('openapi completeness', () => {
  test('every API route is documented (except the application stubs and the document itself)', async () => {
    const { buildControllerApp } = await import('../../../src/controller/api/app.js');
    const { testConfig } = await import('../../support/controller-config.js');
    const fresh = buildControllerApp({ core: new FakeCore(), config: testConfig() });
    const routes: string[] = [];
    fresh.addHook('onRoute', (r) => {
      const methods = Array.isArray(r.method) ? r.method : [r.method];
      for (const m of methods) if (m === 'GET' || m === 'POST') routes.push(`${m.toLowerCase()} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
    });
    await fresh.ready();
    const doc = (await fresh.inject({ url: '/apis/openapi.json', headers: GUEST })).json();
    const documented = new Set(Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ms]) => Object.keys(ms).map((m) => `${m} ${p}`)));
    // Console pages and assets (outside /apis) are no API.
    const api = routes.filter((r) => r.startsWith('get /apis/') || r.startsWith('post /apis/'));
    const missing = api.filter((r) => !documented.has(r) && !r.includes('/applications') && !r.includes('/endpoints') && !r.includes('/tasks') && !r.includes('openapi') && !r.includes('/apis/ui/'));
    expect(routes.length).toBeGreaterThan(25);
    expect(missing).toEqual([]);
    await fresh.close();
  });
});
