import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { declaredMetrics, sampleValue, samplesOf } from '../../support/exposition.js';
import { itSpec, startInstance, stopInstance, useTestExecutor } from '../../support/executor-harness.js';
import { promtoolCheckMetrics } from '../../support/prometheus.js';
import { waitUntil } from '../../support/wait.js';

/**
 * The executor's /metrics against real Docker: CPU and memory of a running container from the Docker stats API,
 * pull and probe durations, the instance counts, all in text that `promtool check metrics` accepts.
 */
// Stats every second instead of 30 s, so the test sees a reading within a few seconds.
const fixture = useTestExecutor({ options: { containerStatsInterval: '1 second' } });

const scrape = async () => {
  const response = await request(`${fixture.executor.url}/metrics`);
  expect(response.statusCode).toBe(200);
  expect(response.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
  return response.body.text();
};

describe('executor /metrics on real Docker', () => {
  it('a running instance: CPU and memory from docker stats, pull and probe durations, instances by state; promtool accepts it', async () => {
    const spec = itSpec();
    expect(await startInstance(fixture.executor, spec)).toMatchObject({ status: 'ACCEPTED' });
    await fixture.leader.waitForState(spec.instanceId, 'HEALTHY');
    const labels = { service: spec.serviceId, instance_id: spec.instanceId };
    const text = await waitUntil('a stats reading of the instance', async () => {
      const body = await scrape();
      return (sampleValue(body, 'drove_executor_instance_memory_bytes', labels) ?? 0) > 0 ? body : undefined;
    });
    // busybox httpd with a shell: a few hundred KiB, within the 32 MiB limit the spec gives.
    expect(sampleValue(text, 'drove_executor_instance_memory_bytes', labels)).toBeLessThan(32 * 1024 * 1024);
    expect(sampleValue(text, 'drove_executor_instance_memory_limit_bytes', labels)).toBe(32 * 1024 * 1024);
    expect(sampleValue(text, 'drove_executor_instance_cpu_seconds_total', labels)).toBeGreaterThan(0);
    expect(sampleValue(text, 'drove_executor_instances', { state: 'HEALTHY' })).toBe(1);
    expect(sampleValue(text, 'drove_executor_instance_starts_total', { service: spec.serviceId })).toBeGreaterThanOrEqual(1);
    // The image is local; its pull may succeed or fail (no registry here) and fall back to the local copy.
    const pulls = samplesOf(text, 'drove_executor_image_pull_duration_seconds_count').reduce((n, s) => n + s.value, 0);
    expect(pulls).toBeGreaterThanOrEqual(1);
    expect(sampleValue(text, 'drove_executor_check_duration_seconds_count', { check: 'readiness', mode: 'HTTP', result: 'pass' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(text, 'drove_executor_check_duration_seconds_count', { check: 'health', mode: 'HTTP', result: 'pass' })).toBeGreaterThanOrEqual(1);
    expect(declaredMetrics(text)).toEqual(expect.arrayContaining(['process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds']));

    const lint = await promtoolCheckMetrics(text);
    expect(lint.output).toBe('');
    expect(lint.code).toBe(0);

    expect(await stopInstance(fixture.executor, spec.instanceId)).toMatchObject({ status: 'ACCEPTED' });
    await fixture.leader.waitForState(spec.instanceId, 'STOPPED');
    await waitUntil('the stopped instance to leave the stats', async () => samplesOf(await scrape(), 'drove_executor_instance_memory_bytes').length === 0);
  });

  it('promtool check metrics fails on what it should: the check is real', async () => {
    const lint = await promtoolCheckMetrics('# HELP bad_total x\n# TYPE bad_total gauge\nbad_total 1\n');
    expect(lint.code).not.toBe(0);
    expect(lint.output).toContain('non-counter metrics should not have "_total" suffix');
  });
});
