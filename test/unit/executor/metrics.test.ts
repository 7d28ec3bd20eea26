import { describe, expect, it } from 'vitest';
import { InstanceEngine } from '../../../src/executor/instances/instance-engine.js';
import { ExecutorMetrics } from '../../../src/executor/metrics/metrics.js';
import { ContainerStatsCollector } from '../../../src/executor/metrics/stats.js';
import type { LocalServiceInstanceState } from '../../../src/model/states.js';
import { sampleValue, samplesOf } from '../../support/exposition.js';
import { instanceInfo } from '../../support/records.js';
import { advanceUntil } from '../../support/wait.js';
import { TEST_IMAGE, instanceDeps, instanceSpec, silentLogger } from './fakes.js';

const SERVICE = 'TEST_SPEC-00001';

describe('executor metrics: instance changes', () => {
  const report = (metrics: ExecutorMetrics, instanceId: string, ...states: LocalServiceInstanceState[]) => {
    for (const state of states) metrics.instanceChanged(instanceInfo({ serviceId: SERVICE, instanceId, state }));
  };

  it('counts starts, failures by state, and a restart only for an instance started after one failed here', async () => {
    const metrics = new ExecutorMetrics();
    report(metrics, 'SI-1', 'PENDING', 'PROVISIONING', 'STARTING', 'UNREADY', 'READY', 'HEALTHY', 'STOPPING', 'DEPROVISIONING', 'STOPPED');
    report(metrics, 'SI-2', 'PENDING', 'PROVISIONING', 'STARTING', 'UNREADY', 'READY', 'HEALTHY', 'UNHEALTHY', 'STOPPING', 'DEPROVISIONING', 'STOPPED');
    report(metrics, 'SI-3', 'PENDING', 'PROVISIONING', 'START_FAILED', 'DEPROVISIONING', 'STOPPED');
    report(metrics, 'SI-4', 'PENDING', 'PROVISIONING', 'STARTING', 'UNREADY', 'READY', 'HEALTHY');
    // A re-adopted instance (executor restart) starts at UNKNOWN: not a start.
    report(metrics, 'SI-5', 'UNKNOWN', 'UNREADY', 'READY', 'HEALTHY');
    const text = await metrics.render(undefined);
    const service = { service: SERVICE };
    expect(sampleValue(text, 'drove_executor_instance_starts_total', service)).toBe(4);
    expect(sampleValue(text, 'drove_executor_instance_failures_total', { service: SERVICE, state: 'UNHEALTHY' })).toBe(1);
    expect(sampleValue(text, 'drove_executor_instance_failures_total', { service: SERVICE, state: 'START_FAILED' })).toBe(1);
    // SI-3 replaced SI-2 (failed), SI-4 replaced SI-3 (failed); SI-2 followed a clean stop.
    expect(sampleValue(text, 'drove_executor_instance_restarts_total', service)).toBe(2);
  });

  it('instances by state are read from the snapshot at every scrape, every state listed', async () => {
    const metrics = new ExecutorMetrics();
    const text = await metrics.render({ instanceStates: ['HEALTHY', 'HEALTHY', 'STARTING'] });
    expect(sampleValue(text, 'drove_executor_instances', { state: 'HEALTHY' })).toBe(2);
    expect(sampleValue(text, 'drove_executor_instances', { state: 'STARTING' })).toBe(1);
    expect(sampleValue(text, 'drove_executor_instances', { state: 'LOST' })).toBe(0);
    expect(samplesOf(await metrics.render(undefined), 'drove_executor_instances')).toEqual([]);
  });
});

describe('executor metrics: an instance on the fake runtime', () => {
  it('reports its pull and each readiness and health probe by check, mode and result', async () => {
    let deps!: ReturnType<typeof instanceDeps>;
    const metrics = new ExecutorMetrics({ now: () => deps.clock.now() / 1000 });
    deps = instanceDeps({ metrics });
    deps.runtime.pullable.add(TEST_IMAGE);
    deps.checker.script('/ready', false, true);
    const engine = new InstanceEngine(deps);
    const spec = instanceSpec();
    engine.start(spec);
    await advanceUntil(deps.clock, 'HEALTHY', () => engine.get(spec.instanceId)?.state === 'HEALTHY', { maxMs: 60_000, stepMs: 100 });
    const text = await metrics.render(undefined);
    expect(sampleValue(text, 'drove_executor_image_pull_duration_seconds_count', { outcome: 'success' })).toBe(1);
    expect(sampleValue(text, 'drove_executor_check_duration_seconds_count', { check: 'readiness', mode: 'HTTP', result: 'fail' })).toBe(1);
    expect(sampleValue(text, 'drove_executor_check_duration_seconds_count', { check: 'readiness', mode: 'HTTP', result: 'pass' })).toBe(1);
    // The first health check, then the continuous one's first probe right away.
    expect(sampleValue(text, 'drove_executor_check_duration_seconds_count', { check: 'health', mode: 'HTTP', result: 'pass' })).toBeGreaterThanOrEqual(1);
    engine.stop(spec.instanceId);
    await advanceUntil(deps.clock, 'stopped', () => !engine.has(spec.instanceId), { maxMs: 60_000, stepMs: 100 });
  });

  it('a pull that fails is a failure (the local copy is then used); a stop during the pull aborts it', async () => {
    const deps = instanceDeps();
    const metrics = new ExecutorMetrics({ now: () => deps.clock.now() / 1000 });
    deps.metrics = metrics;
    deps.runtime.images.add(TEST_IMAGE);
    const engine = new InstanceEngine(deps);
    const spec = instanceSpec();
    engine.start(spec);
    await advanceUntil(deps.clock, 'HEALTHY', () => engine.get(spec.instanceId)?.state === 'HEALTHY', { maxMs: 60_000, stepMs: 100 });
    expect(sampleValue(await metrics.render(undefined), 'drove_executor_image_pull_duration_seconds_count', { outcome: 'failure' })).toBe(1);

    deps.runtime.pullImage = (_image, options) =>
      new Promise((_resolve, reject) => options.signal?.addEventListener('abort', () => reject(new Error('interrupted')), { once: true }));
    const second = instanceSpec({ resources: [{ type: 'CPU', cores: { '0': [2] } }, { type: 'MEMORY', memoryInMB: { '0': 64 } }] });
    engine.start(second);
    await advanceUntil(deps.clock, 'pulling', () => engine.get(second.instanceId)?.state === 'PROVISIONING', { maxMs: 10_000, stepMs: 10 });
    engine.stop(second.instanceId);
    await advanceUntil(deps.clock, 'stopped', () => !engine.has(second.instanceId), { maxMs: 60_000, stepMs: 100 });
    expect(sampleValue(await metrics.render(undefined), 'drove_executor_image_pull_duration_seconds_count', { outcome: 'aborted' })).toBe(1);
  });
});

describe('container stats collector', () => {
  it('reads CPU and memory of every running instance, grows the CPU counter by the difference, drops ended instances', async () => {
    const deps = instanceDeps();
    deps.runtime.pullable.add(TEST_IMAGE);
    const engine = new InstanceEngine(deps);
    const metrics = new ExecutorMetrics();
    const collector = new ContainerStatsCollector({ runtime: deps.runtime, engine, metrics, clock: deps.clock, logger: silentLogger, intervalMs: 30_000 });
    const spec = instanceSpec();
    engine.start(spec);
    await advanceUntil(deps.clock, 'HEALTHY', () => engine.get(spec.instanceId)?.state === 'HEALTHY', { maxMs: 60_000, stepMs: 100 });
    const labels = { service: SERVICE, instance_id: spec.instanceId };

    collector.start();
    await advanceUntil(deps.clock, 'a collection', () => deps.runtime.calls.some((c) => c.startsWith('stats ')), { maxMs: 31_000, stepMs: 1_000 });
    await collector.stop();
    let text = await metrics.render(undefined);
    expect(sampleValue(text, 'drove_executor_instance_cpu_seconds_total', labels)).toBe(1.5);
    expect(sampleValue(text, 'drove_executor_instance_memory_bytes', labels)).toBe(4 * 1024 * 1024);
    expect(sampleValue(text, 'drove_executor_instance_memory_limit_bytes', labels)).toBe(32 * 1024 * 1024);

    deps.runtime.stats = { cpuSeconds: 4, memoryBytes: 5 * 1024 * 1024 };
    await collector.collect();
    text = await metrics.render(undefined);
    expect(sampleValue(text, 'drove_executor_instance_cpu_seconds_total', labels)).toBe(4);
    expect(sampleValue(text, 'drove_executor_instance_memory_bytes', labels)).toBe(5 * 1024 * 1024);

    // A failed read is counted and keeps the last values.
    const containerStats = deps.runtime.containerStats.bind(deps.runtime);
    deps.runtime.containerStats = async () => {
      throw new Error('engine busy');
    };
    await collector.collect();
    text = await metrics.render(undefined);
    expect(sampleValue(text, 'drove_executor_container_stats_failures_total')).toBe(1);
    expect(sampleValue(text, 'drove_executor_instance_cpu_seconds_total', labels)).toBe(4);
    deps.runtime.containerStats = containerStats;

    engine.stop(spec.instanceId);
    await advanceUntil(deps.clock, 'stopped', () => !engine.has(spec.instanceId), { maxMs: 60_000, stepMs: 100 });
    await collector.collect();
    text = await metrics.render(undefined);
    expect(samplesOf(text, 'drove_executor_instance_cpu_seconds_total')).toEqual([]);
    expect(samplesOf(text, 'drove_executor_instance_memory_bytes')).toEqual([]);
  });
});
