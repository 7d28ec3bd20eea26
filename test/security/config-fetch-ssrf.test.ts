import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { fetchConfig } from '../../src/model/http-config-fetch.js';
import { checkLiteralHost, refusedAddress } from '../../src/model/fetch-address-guard.js';
import type { ExecutorMessage, LocalServiceSpec } from '../../src/model/index.js';
import { parseExecutorConfig } from '../../src/executor/config.js';
import { InstanceStateMachine } from '../../src/executor/instances/instance.js';
import type { LocalServiceInstanceInfo } from '../../src/model/instance.js';
import { testSpec } from '../support/specs.js';
import { harness, type Harness } from '../support/engine-harness.js';
import { waitUntil } from '../support/wait.js';
import { TEST_IMAGE, instanceDeps, instanceSpec } from '../unit/executor/fakes.js';

/**
 * HTTP config fetches as a way into the fetching host: whoever may create a service names the URL the controller
 * (CONTROLLER_HTTP_FETCH) or the executor (EXECUTOR_HTTP_FETCH) fetches, and the body comes back in the instance's
 * config file. Loopback, link-local, metadata and unspecified addresses are refused, on the address the connection
 * uses, unless options.allowConfigFetchFromLocalAddresses is on in that host's config. A real HTTP server on
 * loopback stands in for what must not be reachable (the controller host's etcd, the executor host's Docker API).
 */

const ID = 'TEST_SPEC-00001';
const BODY = 'secret-of-the-controller-host';
const OPTION = 'options.allowConfigFetchFromLocalAddresses';
type StartMessage = Extract<ExecutorMessage, { type: 'START_LOCAL_SERVICE_INSTANCE' }>;

let server: Server;
let port: number;
let requests = 0;

beforeAll(async () => {
  server = createServer((_req, res) => {
    requests++;
    res.end(BODY);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function fetchingSpec(hostname: string): LocalServiceSpec {
  return testSpec({
    configs: [{ type: 'CONTROLLER_HTTP_FETCH', localFilename: '/etc/agent.conf', http: { protocol: 'HTTP', hostname, port, path: '/config' } }],
  });
}

describe('a service whose CONTROLLER_HTTP_FETCH config points at the controller host', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function rollOut(hostname: string, options: Record<string, unknown> = {}) {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) }));
    h = await harness({ reconcileInterval: '1 day', ...options }, undefined, logger);
    await h.controller.term!.reconciler.stop();
    await h.fleet.add('ex1.local', {});
    await h.submit({ type: 'CREATE', spec: fetchingSpec(hostname), instancesPerHost: 1 });
    await h.until(() => h!.controller.serviceSummary(ID)?.state === 'INACTIVE');
    await h.submit({ type: 'ACTIVATE', serviceId: ID });
    await h.until(() => h!.controller.serviceSummary(ID)?.state === 'ACTIVE');
    const before = requests;
    await h.submit({ type: 'ADJUST_INSTANCES', serviceId: ID });
    const starts = () => h!.fleet.sent.filter((m): m is StartMessage => m.type === 'START_LOCAL_SERVICE_INSTANCE');
    return { lines, starts, fetched: () => requests - before };
  }

  it.each([
    ['127.0.0.1', '127.0.0.1 is a loopback address'],
    // A name is checked on what it resolves to, inside the connection's own lookup (no second resolution).
    ['localhost', 'localhost resolves to'],
  ])('fails the start, naming the option, when the config server is %s; nothing is fetched', async (hostname, why) => {
    const { lines, starts, fetched } = await rollOut(hostname);
    // Drove's job policy: the first attempt and jobRetryCount (2) retries, each failing on the fetch.
    await h!.until(() => lines.filter((l) => l.includes('Config fetch refused')).length === 3);
    const refusal = lines.find((l) => l.includes('Config fetch refused'))!;
    expect(refusal).toContain(why);
    expect(refusal).toContain(`set ${OPTION}: true in the controller config to allow it`);
    expect(starts()).toHaveLength(0);
    expect(fetched()).toBe(0);
  });

  it('fetches and inlines the config when the option allows local addresses', async () => {
    const { starts, fetched } = await rollOut('127.0.0.1', { allowConfigFetchFromLocalAddresses: true });
    await h!.until(() => starts().length === 1 && h!.controller.serviceInstances(ID, ['HEALTHY']).length === 1);
    expect(fetched()).toBe(1);
    expect(starts()[0]!.spec.configs).toEqual([
      { type: 'INLINE', localFilename: '/etc/agent.conf', data: Buffer.from(BODY).toString('base64') },
    ]);
  });
});

describe('the refused addresses', () => {
  const limits = { timeoutMs: 2_000, maxBytes: 1024, allowLocalAddresses: false, side: 'controller' as const };

  // Only forms that reach this host: were the guard broken, the test must not send traffic anywhere else.
  it.each([
    ['0.0.0.0', 'an unspecified address'],
    ['127.0.0.2', 'a loopback address'],
    ['[::1]', 'a loopback address'],
    ['[::]', 'an unspecified address'],
    ['[::ffff:127.0.0.1]', 'a loopback address'],
    // The URL parser reads this as 127.0.0.1, as the socket would.
    ['2130706433', 'a loopback address'],
  ])('%s is refused before any connection', async (hostname, why) => {
    const before = requests;
    await expect(fetchConfig({ protocol: 'HTTP', hostname, port, path: '/' }, limits)).rejects.toThrow(why);
    expect(requests).toBe(before);
  });

  it('link-local and metadata addresses are refused too (classified only: nothing is dialled)', () => {
    expect(refusedAddress('169.254.169.254')).toBe('a cloud instance metadata address');
    expect(refusedAddress('::ffff:169.254.169.254')).toBe('a cloud instance metadata address');
    expect(refusedAddress('fd00:ec2::254')).toBe('a cloud instance metadata address');
    expect(refusedAddress('169.254.10.1')).toBe('a link-local address');
    expect(refusedAddress('fe80::1')).toBe('a link-local address');
    expect(() => checkLiteralHost('[fe80::1]', 'controller')).toThrow(`Config fetch refused: fe80::1 is a link-local address; set ${OPTION}: true`);
    expect(() => checkLiteralHost('169.254.169.254', 'executor')).toThrow('169.254.169.254 is a cloud instance metadata address');
  });

  it('private and public addresses stay allowed (config servers live there)', () => {
    for (const address of ['10.0.0.5', '172.16.4.4', '192.168.1.10', 'fd12::5', '203.0.113.7', '2001:db8::1']) {
      expect(refusedAddress(address)).toBeUndefined();
    }
    expect(() => checkLiteralHost('10.0.0.5', 'controller')).not.toThrow();
  });
});

describe('an EXECUTOR_HTTP_FETCH config that points at the executor host', () => {
  const executorConfig = (options: Record<string, unknown> = {}) =>
    parseExecutorConfig({ controllers: ['http://ctl:10000'], clusterAuth: { secrets: [{ nodeType: 'CONTROLLER', secret: 's' }] }, options });

  async function start(hostname: string, allowLocalAddresses: boolean) {
    const deps = instanceDeps({ configFetch: { allowLocalAddresses } });
    deps.runtime.images.add(TEST_IMAGE);
    const spec = instanceSpec({
      configs: [{ type: 'EXECUTOR_HTTP_FETCH', localFilename: '/etc/agent.conf', http: { protocol: 'HTTP', hostname, port, path: '/config' } }],
    });
    deps.resources.lock(spec.instanceId, spec.resources);
    const reports: LocalServiceInstanceInfo[] = [];
    const sm = new InstanceStateMachine(spec, deps, (info) => reports.push(info));
    void sm.run();
    // The fetch (and its refusal) waits on real I/O, a name lookup and a socket, which take real time: a fixed
    // number of virtual-clock steps could end before it answers on a loaded machine (2 of 6 runs did). So the
    // clock moves while the wait is in real time.
    await waitUntil('the start to fail or the instance to be UNREADY', async () => {
      await deps.clock.advance(100);
      return reports.some((r) => r.state === 'START_FAILED' || r.state === 'UNREADY');
    }, { intervalMs: 10 });
    return { reports, sm, deps };
  }

  it('is refused by default, naming the executor option: the start fails and nothing is fetched', async () => {
    expect(executorConfig().options.allowConfigFetchFromLocalAddresses).toBe(false);
    for (const hostname of ['127.0.0.1', 'localhost']) {
      const before = requests;
      const { reports } = await start(hostname, false);
      const failed = reports.find((r) => r.state === 'START_FAILED');
      expect(failed?.errorMessage).toContain('Config fetch refused');
      expect(failed?.errorMessage).toContain(`set ${OPTION}: true in the executor config to allow it`);
      expect(requests).toBe(before);
    }
  });

  it('is fetched into the container when the executor option allows local addresses', async () => {
    expect(executorConfig({ allowConfigFetchFromLocalAddresses: true }).options.allowConfigFetchFromLocalAddresses).toBe(true);
    const before = requests;
    const { reports, sm } = await start('127.0.0.1', true);
    expect(reports.map((r) => r.state)).toContain('UNREADY');
    expect(requests).toBe(before + 1);
    sm.requestStop();
  });
});
