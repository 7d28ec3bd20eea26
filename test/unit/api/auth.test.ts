import { afterEach, describe, expect, test } from 'vitest';
import bcrypt from 'bcryptjs';
import type { FastifyInstance } from 'fastify';
import { FakeCore } from '../../support/fake-core.js';
import { ADMIN, GUEST, MAINT, NODE, ROOT, app, basic, testConfig } from '../../support/controller-config.js';
import { Authenticator } from '../../../src/controller/api/auth.js';
import { ManualClock } from '../../../src/model/index.js';
import { instanceInfo } from '../../support/records.js';

let api: FastifyInstance | undefined;
afterEach(async () => api?.close());

const opBody = { type: 'ACTIVATE', serviceId: 'x' };

/** [method, url, body?] of one route per access level. */
const ROUTES = {
  read: ['GET', '/apis/v1/localservices'],
  write: ['POST', '/apis/v1/localservices/operations', opBody],
  maintenance: ['POST', '/apis/v1/cluster/maintenance/set', {}],
  logs: ['GET', '/apis/v1/logfiles/localservices/S-1/SI-00000000-0000-4000-8000-000000000001/list'],
  cluster: ['GET', '/apis/v1/internal/cluster/resources/reserved'],
} as const;

async function call(a: FastifyInstance, route: readonly [string, string, unknown?], headers: Record<string, string>) {
  return a.inject({ method: route[0] as 'GET', url: route[1], headers, ...(route[2] ? { payload: route[2] as object } : {}) });
}

describe('access matrix', () => {
  // Expected status per principal and access level; 200/400/204 all mean "passed auth" (400 = unknown service).
  const matrix: Array<[string, Record<string, string>, Record<keyof typeof ROUTES, number>]> = [
    ['root', ROOT, { read: 200, write: 400, maintenance: 200, logs: 204, cluster: 403 }],
    ['read-write', ADMIN, { read: 200, write: 400, maintenance: 403, logs: 204, cluster: 403 }],
    ['read-only', GUEST, { read: 200, write: 403, maintenance: 403, logs: 204, cluster: 403 }],
    ['maintenance', MAINT, { read: 200, write: 403, maintenance: 200, logs: 403, cluster: 403 }],
    ['cluster node', NODE, { read: 200, write: 403, maintenance: 403, logs: 403, cluster: 200 }],
  ];
  for (const [name, headers, expected] of matrix) {
    test(name, async () => {
      api = app(new FakeCore());
      const got: Record<string, number> = {};
      for (const [access, route] of Object.entries(ROUTES)) got[access] = (await call(api, route, headers)).statusCode;
      expect(got).toEqual(expected);
    });
  }

  test('no credentials or wrong password: 401 with Basic realm', async () => {
    api = app(new FakeCore());
    for (const headers of [{}, basic('admin', 'wrong'), basic('nobody'), { authorization: 'Bearer x' }, { 'cluster-authorization': 'bad' }]) {
      const res = await call(api, ROUTES.read, headers);
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="realm"');
      expect(res.json()).toEqual({ status: 'FAILED', message: 'Credentials are required to access this resource.' });
    }
  });

  test('403 body names the user and role', async () => {
    api = app(new FakeCore());
    const res = await call(api, ROUTES.write, GUEST);
    expect(res.json()).toEqual({
      status: 'FAILED',
      message: 'User guest with role EXTERNAL_READ_ONLY is not allowed to access this resource',
    });
  });

  test('disableReadAuth opens log files to every authenticated principal', async () => {
    api = app(new FakeCore(), testConfig({ options: { disableReadAuth: true } }));
    expect((await call(api, ROUTES.logs, MAINT)).statusCode).toBe(204);
    expect((await call(api, ROUTES.logs, {})).statusCode).toBe(401);
  });

  test('without a userAuth section everyone is root, cluster routes still need the secret', async () => {
    const config = testConfig();
    delete (config as { userAuth?: unknown }).userAuth;
    api = app(new FakeCore(), config);
    expect((await call(api, ROUTES.write, {})).statusCode).toBe(400);
    expect((await call(api, ROUTES.maintenance, {})).statusCode).toBe(200);
    expect((await call(api, ROUTES.cluster, {})).statusCode).toBe(403);
    expect((await call(api, ROUTES.cluster, NODE)).statusCode).toBe(200);
  });

  test('userAuth enabled: false disables authentication', async () => {
    api = app(new FakeCore(), testConfig({ userAuth: { enabled: false, users: [] } }));
    expect((await call(api, ROUTES.write, {})).statusCode).toBe(400);
  });

  test('CRYPT passwords are checked with bcrypt', async () => {
    const hash = await bcrypt.hash('s3cret', 4);
    api = app(
      new FakeCore(),
      testConfig({ userAuth: { encoding: 'CRYPT', users: [{ username: 'ops', password: hash, role: 'EXTERNAL_ROOT' }] } }),
    );
    expect((await call(api, ROUTES.write, basic('ops', 's3cret'))).statusCode).toBe(400);
    expect((await call(api, ROUTES.write, basic('ops', 'nope'))).statusCode).toBe(401);
  });
});

describe('bcrypt cache', () => {
  test('a verified password is not re-hashed until the cache entry expires', async () => {
    const hash = await bcrypt.hash('pw', 4);
    const clock = new ManualClock();
    const auth = new Authenticator(
      { enabled: true, encoding: 'CRYPT', users: [{ username: 'u', password: hash, role: 'EXTERNAL_ROOT' }] },
      { secrets: [] },
      false,
      clock,
      { bcryptCacheTtlMs: 1000, bcryptCacheSize: 10 },
    );
    const headers = basic('u', 'pw');
    const time = async () => {
      const start = process.hrtime.bigint();
      await auth.authenticate(headers);
      return Number(process.hrtime.bigint() - start) / 1e6;
    };
    await time();
    const cached = await time();
    try {
      expect(auth.passwordVerifications).toBe(1);
      await auth.authenticate(headers);
      expect(auth.passwordVerifications).toBe(1);
      await clock.advance(1001);
      await auth.authenticate(headers);
      expect(auth.passwordVerifications).toBe(2);
    } finally {
      await auth.close();
    }
    expect(cached).toBeLessThan(50);
  });
});

describe('leader guard', () => {
  test('non-leader answers 400 with the leader address for every /apis path, ping included', async () => {
    const core = new FakeCore();
    core.leader = false;
    api = app(core);
    for (const url of ['/apis/v1/ping', '/apis/v1/localservices', '/apis/v1/cluster']) {
      const res = await api.inject({ method: 'GET', url, headers: ADMIN });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        status: 'FAILED',
        data: { leader: 'ctrl1.local:10000' },
        message: 'This node is not the leader controller',
      });
    }
    const msg = await api.inject({ method: 'POST', url: '/apis/v1/messages', headers: NODE, payload: {} });
    expect(msg.statusCode).toBe(400);
  });

  test('leader unknown: 400 without data', async () => {
    const core = new FakeCore();
    core.leader = false;
    core.leader_address = undefined;
    api = app(core);
    const res = await api.inject({ method: 'GET', url: '/apis/v1/ping', headers: ADMIN });
    expect(res.json()).toEqual({ status: 'FAILED', message: 'This node is not the leader controller' });
  });

  test('UI paths redirect (303) to the leader', async () => {
    const core = new FakeCore();
    core.leader = false;
    api = app(core);
    const res = await api.inject({ method: 'GET', url: '/apis/ui/localservices/S-1', headers: ADMIN });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('http://ctrl1.local:10000/localservices/S-1');
  });

  test('authentication comes before the leader check', async () => {
    const core = new FakeCore();
    core.leader = false;
    api = app(core);
    expect((await api.inject({ method: 'GET', url: '/apis/v1/ping' })).statusCode).toBe(401);
  });
});

describe('instance tokens (App-Instance-Authorization)', () => {
  test('a token signed with instanceAuth.secret reads, but may not write; a forged one is a 401', async () => {
    const { instanceAuthToken } = await import('../../../src/controller/engine/jobs/instance-token.js');
    const config = testConfig({ instanceAuth: { secret: 'instance-secret' } });
    const core = new FakeCore();
    // Tokens are honoured only while their instance runs.
    core.instances.push(instanceInfo({ serviceId: 'S-1', instanceId: 'SI-1' }));
    api = app(core, config);
    const token = instanceAuthToken('instance-secret', { serviceId: 'S-1', instanceId: 'SI-1', executorId: 'E1' }, Date.now(), 60_000);
    const headers = { 'app-instance-authorization': token };
    expect((await call(api, ROUTES.read, headers)).statusCode).toBe(200);
    expect((await call(api, ROUTES.write, headers)).statusCode).toBe(403);
    expect((await call(api, ROUTES.cluster, headers)).statusCode).toBe(403);
    const forged = instanceAuthToken('other-secret', { serviceId: 'S-1', instanceId: 'SI-1', executorId: 'E1' }, Date.now(), 60_000);
    expect((await call(api, ROUTES.read, { 'app-instance-authorization': forged })).statusCode).toBe(401);
    expect((await call(api, ROUTES.read, { 'app-instance-authorization': 'not.a.jwt' })).statusCode).toBe(401);
  });
});
