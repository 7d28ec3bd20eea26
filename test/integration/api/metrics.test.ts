import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { declaredMetrics, sampleValue } from '../../support/exposition.js';
import { promtoolCheckMetrics } from '../../support/prometheus.js';
import { validSpec } from '../../support/api-harness.js';
import { waitUntil } from '../../support/wait.js';
import { ADMIN, GUEST, attachFakeExecutor, startLiveController, type FakeExecutorEndpoint, type LiveController } from '../../security/live-controller.js';

/**
 * The controller's /metrics and Prometheus discovery on a real server (SQLite store, real HTTP), with an executor
 * that reports over HTTP: the text passes `promtool check metrics`, and its numbers are the API's.
 */
const SERVICE = 'METRICS_AGENT-1';
let controller: LiveController;
let executor: FakeExecutorEndpoint;

beforeAll(async () => {
  // On 127.0.0.1: metrics open by default.
  controller = await startLiveController();
  executor = await attachFakeExecutor(controller);
  const spec = validSpec({ name: 'METRICS_AGENT', version: '1', tags: { team: 'observability', 'scrape/port': 'main' } });
  const created = await controller.call('POST', '/apis/v1/localservices/operations', ADMIN, { type: 'CREATE', spec, instancesPerHost: 1 });
  expect(created.status).toBe(200);
  await waitUntil('INACTIVE', async () => (await controller.call('GET', `/apis/v1/localservices/${SERVICE}`, ADMIN)).body?.data?.state === 'INACTIVE');
  expect((await controller.call('POST', '/apis/v1/localservices/operations', ADMIN, { type: 'ACTIVATE', serviceId: SERVICE })).status).toBe(200);
  const start = await waitUntil('the START', () => executor.starts.find((s) => s.serviceId === SERVICE));
  for (const state of ['PENDING', 'PROVISIONING', 'STARTING', 'UNREADY', 'READY', 'HEALTHY'] as const) await executor.report(start, state);
  await waitUntil('ACTIVE', async () => (await controller.call('GET', `/apis/v1/localservices/${SERVICE}`, ADMIN)).body?.data?.state === 'ACTIVE');
});
afterAll(async () => {
  await executor?.close();
  await controller?.close();
});

describe('controller /metrics on a real server', () => {
  it('the text passes promtool check metrics and reports what the API reports', async () => {
    const response = await request(`${controller.url}/metrics`);
    expect(response.statusCode).toBe(200);
    const text = await response.body.text();
    const lint = await promtoolCheckMetrics(text);
    expect(lint.output).toBe('');
    expect(lint.code).toBe(0);

    const summary = (await controller.call('GET', `/apis/v1/localservices/${SERVICE}`, ADMIN)).body.data;
    expect(summary.healthyInstances).toBe(1);
    expect(sampleValue(text, 'drove_local_service_instances_healthy', { service: SERVICE })).toBe(summary.healthyInstances);
    expect(sampleValue(text, 'drove_local_service_instances_desired', { service: SERVICE })).toBe(1);
    expect(sampleValue(text, 'drove_local_service_state', { service: SERVICE, state: 'ACTIVE' })).toBe(1);
    expect(sampleValue(text, 'drove_executors', { state: 'ACTIVE' })).toBe(1);
    expect(sampleValue(text, 'drove_leader')).toBe(1);
    expect(sampleValue(text, 'drove_leader_elections_won_total')).toBe(1);
    expect(sampleValue(text, 'drove_operation_duration_seconds_count', { type: 'ACTIVATE', outcome: 'completed' })).toBe(1);
    expect(sampleValue(text, 'drove_job_duration_seconds_count', { job: 'start', outcome: 'success' })).toBe(1);
    // The real SQLite store's writes, timed through the instrumented store the server wraps it in.
    expect(sampleValue(text, 'drove_store_write_duration_seconds_count', { store: 'sqlite', operation: 'putService', outcome: 'success' })).toBeGreaterThanOrEqual(2);
    expect(sampleValue(text, 'drove_store_write_duration_seconds_count', { store: 'sqlite', operation: 'putInstances', outcome: 'success' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(text, 'drove_http_request_duration_seconds_count', { method: 'POST', route: '/apis/v1/localservices/operations', status_code: '200' })).toBe(2);
    expect(sampleValue(text, 'drove_http_request_duration_seconds_count', { method: 'POST', route: '/apis/v1/messages', status_code: '200' })).toBeGreaterThanOrEqual(7);
    expect(declaredMetrics(text)).toEqual(expect.arrayContaining(['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds']));
  });

  it('discovery lists the healthy instance as a target group with its labels and tags; credentials needed', async () => {
    const url = `${controller.url}/apis/v1/discovery/prometheus?tag=team=observability`;
    expect((await request(url)).statusCode).toBe(401);
    const response = await request(url, { headers: GUEST });
    expect(response.statusCode).toBe(200);
    const start = executor.starts.find((s) => s.serviceId === SERVICE)!;
    expect(await response.body.json()).toEqual([
      {
        targets: ['127.0.0.1:40001'],
        labels: {
          __meta_drove_service_id: SERVICE,
          __meta_drove_service_name: 'METRICS_AGENT',
          __meta_drove_service_version: '1',
          __meta_drove_instance_id: start.instanceId,
          __meta_drove_executor_id: executor.executorId,
          __meta_drove_host: '127.0.0.1',
          __meta_drove_port_name: 'main',
          __meta_drove_port_type: 'HTTP',
          __meta_drove_tag_team: 'observability',
          __meta_drove_tag_scrape_port: 'main',
        },
      },
    ]);
    expect(await (await request(`${controller.url}/apis/v1/discovery/prometheus?tag=team=other`, { headers: GUEST })).body.json()).toEqual([]);
  });
});
