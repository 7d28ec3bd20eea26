import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildControllerApp } from '../../../src/controller/api/app.js';
import { discoveryFilter } from '../../../src/controller/api/metrics.js';
import { ConfigError } from '../../../src/controller/config.js';
import { ControllerMetrics } from '../../../src/controller/metrics/metrics.js';
import { prometheusTargets, type DiscoveryFilter } from '../../../src/controller/queries/discovery.js';
import type { TermView } from '../../../src/controller/queries/view.js';
import { MetricsPolicy } from '../../../src/model/monitoring.js';
import type { LocalServiceInfo, LocalServiceInstanceInfo } from '../../../src/model/index.js';
import { FakeCore } from '../../support/fake-core.js';
import { GUEST, testConfig } from '../../support/controller-config.js';
import { sampleValue } from '../../support/exposition.js';
import { instanceInfo } from '../../support/records.js';
import { testSpec } from '../../support/specs.js';

const TOKEN = 'a-monitoring-token-of-some-length';

describe('MetricsPolicy (monitoring: in both configs)', () => {
  it('is open by default exactly on a loopback address; `metrics` overrides it either way', () => {
    for (const host of ['127.0.0.1', '::1', 'localhost']) expect(new MetricsPolicy({}, host).open, host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.1.2.3', 'controller.example.com']) expect(new MetricsPolicy({}, host).open, host).toBe(false);
    expect(new MetricsPolicy({ metrics: 'open' }, '0.0.0.0').open).toBe(true);
    expect(new MetricsPolicy({ metrics: 'authenticated' }, '127.0.0.1').open).toBe(false);
  });

  it('admits the bearer token (scheme case-insensitive), nothing else, and no token at all when none is configured', () => {
    const policy = new MetricsPolicy({ bearerToken: TOKEN }, '0.0.0.0');
    expect(policy.admits({ authorization: `Bearer ${TOKEN}` })).toBe(true);
    expect(policy.admits({ authorization: `bearer ${TOKEN}` })).toBe(true);
    expect(policy.admits({ authorization: `Bearer ${TOKEN}x` })).toBe(false);
    expect(policy.admits({ authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` })).toBe(false);
    expect(policy.admits({})).toBe(false);
    expect(new MetricsPolicy({}, '0.0.0.0').admits({ authorization: 'Bearer ' })).toBe(false);
  });

  it('a short token or an unknown mode is a start-up error naming the key', () => {
    expect(() => testConfig({ monitoring: { bearerToken: 'short' } })).toThrow(ConfigError);
    expect(() => testConfig({ monitoring: { bearerToken: 'short' } })).toThrow(/monitoring\.bearerToken.*at least 16 characters/);
    expect(() => testConfig({ monitoring: { metrics: 'public' } })).toThrow(/monitoring\.metrics/);
    expect(() => testConfig({ monitoring: { token: TOKEN } })).toThrow(/unknown key "token"/);
  });
});

describe('GET /metrics on the controller API', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  const start = async (core: FakeCore, overrides: Record<string, unknown>) => {
    app = buildControllerApp({ core, config: testConfig(overrides), metrics: new ControllerMetrics() });
    await app.ready();
    return app;
  };

  it('on a non-loopback address: 401 without credentials, 200 for any user or the bearer token', async () => {
    const api = await start(new FakeCore(), { server: { host: '0.0.0.0', port: 0 }, monitoring: { bearerToken: TOKEN } });
    const refused = await api.inject({ url: '/metrics' });
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['www-authenticate']).toBe('Basic realm="realm"');
    expect((await api.inject({ url: '/metrics', headers: { authorization: 'Bearer wrong-token-wrong-token' } })).statusCode).toBe(401);
    for (const headers of [GUEST, { authorization: `Bearer ${TOKEN}` }]) {
      const served = await api.inject({ url: '/metrics', headers });
      expect(served.statusCode).toBe(200);
      expect(served.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(sampleValue(served.body, 'drove_leader')).toBe(1);
    }
  });

  it('on loopback: open without credentials, unless `metrics: authenticated` is written; `metrics: open` opens any address', async () => {
    expect((await (await start(new FakeCore(), { server: { host: '127.0.0.1', port: 0 } })).inject({ url: '/metrics' })).statusCode).toBe(200);
    await app!.close();
    expect((await (await start(new FakeCore(), { server: { host: '127.0.0.1', port: 0 }, monitoring: { metrics: 'authenticated' } })).inject({ url: '/metrics' })).statusCode).toBe(401);
    await app!.close();
    expect((await (await start(new FakeCore(), { server: { host: '0.0.0.0', port: 0 }, monitoring: { metrics: 'open' } })).inject({ url: '/metrics' })).statusCode).toBe(200);
  });

  it('a follower answers itself, drove_leader 0 and no cluster state; HTTP requests are counted by route pattern', async () => {
    const core = new FakeCore();
    core.leader = false;
    const api = await start(core, {});
    await api.inject({ url: '/apis/v1/localservices/S-1/instances', headers: GUEST });
    await api.inject({ url: '/no/such/path', headers: GUEST });
    const text = (await api.inject({ url: '/metrics', headers: GUEST })).body;
    expect(sampleValue(text, 'drove_leader')).toBe(0);
    expect(text).not.toContain('drove_executors{');
    expect(sampleValue(text, 'drove_http_request_duration_seconds_count', { method: 'GET', route: '/apis/v1/localservices/:serviceId/instances', status_code: '400' })).toBe(1);
    expect(sampleValue(text, 'drove_http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status_code: '404' })).toBe(1);
  });
});

describe('GET /apis/v1/discovery/prometheus on the controller API', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('hands the filter to the core, refuses unknown and malformed parameters, needs credentials even on loopback', async () => {
    const core = new FakeCore();
    app = buildControllerApp({ core, config: testConfig({ server: { host: '127.0.0.1', port: 0 } }) });
    const ok = await app.inject({ url: '/apis/v1/discovery/prometheus?service=A-1&service=B-1&tag=team=obs&tag=scrape&port=metrics', headers: GUEST });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['content-type']).toContain('application/json');
    expect(ok.json()).toEqual([]);
    expect(core.discoveryFilters).toEqual([
      { services: ['A-1', 'B-1'], tags: [{ key: 'team', value: 'obs' }, { key: 'scrape' }], port: 'metrics' },
    ]);
    const bad = await app.inject({ url: '/apis/v1/discovery/prometheus?services=A-1&tag==x&port=a&port=b', headers: GUEST });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().data.validationErrors).toEqual([
      'query param services is not known; expected service, tag, port',
      'query param tag "=x" must be <key> or <key>=<value>',
      'query param port may be given once',
    ]);
    expect((await app.inject({ url: '/apis/v1/discovery/prometheus' })).statusCode).toBe(401);
  });

  it('a follower redirects (307) to the same route and query on the leader; without a known leader it is a 400', async () => {
    const core = new FakeCore();
    core.leader = false;
    app = buildControllerApp({ core, config: testConfig() });
    const moved = await app.inject({ url: '/apis/v1/discovery/prometheus?service=A-1&tag=a%20b=c%26d', headers: GUEST });
    expect(moved.statusCode).toBe(307);
    expect(moved.headers.location).toBe('http://ctrl1.local:10000/apis/v1/discovery/prometheus?service=A-1&tag=a+b%3Dc%26d');
    expect(core.discoveryFilters).toEqual([]);
    core.leader_address = undefined;
    const lost = await app.inject({ url: '/apis/v1/discovery/prometheus', headers: GUEST });
    expect(lost.statusCode).toBe(400);
    expect(lost.json().message).toBe('This node is not the leader controller');
  });

  it('discoveryFilter: no parameter means every service and port', () => {
    expect(discoveryFilter({})).toEqual({ services: [], tags: [] });
  });
});

describe('prometheusTargets', () => {
  const NOW = 1_700_000_000_000;
  const service = (serviceId: string, tags: Record<string, string>): LocalServiceInfo => ({
    serviceId,
    spec: { ...testSpec({ tags }), name: serviceId.split('-')[0]!, version: serviceId.split('-')[1]! },
    instancesPerHost: 1,
    activationState: 'ACTIVE',
    created: NOW,
    updated: NOW,
  });
  const instance = (serviceId: string, instanceId: string, state: LocalServiceInstanceInfo['state'], host: string, updated = NOW) =>
    instanceInfo({
      serviceId,
      instanceId,
      executorId: `E-${host}`,
      state,
      updated,
      localInfo: {
        hostname: host,
        ports: {
          main: { containerPort: 8000, hostPort: 41000, portType: 'HTTP' },
          metrics: { containerPort: 9100, hostPort: 41001, portType: 'HTTP' },
        },
      },
    });
  const services = [service('AGENT-1', { team: 'obs', 'scrape.me': 'yes' }), service('OTHER-1', {})];
  const instances = [
    instance('AGENT-1', 'SI-b', 'HEALTHY', 'host-2'),
    instance('AGENT-1', 'SI-a', 'HEALTHY', '10.0.0.1'),
    instance('AGENT-1', 'SI-c', 'UNHEALTHY', 'host-3'),
    instance('AGENT-1', 'SI-stale', 'HEALTHY', 'host-4', NOW - 120_000),
    instance('OTHER-1', 'SI-o', 'HEALTHY', 'fd00::1'),
  ];
  const view = {
    workingSet: {
      services: () => services,
      currentInstances: (serviceId: string, now: number, staleAgeMs: number) =>
        instances.filter((i) => i.serviceId === serviceId && now - i.updated <= staleAgeMs && i.state !== 'STOPPED'),
    },
  } as unknown as TermView;
  const targets = (filter: Partial<DiscoveryFilter>) => prometheusTargets(view, { services: [], tags: [], ...filter }, NOW, 60_000);

  it('one group per healthy, fresh instance and named port, with __meta_drove_ labels and the tags', () => {
    const groups = targets({ services: ['AGENT-1'] });
    expect(groups.map((g) => g.targets[0])).toEqual(['10.0.0.1:41000', '10.0.0.1:41001', 'host-2:41000', 'host-2:41001']);
    expect(groups[1]).toEqual({
      targets: ['10.0.0.1:41001'],
      labels: {
        __meta_drove_service_id: 'AGENT-1',
        __meta_drove_service_name: 'AGENT',
        __meta_drove_service_version: '1',
        __meta_drove_instance_id: 'SI-a',
        __meta_drove_executor_id: 'E-10.0.0.1',
        __meta_drove_host: '10.0.0.1',
        __meta_drove_port_name: 'metrics',
        __meta_drove_port_type: 'HTTP',
        __meta_drove_tag_team: 'obs',
        __meta_drove_tag_scrape_me: 'yes',
      },
    });
  });

  it('filters by tag (key, or key=value, all of them), by port name; brackets IPv6 hosts', () => {
    expect(targets({ tags: [{ key: 'team' }], port: 'metrics' }).map((g) => g.targets[0])).toEqual(['10.0.0.1:41001', 'host-2:41001']);
    expect(targets({ tags: [{ key: 'team', value: 'obs' }, { key: 'scrape.me', value: 'yes' }], port: 'main' })).toHaveLength(2);
    expect(targets({ tags: [{ key: 'team', value: 'other' }] })).toEqual([]);
    expect(targets({ tags: [{ key: 'team' }, { key: 'absent' }] })).toEqual([]);
    expect(targets({ services: ['OTHER-1'], port: 'main' }).map((g) => g.targets[0])).toEqual(['[fd00::1]:41000']);
    expect(targets({ port: 'nope' })).toEqual([]);
    expect(targets({})).toHaveLength(6);
  });
});
