import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildControllerApp } from '../../../src/controller/api/app.js';
import { parseControllerConfig } from '../../../src/controller/config.js';
import { executorIdOf } from '../../../src/model/index.js';
import { FakeCore } from '../../support/fake-core.js';
import { ADMIN, GUEST, MAINT, ROOT, testConfig } from '../../support/controller-config.js';
import { instanceInfo, nodeData } from '../../support/records.js';
import { testSpec } from '../../support/specs.js';

/** The web console's routes: pages and assets without credentials, its reads with them, followers redirecting. */

let consoleDir: string;
beforeAll(() => {
  consoleDir = mkdtempSync(join(tmpdir(), 'drove-console-'));
  mkdirSync(join(consoleDir, 'assets'));
  writeFileSync(join(consoleDir, 'index.html'), '<!doctype html><title>console</title><script type="module" src="/assets/app-1.js"></script>');
  writeFileSync(join(consoleDir, 'assets', 'app-1.js'), 'console.log("console")');
});
afterAll(() => rmSync(consoleDir, { recursive: true, force: true }));

const consoleApp = (core: FakeCore, config = testConfig()) => buildControllerApp({ core, config, consoleDir });

describe('console pages and assets', () => {
  test('every Drove console address serves the page without credentials, with a strict CSP', async () => {
    const api = consoleApp(new FakeCore());
    for (const url of ['/', '/dashboard', '/localservices', '/localservices/S-1', '/localservices/S-1/instances/SI-1', '/localservices/S-1/instances/SI-1/stream?logFileName=output.log', '/cluster', '/executors/E1', '/fleet', '/events', '/login']) {
      const res = await api.inject({ url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.body).toContain('<title>console</title>');
      expect(res.headers['content-security-policy']).toContain("script-src 'self'");
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.headers['cache-control']).toBe('no-cache');
    }
    const asset = await api.inject({ url: '/assets/app-1.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.body).toBe('console.log("console")');
    expect(asset.headers['cache-control']).toContain('immutable');
    expect(asset.headers['content-security-policy']).toContain("script-src 'self'");
    expect(asset.headers['x-content-type-options']).toBe('nosniff');
    expect((await api.inject({ method: 'HEAD', url: '/assets/app-1.js' })).statusCode).toBe(200);
    // Data stays behind credentials; an unknown path still asks for them.
    expect((await api.inject({ url: '/apis/v1/localservices' })).statusCode).toBe(401);
    expect((await api.inject({ url: '/nothing-here' })).statusCode).toBe(401);
    await api.close();
  });

  test('an unbuilt console says how to build it', async () => {
    const api = buildControllerApp({ core: new FakeCore(), config: testConfig(), consoleDir: join(consoleDir, 'missing') });
    const res = await api.inject({ url: '/localservices' });
    expect(res.statusCode).toBe(404);
    expect(res.json().message).toContain('npm run build');
    await api.close();
  });

  test("Drove's view paths send the browser to the page they name", async () => {
    const api = consoleApp(new FakeCore());
    const res = await api.inject({ url: '/apis/ui/localservices/S-1/instances/SI-1/stream?logFileName=output.log', headers: GUEST });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/localservices/S-1/instances/SI-1/stream?logFileName=output.log');
    // "//host" would be a protocol-relative address on another site: the redirect stays on this origin.
    const sneaky = await api.inject({ url: '/apis/ui//evil.example/x', headers: GUEST });
    expect(sneaky.headers.location).toBe('/evil.example/x');
    await api.close();
  });

  test('a follower redirects pages (query kept) to the leader, serves assets, and answers 400 without a known leader', async () => {
    const core = new FakeCore();
    core.leader = false;
    core.leader_address = 'ctrl2.local:10000';
    const api = consoleApp(core);
    const page = await api.inject({ url: '/localservices/S-1/instances/SI-1/stream?logFileName=output.log' });
    expect(page.statusCode).toBe(303);
    expect(page.headers.location).toBe('http://ctrl2.local:10000/localservices/S-1/instances/SI-1/stream?logFileName=output.log');
    // An absolute-form target cannot put another host into the redirect.
    const absolute = await api.inject({ url: 'http://evil.example/cluster' });
    expect(absolute.headers.location).toBe('http://ctrl2.local:10000/cluster');
    expect((await api.inject({ url: '/' })).headers.location).toBe('http://ctrl2.local:10000/');
    // Targets no URL parser takes as a path (`//` reads as an address without a host) still reach a
    // page: they redirect to a path on the leader, not a 500.
    for (const [url, location] of [['//', '/'], ['//?x=1', '/?x=1']]) {
      const odd = await api.inject({ url });
      expect(odd.statusCode, url).toBe(303);
      expect(odd.headers.location, url).toBe(`http://ctrl2.local:10000${location}`);
    }
    expect((await api.inject({ url: '/assets/app-1.js' })).statusCode).toBe(200);
    core.leader_address = undefined;
    const noLeader = await api.inject({ url: '/cluster' });
    expect(noLeader.statusCode).toBe(400);
    expect(noLeader.json().message).toBe('This node is not the leader controller');
    await api.close();
  });
});

describe('GET /apis/v1/console/whoami', () => {
  test('says who the caller is and what the console may offer them, from the route table', async () => {
    const api = consoleApp(new FakeCore());
    const whoami = async (headers: Record<string, string>) => (await api.inject({ url: '/apis/v1/console/whoami', headers })).json().data;
    expect(await whoami(ADMIN)).toMatchObject({ name: 'admin', role: 'EXTERNAL_READ_WRITE', authEnabled: true, permissions: { write: true, maintenance: false, logs: true } });
    expect((await whoami(GUEST)).permissions).toEqual({ write: false, maintenance: false, logs: true });
    expect((await whoami(MAINT)).permissions).toEqual({ write: false, maintenance: true, logs: false });
    expect((await whoami(ROOT)).permissions).toEqual({ write: true, maintenance: true, logs: true });
    expect((await whoami(ADMIN)).view).toEqual({ installation: { label: 'local', criticality: 'DEVELOPMENT' }, links: {} });
    expect((await api.inject({ url: '/apis/v1/console/whoami' })).statusCode).toBe(401);
    await api.close();
  });

  test("shows the config's installation banner and links; only http(s) links are accepted", async () => {
    const view = { installation: { label: 'eu-prod-1', criticality: 'PRODUCTION' }, links: { Runbook: 'https://wiki.example/drove' } };
    const api = consoleApp(new FakeCore(), testConfig({ view }));
    expect((await api.inject({ url: '/apis/v1/console/whoami', headers: GUEST })).json().data.view).toEqual(view);
    await api.close();
    expect(() => testConfig({ view: { links: { evil: 'javascript:alert(1)' } } })).toThrow('must be an http:// or https:// URL');
    expect(() => parseControllerConfig({ view: { installation: { label: 'x', criticality: 'HIGH' } } })).toThrow('criticality');
  });
});

describe('GET /apis/v1/console/fleet', () => {
  const core = new FakeCore();
  const executorIds: string[] = [];
  beforeAll(() => {
    for (let i = 1; i <= 12; i++) {
      const data = nodeData({ hostname: `host-${String(i).padStart(2, '0')}.dc1`, executorState: i === 12 ? 'BLACKLISTED' : 'ACTIVE' });
      core.executors.set(data.state.executorId, data);
      executorIds.push(data.state.executorId);
    }
    const spec = testSpec({ name: 'AGENT', version: '1' });
    core.services.set('AGENT-1', {
      info: { serviceId: 'AGENT-1', spec, instancesPerHost: 1, activationState: 'ACTIVE', created: 1, updated: 1 },
      state: 'REPLACING_INSTANCES',
    });
    // hosts 1-9 replaced (created at 100), host 10 still starting, host 11 failed to start, host 12 blacklisted.
    for (let i = 0; i < 9; i++) core.instances.push(instanceInfo({ serviceId: 'AGENT-1', executorId: executorIds[i]!, created: 100 }));
    core.instances.push(instanceInfo({ serviceId: 'AGENT-1', executorId: executorIds[0]!, state: 'STOPPED', created: 10, updated: 99 }));
    core.instances.push(instanceInfo({ serviceId: 'AGENT-1', executorId: executorIds[9]!, state: 'STARTING', created: 101 }));
    core.instances.push(instanceInfo({ serviceId: 'AGENT-1', executorId: executorIds[10]!, state: 'HEALTHY', created: 5 }));
    core.instances[core.instances.length - 1]!.state = 'STOPPED';
    core.instances.push(instanceInfo({ serviceId: 'AGENT-1', executorId: executorIds[10]!, state: 'START_FAILED', created: 102 }));
  });

  test('a page of executors, sorted and filtered, with each cell the instance states there and the rollout progress', async () => {
    const api = consoleApp(core);
    const page = (await api.inject({ url: '/apis/v1/console/fleet?size=5&sort=hostname&order=desc&since=100', headers: GUEST })).json().data;
    expect(page.total).toBe(12);
    expect(page.services).toEqual(['AGENT-1']);
    expect(page.rows.map((r: any) => r.executor.hostname)).toEqual(['host-12.dc1', 'host-11.dc1', 'host-10.dc1', 'host-09.dc1', 'host-08.dc1']);
    expect(page.rows[1].cells).toEqual({ 'AGENT-1': { START_FAILED: 1 } });
    expect(page.rows[2].cells).toEqual({ 'AGENT-1': { STARTING: 1 } });
    expect(page.rows[3].cells).toEqual({ 'AGENT-1': { HEALTHY: 1 } });
    expect(page.rows[0].cells).toEqual({});
    // 11 eligible hosts (the blacklisted one is not): 9 replaced since 100, 1 moving, 1 failed.
    expect(page.progress).toEqual([{ serviceId: 'AGENT-1', instancesPerHost: 1, hosts: 11, done: 9, moving: 1, failed: 1 }]);
    const filtered = (await api.inject({ url: '/apis/v1/console/fleet?text=HOST-0&state=ACTIVE&sort=hostname&order=desc&from=8', headers: GUEST })).json().data;
    expect(filtered.total).toBe(9);
    expect(filtered.rows.map((r: any) => r.executor.hostname)).toEqual(['host-01.dc1']);
    const fewest = (await api.inject({ url: '/apis/v1/console/fleet?sort=instances&size=2', headers: GUEST })).json().data;
    expect(fewest.rows.map((r: any) => [r.executor.hostname, r.instances]).sort()).toEqual([['host-11.dc1', 0], ['host-12.dc1', 0]]);
    await api.close();
  });

  test("a tag-constrained service's progress counts only the executors its placement allows", async () => {
    const tagged = new FakeCore();
    const ids = ['gpu-1', 'gpu-2', 'cpu-1'].map((name) => {
      const data = nodeData({ hostname: `${name}.dc1`, tags: name.startsWith('gpu') ? ['gpu'] : [] });
      tagged.executors.set(data.state.executorId, data);
      return data.state.executorId;
    });
    const placementPolicy = { type: 'COMPOSITE' as const, combiner: 'AND' as const, policies: [{ type: 'LOCAL' as const }, { type: 'MATCH_TAG' as const, tag: 'gpu' }] };
    tagged.services.set('GPU_AGENT-1', {
      info: { serviceId: 'GPU_AGENT-1', spec: testSpec({ name: 'GPU_AGENT', version: '1', placementPolicy }), instancesPerHost: 1, activationState: 'ACTIVE', created: 1, updated: 1 },
      state: 'ACTIVE',
    });
    for (const executorId of ids.slice(0, 2)) tagged.instances.push(instanceInfo({ serviceId: 'GPU_AGENT-1', executorId, created: 100 }));
    const api = consoleApp(tagged);
    const page = (await api.inject({ url: '/apis/v1/console/fleet', headers: GUEST })).json().data;
    // The untagged host is no host of this service: it is neither done nor waited for.
    expect(page.progress).toEqual([{ serviceId: 'GPU_AGENT-1', instancesPerHost: 1, hosts: 2, done: 2, moving: 0, failed: 0 }]);
    expect(page.total).toBe(3);
    await api.close();
  });

  test('a bad query parameter is a 400 naming it', async () => {
    const api = consoleApp(core);
    const res = await api.inject({ url: '/apis/v1/console/fleet?size=100000&sort=color', headers: GUEST });
    expect(res.statusCode).toBe(400);
    const errors: string[] = res.json().data.validationErrors;
    expect(errors.some((e) => e.startsWith('query param size'))).toBe(true);
    expect(errors.some((e) => e.startsWith('query param sort'))).toBe(true);
    await api.close();
  });
});

describe('GET /apis/v1/console/search', () => {
  test('finds services, executors and instance ids', async () => {
    const core = new FakeCore();
    const spec = testSpec({ name: 'NODE_EXPORTER', version: '1' });
    core.services.set('NODE_EXPORTER-1', {
      info: { serviceId: 'NODE_EXPORTER-1', spec, instancesPerHost: 1, activationState: 'ACTIVE', created: 1, updated: 1 },
      state: 'ACTIVE',
    });
    const data = nodeData({ hostname: 'exporter-host.dc1' });
    core.executors.set(data.state.executorId, data);
    const instance = instanceInfo({ serviceId: 'NODE_EXPORTER-1', executorId: executorIdOf('exporter-host.dc1', 3000) });
    core.instances.push(instance);
    const api = consoleApp(core);
    const search = async (q: string) => (await api.inject({ url: `/apis/v1/console/search?q=${encodeURIComponent(q)}`, headers: GUEST })).json().data;
    const hits = (await search('exporter')).hits;
    expect(hits.map((h: any) => `${h.kind}:${h.id}`)).toEqual(['service:NODE_EXPORTER-1', `executor:${data.state.executorId}`]);
    expect((await search(instance.instanceId.slice(-6))).hits).toEqual([
      { kind: 'instance', id: instance.instanceId, serviceId: 'NODE_EXPORTER-1', label: 'instance of NODE_EXPORTER-1, HEALTHY' },
    ]);
    // Instance ids are searched from 4 characters on: "SI-" alone matches everything.
    expect((await search('SI-')).hits).toEqual([]);
    await api.close();
  });
});
