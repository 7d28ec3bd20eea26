import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { mainJs } from '../../scripts/prepare.mjs';
import type { LocalServiceSpec } from '../../src/model/index.js';
import { DroveApi, healthy } from '../support/drove-api.js';
import { DroveProcess, E2E_SECRETS, ensureBinaryBuilt, scratchDir, startE2eCluster, type E2eCluster } from '../support/e2e-cluster.js';
import { removeContainersOf } from '../support/executor-harness.js';
import { ensureTestImage } from '../support/images.js';
import { createNetnsCluster, type NetnsCluster } from '../support/netns.js';
import { PrometheusServer, freeLoopbackPort, prometheusTimings } from '../support/prometheus.js';
import { haServiceSpec } from '../support/specs.js';
import { waitUntil } from '../support/wait.js';

/**
 * A real Prometheus (Debian's) scrapes drove-ts: a `drove dev` cluster (open metrics on loopback, the default) and
 * a multi-host cluster (bearer token on the controller and every executor); PromQL through its HTTP API answers the
 * healthy instance count the API reports after ACTIVATE and after UPDATE_INSTANCE_COUNT. A second Prometheus,
 * configured with nothing but the controller's http_sd endpoint, discovers and scrapes every instance of a running
 * local service: busybox httpd serving a metrics file its spec puts in the docroot.
 */

const TOKEN = 'e2e-monitoring-token-0123456789abcdef';
/** What every node agent instance serves at /metrics. */
const AGENT_METRICS = '# HELP drove_test_agent_up A node agent of the test.\n# TYPE drove_test_agent_up gauge\ndrove_test_agent_up 1\n';

/** The httpd test image as a node agent: its docroot gets a metrics file; tags to select it by. */
function agentSpec(name: string): LocalServiceSpec {
  const spec = haServiceSpec(name);
  return {
    ...spec,
    configs: [{ type: 'INLINE', localFilename: '/www/metrics', data: Buffer.from(AGENT_METRICS).toString('base64') }],
    tags: { team: 'observability', 'scrape.port': 'main' },
  };
}

/** Waits until Prometheus and the API agree on the service's healthy instances, and they are `expected`. */
async function expectHealthyCount(prometheus: PrometheusServer, api: DroveApi, serviceId: string, expected: number): Promise<void> {
  await waitUntil(`Prometheus and the API to report ${expected} healthy instances of ${serviceId}`, async () => {
    const fromApi = (await api.get<{ healthyInstances: number }>(`/apis/v1/localservices/${serviceId}`)).healthyInstances;
    const fromPrometheus = await prometheus.scalar(`drove_local_service_instances_healthy{service="${serviceId}"}`);
    return fromApi === expected && fromPrometheus === fromApi;
  }, { detail: () => prometheus.output().slice(-2000) });
}

/** Waits until `promql` evaluates to `expected` (each target is scraped on its own schedule: values arrive apart). */
function eventually(prometheus: PrometheusServer, promql: string, expected: number): Promise<true> {
  return waitUntil(`${promql} to be ${expected}`, async () => (await prometheus.scalar(promql)) === expected || undefined, {
    detail: () => prometheus.output().slice(-2000),
  });
}

describe('Prometheus scrapes a drove dev cluster', () => {
  const SERVICE = 'PROM_DEV_AGENT-1';
  let dev: DroveProcess;
  let prometheus: PrometheusServer;
  let api: DroveApi;
  let executorId: string | undefined;
  let output = '';

  beforeAll(async () => {
    ensureTestImage();
    await ensureBinaryBuilt();
    const dir = scratchDir('drove-prometheus-dev-');
    // Free ports, never 7000: other test files run `drove dev` on its defaults.
    const port = await freeLoopbackPort();
    const executorPort = await freeLoopbackPort();
    const child = spawn(process.execPath, [mainJs, 'dev', '--data-dir', join(dir, 'data'), '--port', String(port), '--executor-port', String(executorPort)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    dev = new DroveProcess('dev', child, join(dir, 'dev.log'));
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    dev.output = () => output;
    await waitUntil('the dev banner', () => {
      if (!dev.running) throw new Error(`drove dev exited (${dev.exitCode}): ${output}`);
      return output.includes('Ctrl-C stops the cluster') || undefined;
    }, { stopOnError: true });
    api = new DroveApi(`http://127.0.0.1:${port}`, { username: 'admin', password: 'admin' });
    executorId = (await api.executors())[0]?.executorId;
    // On loopback, the default `drove dev` listens on: both /metrics are open, no credentials in the scrape config.
    prometheus = await PrometheusServer.start([
      { job_name: 'drove-controller', static_configs: [{ targets: [`127.0.0.1:${port}`] }] },
      { job_name: 'drove-executor', static_configs: [{ targets: [`127.0.0.1:${executorPort}`] }] },
    ]);
  });

  afterEach((context) => {
    if (context.task.result?.state === 'fail') process.stderr.write(`----- drove dev\n${output}\n----- prometheus\n${prometheus?.output() ?? ''}\n`);
  });

  afterAll(async () => {
    await prometheus?.close();
    await dev?.stop();
    // drove dev leaves containers running for its next start; this cluster has none.
    if (executorId) await removeContainersOf(executorId);
    await api?.close();
  });

  it('reports the healthy instances the API reports, after ACTIVATE and after UPDATE_INSTANCE_COUNT', async () => {
    await eventually(prometheus, 'count(up == 1)', 2);
    await eventually(prometheus, 'drove_leader{job="drove-controller"}', 1);
    await api.accepted({ type: 'CREATE', spec: agentSpec('PROM_DEV_AGENT'), instancesPerHost: 1 });
    await api.waitForService(SERVICE, 'INACTIVE');
    await api.accepted({ type: 'ACTIVATE', serviceId: SERVICE });
    await api.waitForService(SERVICE, 'ACTIVE', (s) => s.healthyInstances === 1);
    await expectHealthyCount(prometheus, api, SERVICE, 1);
    await eventually(prometheus, `drove_local_service_state{service="${SERVICE}",state="ACTIVE"}`, 1);
    await eventually(prometheus, 'drove_executor_instances{job="drove-executor",state="HEALTHY"}', 1);

    await api.accepted({ type: 'UPDATE_INSTANCE_COUNT', serviceId: SERVICE, instancesPerHost: 2 });
    await api.waitForService(SERVICE, 'ACTIVE', (s) => s.healthyInstances === 2);
    await expectHealthyCount(prometheus, api, SERVICE, 2);
    await eventually(prometheus, 'drove_executor_instances{job="drove-executor",state="HEALTHY"}', 2);
    await eventually(prometheus, 'drove_operation_duration_seconds_count{type="UPDATE_INSTANCE_COUNT",outcome="completed"}', 1);

    await api.accepted({ type: 'DEACTIVATE', serviceId: SERVICE });
    await api.waitForService(SERVICE, 'INACTIVE', (s) => s.healthyInstances === 0);
  });
});

describe('Prometheus scrapes a multi-host cluster and discovers its node agents over http_sd', () => {
  const SERVICE = 'PROM_AGENT-1';
  let net: NetnsCluster;
  let cluster: E2eCluster;
  let scraper: PrometheusServer;
  let discovery: PrometheusServer;

  beforeAll(async () => {
    ensureTestImage();
    net = await createNetnsCluster({ hosts: 2, images: ['drove-ts/httpd:1'] });
    // Every node listens on a bridge address, not loopback: /metrics asks for the bearer token.
    cluster = await startE2eCluster(net, {
      controller: { options: { reconcileInterval: '1 second' }, monitoring: { bearerToken: TOKEN } },
      executor: { options: { containerStatsInterval: '1 second' }, monitoring: { bearerToken: TOKEN } },
    });
    const authorization = { type: 'Bearer', credentials: TOKEN };
    const controller = new URL(cluster.apiUrl).host;
    scraper = await PrometheusServer.start([
      { job_name: 'drove-controllers', authorization, static_configs: [{ targets: [controller] }] },
      { job_name: 'drove-executors', authorization, static_configs: [{ targets: net.hosts.map((h) => `${h.address}:3000`) }] },
    ]);
    // Nothing but the discovery endpoint: every target comes from drove-ts. Discovery needs a user (read access).
    discovery = await PrometheusServer.start([
      {
        job_name: 'node-agents',
        http_sd_configs: [
          {
            url: `${cluster.apiUrl}/apis/v1/discovery/prometheus?tag=team=observability&port=main`,
            refresh_interval: prometheusTimings.interval,
            basic_auth: { username: 'guest', password: 'guest' },
          },
        ],
        relabel_configs: [
          { source_labels: ['__meta_drove_service_id'], target_label: 'service' },
          { source_labels: ['__meta_drove_instance_id'], target_label: 'instance_id' },
          { source_labels: ['__meta_drove_host'], target_label: 'host' },
        ],
      },
    ]);
  });

  afterEach((context) => {
    if (context.task.result?.state === 'fail') {
      process.stderr.write(`${cluster?.logs() ?? ''}\n----- prometheus\n${scraper?.output() ?? ''}\n----- discovery\n${discovery?.output() ?? ''}\n`);
    }
  });

  afterAll(async () => {
    await discovery?.close();
    await scraper?.close();
    await cluster?.close();
    await net?.close();
  });

  /** Discovery found exactly the API's healthy instances, each scraped (up) and serving the agent's metric. */
  const expectDiscovered = async (expected: number) => {
    await waitUntil(`discovery of ${expected} node agents`, async () => {
      const instances = healthy(await cluster.api.instances(SERVICE));
      const scraped = await discovery.query('drove_test_agent_up{job="node-agents"} == 1');
      const up = await discovery.scalar('count(up{job="node-agents"} == 1)');
      const ids = (list: string[]) => [...list].sort().join(',');
      return (
        instances.length === expected &&
        up === expected &&
        ids(scraped.map((s) => s.metric.instance_id!)) === ids(instances.map((i) => i.instanceId)) &&
        scraped.every((s) => s.metric.service === SERVICE && net.hosts.some((h) => h.address === s.metric.host))
      );
    }, { detail: () => discovery.output().slice(-2000) });
  };

  it('after ACTIVATE and after UPDATE_INSTANCE_COUNT: the healthy count in PromQL is the API\'s; http_sd finds every instance', async () => {
    await eventually(scraper, 'count(up == 1)', 3);
    await cluster.api.accepted({ type: 'CREATE', spec: agentSpec('PROM_AGENT'), instancesPerHost: 1 });
    await cluster.api.waitForService(SERVICE, 'INACTIVE');
    await cluster.api.accepted({ type: 'ACTIVATE', serviceId: SERVICE });
    await cluster.api.waitForService(SERVICE, 'ACTIVE', (s) => s.healthyInstances === 2);
    await expectHealthyCount(scraper, cluster.api, SERVICE, 2);
    await eventually(scraper, `drove_local_service_instances_desired{service="${SERVICE}"}`, 2);
    await eventually(scraper, 'drove_executors{state="ACTIVE"}', 2);
    await eventually(scraper, `count(drove_executor_instance_memory_bytes{service="${SERVICE}"} > 0)`, 2);
    await expectDiscovered(2);

    await cluster.api.accepted({ type: 'UPDATE_INSTANCE_COUNT', serviceId: SERVICE, instancesPerHost: 2 });
    await cluster.api.waitForService(SERVICE, 'ACTIVE', (s) => s.healthyInstances === 4);
    await expectHealthyCount(scraper, cluster.api, SERVICE, 4);
    await eventually(scraper, `count(drove_executor_instance_memory_bytes{service="${SERVICE}"} > 0)`, 4);
    await expectDiscovered(4);
  });

  it('without the token the controller and an executor refuse the scrape; the cluster secret is no way in on an executor', async () => {
    const executorMetrics = `http://${net.hosts[0]!.address}:3000/metrics`;
    for (const target of [`${cluster.apiUrl}/metrics`, executorMetrics]) {
      expect((await request(target)).statusCode, target).toBe(401);
      expect((await request(target, { headers: { authorization: `Bearer ${TOKEN}` } })).statusCode, target).toBe(200);
    }
    expect((await request(executorMetrics, { headers: { 'Cluster-Authorization': E2E_SECRETS.controller } })).statusCode).toBe(401);
  });
});
