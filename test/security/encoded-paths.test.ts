import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { installAccessGuard } from '../../src/controller/api/access-guard.js';
import { buildControllerApp } from '../../src/controller/api/app.js';
import { CONSOLE_ASSETS_PREFIX, CONSOLE_PAGES } from '../../src/controller/api/console-pages.js';
import { Authenticator } from '../../src/controller/api/auth.js';
import { ROUTE_ACCESS, type RouteTable } from '../../src/controller/api/routes-access.js';
import { buildExecutorApp } from '../../src/executor/app.js';
import { EXECUTOR_ROUTE_ACCESS } from '../../src/executor/routes-access.js';
import { systemClock } from '../../src/model/index.js';
import { FakeCore } from '../support/fake-core.js';
import {
  ADMIN,
  CLUSTER_HEADERS,
  GUEST,
  MAINT,
  executorMessages,
  startHarness,
  validSpec,
  type Harness,
} from '../support/api-harness.js';
import { testConfig } from '../support/controller-config.js';
import {
  FakeLeader,
  SECRET as EXECUTOR_SECRET,
  CONTROLLER_SECRET as EXECUTOR_CONTROLLER_SECRET,
  address as executorAddress,
  docker,
  header as messageHeader,
  itSpec,
  removeContainersOf,
  startTestExecutor,
} from '../support/executor-harness.js';
import type { RunningExecutor } from '../../src/executor/server.js';
import { concretePath, encodedForms, rawRequest, type RawResponse } from './raw-http.js';

/**
 * Finding: authentication, roles, leader guard and audit were decided on the raw `request.url`
 * (`startsWith('/apis')`), while fastify's router decodes percent-escapes and accepts absolute-form targets, so
 * `POST /%61pis/v1/localservices/operations` created a service without credentials. Now every decision reads the
 * matched route and its rule in one table (routes-access.ts). Real servers, raw sockets.
 */

const basicHeader = (headers: Record<string, string>) => ({ Authorization: headers.authorization! });

/** A built console of one page and one script, for the public sweep (the real one is built by `npm run build`). */
const CONSOLE_DIR = mkdtempSync(join(tmpdir(), 'drove-console-'));
const CONSOLE_ASSET = 'index-1a2b3c.js';
const CONSOLE_PAGE = `<!doctype html><title>console</title><script type="module" src="/assets/${CONSOLE_ASSET}"></script>`;
const CONSOLE_SCRIPT = 'console.log("the console")';
function consoleFixture(): string {
  mkdirSync(join(CONSOLE_DIR, 'assets'), { recursive: true });
  writeFileSync(join(CONSOLE_DIR, 'index.html'), CONSOLE_PAGE);
  writeFileSync(join(CONSOLE_DIR, 'assets', CONSOLE_ASSET), CONSOLE_SCRIPT);
  return CONSOLE_DIR;
}

/** What a public 200 is: a health answer, the console page or its script; undefined for anything else. */
function publicAnswer(method: string, response: RawResponse): 'health' | 'page' | 'asset' | undefined {
  const type = response.headers['content-type'] ?? '';
  if (method === 'HEAD') {
    if (type.startsWith('text/html')) return 'page';
    if (type.startsWith('text/javascript') || type.startsWith('application/javascript')) return 'asset';
    return type.startsWith('application/json') ? 'health' : undefined;
  }
  if (response.body === CONSOLE_PAGE) return 'page';
  if (response.body === CONSOLE_SCRIPT) return 'asset';
  return /^\{"(live|ready)":/.test(response.body) ? 'health' : undefined;
}

/** Every route fastify registers in `app`, as `<METHOD> <pattern>` (HEAD routes included). */
async function registeredRoutes(app: FastifyInstance): Promise<string[]> {
  const routes: string[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push(`${method} ${route.url}`);
  });
  await app.ready();
  return routes;
}

function tableCovers(table: Readonly<Record<string, unknown>>, routes: string[]): { missing: string[]; stale: string[] } {
  const asGet = (route: string) => route.replace(/^HEAD /, 'GET ');
  return {
    missing: routes.filter((route) => !Object.hasOwn(table, asGet(route))),
    stale: Object.keys(table).filter((key) => !routes.includes(key)),
  };
}

describe('route table completeness', () => {
  test('every route the controller registers has a rule in the route table, and every rule a route', async () => {
    const app = buildControllerApp({ core: new FakeCore(), config: testConfig() });
    const routes = await registeredRoutes(app);
    expect(routes.length).toBeGreaterThan(40);
    expect(tableCovers(ROUTE_ACCESS, routes)).toEqual({ missing: [], stale: [] });
    await app.close();
  });

  test('every route the executor registers has a rule in its route table, and every rule a route', async () => {
    const app = buildExecutorApp({ config: { clusterAuth: { secrets: [] }, logDir: '/nonexistent' }, clock: systemClock, handler: () => undefined });
    const routes = await registeredRoutes(app);
    expect(routes.length).toBe(13);
    expect(tableCovers(EXECUTOR_ROUTE_ACCESS, routes)).toEqual({ missing: [], stale: [] });
    await app.close();
  });

  test("nothing is public but the health endpoints (both servers) and the controller's console pages and assets", () => {
    const publicRows = Object.entries(ROUTE_ACCESS).filter(([, rule]) => rule.access === 'public').map(([key]) => key);
    // The console's pages and scripts hold no data: every data call is an API call with the user's credentials.
    expect(publicRows).toEqual([
      'GET /livez',
      'GET /readyz',
      'GET /',
      'GET /dashboard',
      'GET /localservices',
      'GET /localservices/:serviceId',
      'GET /localservices/:serviceId/instances/:instanceId',
      'GET /localservices/:serviceId/instances/:instanceId/stream',
      'GET /cluster',
      'GET /executors/:executorId',
      'GET /events',
      'GET /fleet',
      'GET /login',
      'GET /assets/*',
    ]);
    const executorPublic = Object.entries(EXECUTOR_ROUTE_ACCESS).filter(([, access]) => access === 'public').map(([key]) => key);
    expect(executorPublic).toEqual(['GET /livez', 'GET /readyz']);
  });
});

describe('controller: every decision on the matched route', () => {
  let h: Harness;
  let port: number;
  let serviceId: string;
  let fingerprint: string;
  const stored = async () => JSON.stringify(await h.store.load());

  beforeAll(async () => {
    h = await startHarness({ consoleDir: consoleFixture() });
    await h.api.listen({ host: '127.0.0.1', port: 0 });
    port = (h.api.server.address() as { port: number }).port;
    for (const message of executorMessages(h.clock.now(), [], 'E1')) {
      expect((await h.api.inject({ method: 'POST', url: '/apis/v1/messages', headers: CLUSTER_HEADERS, payload: message })).statusCode).toBe(200);
    }
    const created = await h.api.inject({
      method: 'POST',
      url: '/apis/v1/localservices/operations',
      headers: ADMIN,
      payload: { type: 'CREATE', spec: validSpec(), instancesPerHost: 1 },
    });
    serviceId = created.json().data.serviceId;
    fingerprint = await stored();
  });
  afterAll(async () => {
    await h?.close();
    rmSync(CONSOLE_DIR, { recursive: true, force: true });
  });

  /** A body that would change the store if the request got through; ids that exist. */
  function requestFor(pattern: string): { path: string; body?: string } {
    const path = concretePath(pattern).replace('serviceId-1', serviceId).replace('executorId-1', 'E1');
    if (pattern === '/apis/v1/localservices/operations') {
      return { path, body: JSON.stringify({ type: 'CREATE', spec: validSpec({ name: 'INTRUDER' }), instancesPerHost: 1 }) };
    }
    if (pattern === '/apis/v1/localservices/validate/spec') return { path, body: JSON.stringify(validSpec()) };
    if (pattern === '/apis/v1/messages') return { path, body: JSON.stringify(executorMessages(h.clock.now() + 1, [], 'E2')[0]) };
    if (pattern === '/apis/v1/cluster/executors/blacklist') return { path: `${path}?id=E1` };
    return { path };
  }

  const nonPublic = Object.entries(ROUTE_ACCESS).filter(([, rule]) => rule.access !== 'public');

  /** Sends every spelling of every route with `method` variants and `headers`; returns the answers by case. */
  async function sweep(
    routes: Array<[string, unknown]>,
    headers: (access: string) => Record<string, string> | undefined,
  ): Promise<Array<{ label: string; method: string; response: RawResponse }>> {
    const answers: Array<{ label: string; method: string; response: RawResponse }> = [];
    for (const [key, rule] of routes) {
      const sent = headers((rule as { access: string }).access);
      if (!sent) continue;
      const [method, pattern] = key.split(' ') as [string, string];
      const { path, body } = requestFor(pattern);
      const methods = method === 'GET' ? ['GET', 'HEAD', 'OPTIONS'] : [method, 'OPTIONS'];
      for (const [form, target] of encodedForms(path, port)) {
        for (const m of methods) {
          const response = await rawRequest(port, m, target, sent, m === method ? body : undefined);
          answers.push({ label: `${m} ${target} (${form}; route ${key})`, method: m, response });
          // Checked after every request: one that got through must be pinned to its spelling.
          const now = await stored();
          if (now !== fingerprint) throw new Error(`the store changed after ${m} ${target} (${form}; route ${key})`);
        }
      }
    }
    return answers;
  }

  test('the reported bypass: POST /%61pis/v1/localservices/operations without credentials is a 401 and creates nothing', async () => {
    const { body } = requestFor('/apis/v1/localservices/operations');
    const res = await rawRequest(port, 'POST', '/%61pis/v1/localservices/operations', {}, body);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toEqual({ status: 'FAILED', message: 'Credentials are required to access this resource.' });
    const listed = await rawRequest(port, 'GET', '/%61pis/v1/cluster/executors');
    expect(listed.status).toBe(401);
    expect(await stored()).toBe(fingerprint);
    const services = JSON.parse((await rawRequest(port, 'GET', '/apis/v1/localservices', basicHeader(ADMIN))).body).data;
    expect(Object.keys(services)).toEqual([serviceId]);
  });

  test('every non-public route in every spelling, HEAD and OPTIONS too, answers 401 without credentials and changes nothing', async () => {
    const answers = await sweep(nonPublic, () => ({}));
    expect(answers.length).toBeGreaterThan(1500);
    const wrong = answers.filter(({ response }) => response.status !== 401).map(({ label, response }) => `${response.status} ${label}`);
    expect(wrong).toEqual([]);
    for (const { response } of answers.slice(0, 50)) expect(response.headers['www-authenticate']).toBe('Basic realm="realm"');
  });

  test('every route a role may not use, in every spelling, answers 403 (404 where no route matches) and changes nothing', async () => {
    // The read-only user for write, maintenance and cluster routes; the maintenance user for log files.
    // `read` and `metrics` routes admit every role.
    const lacking = (access: string) =>
      access === 'logs' ? basicHeader(MAINT) : access === 'read' || access === 'metrics' ? undefined : basicHeader(GUEST);
    const answers = await sweep(nonPublic, lacking);
    expect(answers.length).toBeGreaterThan(500);
    const wrong = answers
      .filter(({ response }) => response.status !== 403 && response.status !== 404)
      .map(({ label, response }) => `${response.status} ${label}`);
    expect(wrong).toEqual([]);
    const forbidden = answers.filter(({ response }) => response.status === 403);
    expect(forbidden.length).toBeGreaterThan(100);
    for (const { method, response } of forbidden) {
      if (method !== 'HEAD') expect(JSON.parse(response.body)).toMatchObject({ status: 'FAILED', message: expect.stringContaining('is not allowed') });
    }
  });

  test('the public routes (health, console pages and assets) in every spelling: served without credentials where the route matches, else 401; never anything else', async () => {
    const wrong: string[] = [];
    const served = new Map<string, number>();
    for (const [key] of Object.entries(ROUTE_ACCESS).filter(([, rule]) => rule.access === 'public')) {
      const pattern = key.split(' ')[1]!;
      const path = pattern === `${CONSOLE_ASSETS_PREFIX}*` ? `${CONSOLE_ASSETS_PREFIX}${CONSOLE_ASSET}` : concretePath(pattern);
      for (const [form, target] of encodedForms(path, port)) {
        for (const m of ['GET', 'HEAD', 'OPTIONS', 'POST', 'DELETE']) {
          // Not half-closed: the assets are answered asynchronously (a file read).
          const response = await rawRequest(port, m, target, {}, m === 'POST' ? '{}' : undefined, false);
          const what = response.status === 200 && (m === 'GET' || m === 'HEAD') ? publicAnswer(m, response) : undefined;
          if (what) served.set(what, (served.get(what) ?? 0) + 1);
          // The assets route matched, but the static plugin looks the file up by the request's own path, which in
          // these spellings (escapes, `;x=1`, a trailing slash, absolute form) names no file: the not-found envelope.
          else if (response.status === 404 && pattern === `${CONSOLE_ASSETS_PREFIX}*` && (m === 'HEAD' || (m === 'GET' && response.body.startsWith('{"status":"FAILED","message":"HTTP 404 Not Found')))) continue;
          else if (response.status !== 401) wrong.push(`${response.status} ${m} ${target} (${form}): ${response.body.slice(0, 80)}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    // Every kind of public answer was reached, in several spellings each.
    expect(Object.fromEntries([...served].map(([what, count]) => [what, count > 4]))).toEqual({ health: true, page: true, asset: true });
    expect(await stored()).toBe(fingerprint);
  });

  test('a URL that matches no route: 401 without credentials, 404 (Drove envelope) once authenticated', async () => {
    for (const target of ['/apis/v1/nothing', '/%61pis/v1/nothing', '/nothing', 'http://x/apis/v2', '/apis/v1/localservices/operations/x/y/z']) {
      expect((await rawRequest(port, 'DELETE', target)).status).toBe(401);
      const authenticated = await rawRequest(port, 'DELETE', target, basicHeader(GUEST));
      expect(authenticated.status).toBe(404);
      expect(JSON.parse(authenticated.body)).toMatchObject({ status: 'FAILED' });
    }
    expect(await stored()).toBe(fingerprint);
  });

  test('decoded spellings reach the route under its own rule: an authorized caller is served as on the canonical path', async () => {
    const res = await rawRequest(port, 'GET', `http://127.0.0.1:${port}/%61pis/v1/localservices/${serviceId}`, basicHeader(GUEST));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).data.id).toBe(serviceId);
  });
});

describe('executor: every route in every spelling needs the CONTROLLER secret', () => {
  let leader: FakeLeader;
  let executor: RunningExecutor;
  let port: number;
  beforeAll(async () => {
    leader = await new FakeLeader().start();
    executor = await startTestExecutor(leader);
    port = Number(new URL(executor.url).port);
  });
  afterAll(async () => {
    await executor?.stop();
    await leader?.stop();
    if (executor) await removeContainersOf(executor.executorId);
  });

  test('the public health routes in every spelling: served without a secret where the route matches, else 401', async () => {
    const wrong: string[] = [];
    let served = 0;
    for (const [key] of Object.entries(EXECUTOR_ROUTE_ACCESS).filter(([, access]) => access === 'public')) {
      const path = key.split(' ')[1]!;
      for (const [form, target] of encodedForms(path, port)) {
        for (const m of ['GET', 'HEAD', 'OPTIONS', 'POST']) {
          // Not half-closed: readiness is answered after a ping of the container engine.
          const response = await rawRequest(port, m, target, {}, m === 'POST' ? '{}' : undefined, false);
          if ((response.status === 200 || response.status === 503) && (m === 'GET' || m === 'HEAD')) served++;
          else if (response.status !== 401) wrong.push(`${response.status} ${m} ${target} (${form})`);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(served).toBeGreaterThan(20);
    expect(executor.engine.list()).toEqual([]);
  });

  test('no secret: 401; the EXECUTOR secret: 403 (404 where nothing matches); no instance, no container', async () => {
    const containers = async () => (await docker.listContainers({ all: true, filters: { label: [`drove.executor.id=${executor.executorId}`] } })).length;
    expect(await containers()).toBe(0);
    const wrong: string[] = [];
    let sent = 0;
    // Public routes need nothing; /metrics follows the monitoring policy instead (below).
    for (const key of Object.keys(EXECUTOR_ROUTE_ACCESS).filter((k) => EXECUTOR_ROUTE_ACCESS[k] === 'controller')) {
      const [method, pattern] = key.split(' ') as [string, string];
      const path = concretePath(pattern).replace('serviceId-1', 'EXECUTOR_IT-1').replace('instanceId-1', 'SI-1');
      const body =
        method === 'POST'
          ? JSON.stringify({ type: 'START_LOCAL_SERVICE_INSTANCE', header: messageHeader(), address: executorAddress(executor), spec: itSpec() })
          : undefined;
      const methods = method === 'GET' ? ['GET', 'HEAD', 'OPTIONS'] : [method, 'OPTIONS'];
      for (const [form, target] of encodedForms(path, port)) {
        for (const m of methods) {
          for (const [who, headers, allowed] of [
            ['no secret', {}, [401]],
            ['EXECUTOR secret', { 'Cluster-Authorization': EXECUTOR_SECRET }, [403, 404]],
          ] as Array<[string, Record<string, string>, number[]]>) {
            const response = await rawRequest(port, m, target, headers, m === method ? body : undefined);
            sent++;
            if (!allowed.includes(response.status)) wrong.push(`${response.status} ${m} ${target} (${form}, ${who})`);
            if (executor.engine.list().length > 0) throw new Error(`an instance was started by ${m} ${target} (${form}, ${who})`);
          }
        }
      }
    }
    expect(sent).toBeGreaterThan(300);
    expect(wrong).toEqual([]);
    expect(await containers()).toBe(0);
  });
});

const METRICS_TOKEN = 'metrics-bearer-token-0123456789';
const bearer = { Authorization: `Bearer ${METRICS_TOKEN}` };

describe('controller: /metrics in every spelling follows the monitoring policy', () => {
  let h: Harness;
  let port: number;
  beforeAll(async () => {
    // server.host 0.0.0.0 (the default): metrics are not open.
    h = await startHarness({ config: testConfig({ monitoring: { bearerToken: METRICS_TOKEN } }) });
    await h.api.listen({ host: '127.0.0.1', port: 0 });
    port = (h.api.server.address() as { port: number }).port;
  });
  afterAll(async () => h?.close());

  test('no credentials and a wrong token: 401; the bearer token or a read-only user: 200; the token opens no other route', async () => {
    const wrong: string[] = [];
    let served = 0;
    for (const [form, target] of encodedForms('/metrics', port)) {
      for (const method of ['GET', 'HEAD']) {
        for (const [who, headers] of [['nobody', {}], ['a wrong token', { Authorization: 'Bearer not-the-token-at-all-1234' }]] as Array<[string, Record<string, string>]>) {
          const response = await rawRequest(port, method, target, headers);
          if (response.status !== 401) wrong.push(`${response.status} ${method} ${target} (${form}, ${who})`);
        }
        // A read-only user learns whether the spelling reaches the route (200) or none (404); the token then gets the
        // same 200, or a 401 where no route matched (the token is no credential anywhere else).
        const user = await rawRequest(port, method, target, basicHeader(GUEST));
        const token = await rawRequest(port, method, target, bearer);
        if (user.status === 200) {
          served++;
          if (method === 'GET') expect(user.body).toContain('drove_leader 1');
          if (token.status !== 200) wrong.push(`${token.status} ${method} ${target} (${form}, token)`);
        } else if (user.status !== 404 || token.status !== 401) {
          wrong.push(`${user.status}/${token.status} ${method} ${target} (${form}, user/token)`);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(served).toBeGreaterThan(2);
    for (const key of Object.keys(ROUTE_ACCESS).filter((k) => !['metrics', 'public'].includes(ROUTE_ACCESS[k]!.access) && k.startsWith('GET '))) {
      const response = await rawRequest(port, 'GET', concretePath(key.slice(4)), bearer);
      expect(response.status, key).toBe(401);
    }
  });
});

describe('executor: /metrics in every spelling follows the monitoring policy', () => {
  let leader: FakeLeader;
  let executor: RunningExecutor;
  let port: number;
  beforeAll(async () => {
    leader = await new FakeLeader().start();
    executor = await startTestExecutor(leader, { monitoring: { metrics: 'authenticated', bearerToken: METRICS_TOKEN } });
    port = Number(new URL(executor.url).port);
  });
  afterAll(async () => {
    await executor?.stop();
    await leader?.stop();
  });

  test('no token, a wrong one, or the CONTROLLER secret: 401; the token: 200; the token opens no other route', async () => {
    const wrong: string[] = [];
    let served = 0;
    for (const [form, target] of encodedForms('/metrics', port)) {
      for (const method of ['GET', 'HEAD']) {
        for (const [who, headers] of [
          ['nobody', {}],
          ['a wrong token', { Authorization: 'Bearer not-the-token-at-all-1234' }],
          ['the CONTROLLER secret', { 'Cluster-Authorization': EXECUTOR_CONTROLLER_SECRET }],
        ] as Array<[string, Record<string, string>]>) {
          const response = await rawRequest(port, method, target, headers);
          // A spelling that matches no route asks for the CONTROLLER secret (401) or, with it, is a 404.
          if (response.status !== 401 && !(who === 'the CONTROLLER secret' && response.status === 404)) wrong.push(`${response.status} ${method} ${target} (${form}, ${who})`);
        }
        // The token reaches the route (200) wherever the CONTROLLER secret would find none (404): 401 elsewhere.
        const routed = (await rawRequest(port, method, target, { 'Cluster-Authorization': EXECUTOR_CONTROLLER_SECRET })).status !== 404;
        const response = await rawRequest(port, method, target, bearer);
        if (routed && response.status === 200) {
          served++;
          if (method === 'GET') expect(response.body).toContain('drove_executor_instances{state="HEALTHY"} 0');
        } else if (routed || response.status !== 401) wrong.push(`${response.status} ${method} ${target} (${form}, token)`);
      }
    }
    expect(wrong).toEqual([]);
    expect(served).toBeGreaterThan(2);
    for (const key of Object.keys(EXECUTOR_ROUTE_ACCESS).filter((k) => EXECUTOR_ROUTE_ACCESS[k] === 'controller')) {
      const [method, pattern] = key.split(' ') as [string, string];
      expect((await rawRequest(port, method, concretePath(pattern), bearer)).status, key).toBe(401);
    }
  });
});

describe('controller: a follower decides the redirect on the matched route', () => {
  let h: Harness;
  let port: number;
  beforeAll(async () => {
    const { FollowerElector } = await import('../support/api-harness.js');
    h = await startHarness({ leadership: new FollowerElector() });
    await h.api.listen({ host: '127.0.0.1', port: 0 });
    port = (h.api.server.address() as { port: number }).port;
  });
  afterAll(async () => h?.close());

  test("Drove's view paths and the console's pages, however spelled, redirect (303); API routes answer 400; no credentials is 401 (but for the public pages)", async () => {
    for (const target of ['/apis/ui/localservices/S-1', '/%61pis/ui/localservices/S-1', `http://x/apis/%75i/localservices/S-1`]) {
      const page = await rawRequest(port, 'GET', target, basicHeader(GUEST));
      expect(page.status).toBe(303);
      expect(page.headers.location).toBe('http://ctrl2.local:10000/localservices/S-1');
      expect((await rawRequest(port, 'GET', target)).status).toBe(401);
    }
    // Discovery redirects (307) to the same route on the leader, built from the matched route and the parsed query:
    // every spelling lands on the canonical path, and nothing of the raw target reaches the Location header.
    for (const target of ['/apis/v1/discovery/prometheus?service=A-1', '/%61pis/v1/discovery/prometheus?service=A-1', 'http://x/apis/v1/discovery/%70rometheus?service=A-1']) {
      const moved = await rawRequest(port, 'GET', target, basicHeader(GUEST));
      expect(moved.status, target).toBe(307);
      expect(moved.headers.location, target).toBe('http://ctrl2.local:10000/apis/v1/discovery/prometheus?service=A-1');
    }
    const injected = await rawRequest(port, 'GET', '/apis/v1/discovery/prometheus?service=%0d%0aSet-Cookie:%20x=1', basicHeader(GUEST));
    expect(injected.status).toBe(307);
    expect(injected.headers['set-cookie']).toBeUndefined();
    expect(injected.headers.location).toBe('http://ctrl2.local:10000/apis/v1/discovery/prometheus?service=%0D%0ASet-Cookie%3A+x%3D1');
    // The console's own pages are public: without credentials too, every spelling that reaches one redirects to a
    // path on the leader (never another host, never a `//host` path); the rest match nothing (401).
    let redirected = 0;
    for (const page of CONSOLE_PAGES) {
      for (const [form, target] of encodedForms(concretePath(page), port)) {
        const response = await rawRequest(port, 'GET', target);
        if (response.status === 303) {
          redirected++;
          expect(response.headers.location, `${target} (${form})`).toMatch(/^http:\/\/ctrl2\.local:10000\/(?!\/)/);
        } else expect(response.status, `${target} (${form})`).toBe(401);
      }
    }
    expect(redirected).toBeGreaterThan(CONSOLE_PAGES.length * 3);
    // A path that merely contains "/ui/" is no console page.
    const api = await rawRequest(port, 'GET', '/apis/v1/localservices/ui/', basicHeader(GUEST));
    expect(api.status).toBe(400);
    expect(JSON.parse(api.body)).toEqual({ status: 'FAILED', data: { leader: 'ctrl2.local:10000' }, message: 'This node is not the leader controller' });
  });
});

describe('access guard: default deny', () => {
  let app: FastifyInstance;
  let port: number;
  beforeAll(async () => {
    const config = testConfig();
    const table: RouteTable = { 'GET /health': { access: 'public' }, 'GET /listed': { access: 'read' } };
    app = Fastify();
    app.setErrorHandler((error: Error & { statusCode?: number; body?: unknown }, _request, reply) => reply.code(error.statusCode ?? 500).send(error.body));
    installAccessGuard(app, {
      table,
      authenticator: new Authenticator(config.userAuth, config.clusterAuth, false),
      admission: async () => undefined,
      core: { isLeader: () => true, leaderAddress: () => undefined },
      auditedMethods: [],
      scheme: 'http',
      metrics: { admits: () => false },
    });
    app.get('/health', async () => 'up');
    app.get('/listed', async () => 'listed');
    app.get('/unlisted', async () => 'should never be served');
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(async () => app?.close());

  test('a route missing from the table is refused even to an authorized caller; a public rule needs no credentials', async () => {
    const unlisted = await rawRequest(port, 'GET', '/unlisted', basicHeader(ADMIN));
    expect(unlisted.status).toBe(403);
    expect(JSON.parse(unlisted.body)).toEqual({ status: 'FAILED', message: 'No access rule for GET /unlisted: refused (default deny)' });
    expect((await rawRequest(port, 'GET', '/unlisted')).status).toBe(401);
    expect((await rawRequest(port, 'GET', '/listed', basicHeader(ADMIN))).status).toBe(200);
    expect((await rawRequest(port, 'GET', '/listed')).status).toBe(401);
    expect((await rawRequest(port, 'GET', '/%68ealth')).body).toBe('up');
  });
});

describe('access guard: a follower serving TLS redirects console pages to the leader over https', () => {
  let app: FastifyInstance;
  let port: number;
  beforeAll(async () => {
    const config = testConfig();
    app = Fastify();
    installAccessGuard(app, {
      table: ROUTE_ACCESS,
      authenticator: new Authenticator(config.userAuth, config.clusterAuth, false),
      admission: async () => undefined,
      core: { isLeader: () => false, leaderAddress: () => 'ctrl2.local:10000' },
      auditedMethods: [],
      scheme: 'https',
      metrics: { admits: () => false },
    });
    app.get('/apis/ui/*', async () => 'the leader would serve this');
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(async () => app?.close());

  test('the Location names https, the scheme this cluster serves', async () => {
    const page = await rawRequest(port, 'GET', '/apis/ui/localservices/S-1', basicHeader(GUEST));
    expect(page.status).toBe(303);
    expect(page.headers.location).toBe('https://ctrl2.local:10000/localservices/S-1');
  });
});
