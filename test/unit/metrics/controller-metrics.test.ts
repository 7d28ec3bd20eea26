import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { EngineDeps } from '../../../src/controller/engine/deps.js';
import { ServiceRunner } from '../../../src/controller/engine/service-runner.js';
import { ControllerMetrics } from '../../../src/controller/metrics/metrics.js';
import { InstrumentedStore } from '../../../src/controller/metrics/instrumented-store.js';
import { SqliteStateStore } from '../../../src/controller/store/sqlite.js';
import { harness, type Harness } from '../../support/engine-harness.js';
import { sampleValue, samplesOf } from '../../support/exposition.js';
import { testSpec } from '../../support/specs.js';
import { waitUntil } from '../../support/wait.js';
import type { PlacementPolicy } from '../../../src/model/index.js';

const ID = 'TEST_SPEC-00001';
/** Each of the six steps PENDING..HEALTHY of a fake instance takes this long (virtual time). */
const STEP_MS = 100;

describe('controller metrics: what the engine, reconciler and leadership report', () => {
  let h: Harness | undefined;
  let metrics: ControllerMetrics;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  const start = async () => {
    h = await harness({ reconcileInterval: '5 seconds' }, undefined, undefined, (clock) => {
      metrics = new ControllerMetrics({ now: () => clock.now() / 1000 });
      return metrics;
    });
    return h;
  };
  const scrape = () => metrics.render(h!.controller.metricsSnapshot());
  /** Ends the leader term (and the harness) inside a test. */
  const closeNow = async () => {
    await h!.close();
    h = undefined;
  };
  const state = () => h!.controller.serviceSummary(ID)?.state;

  it('a rollout: state gauges from the view, operation and job durations on the injected clock, reconciler passes, the election', async () => {
    const t = await start();
    for (const name of ['ex1.local', 'ex2.local']) await t.fleet.add(name, { cores: 8, onStart: () => ({ kind: 'healthy', stepMs: STEP_MS }) });
    await t.submit({ type: 'CREATE', spec: testSpec(), instancesPerHost: 2 });
    await t.until(() => state() === 'INACTIVE');
    await t.submit({ type: 'ACTIVATE', serviceId: ID });
    await t.until(() => state() === 'ACTIVE' && t.controller.serviceSummary(ID)?.healthyInstances === 4);
    await t.until(() => t.controller.term!.engine.pendingOperation(ID) === undefined);

    const text = await scrape();
    const service = { service: ID };
    expect(sampleValue(text, 'drove_leader')).toBe(1);
    expect(sampleValue(text, 'drove_local_service_instances_desired', service)).toBe(4);
    expect(sampleValue(text, 'drove_local_service_instances_running', service)).toBe(4);
    expect(sampleValue(text, 'drove_local_service_instances_healthy', service)).toBe(4);
    expect(sampleValue(text, 'drove_local_service_instances', { service: ID, state: 'HEALTHY' })).toBe(4);
    expect(sampleValue(text, 'drove_local_service_state', { service: ID, state: 'ACTIVE' })).toBe(1);
    expect(sampleValue(text, 'drove_local_service_activation_state', { service: ID, activation_state: 'ACTIVE' })).toBe(1);
    expect(sampleValue(text, 'drove_executors', { state: 'ACTIVE' })).toBe(2);
    expect(sampleValue(text, 'drove_executors', { state: 'REMOVED' })).toBe(0);
    expect(sampleValue(text, 'drove_operations_in_flight', { type: 'ADJUST_INSTANCES' })).toBe(0);
    expect(sampleValue(text, 'drove_cluster_maintenance')).toBe(0);

    for (const type of ['CREATE', 'ACTIVATE', 'ADJUST_INSTANCES']) {
      expect(sampleValue(text, 'drove_operation_duration_seconds_count', { type, outcome: 'completed' }), type).toBeGreaterThanOrEqual(1);
    }
    // The ADJUST waited for four starts of six steps each, two at a time or more: at least six steps of virtual time.
    expect(sampleValue(text, 'drove_operation_duration_seconds_sum', { type: 'ADJUST_INSTANCES', outcome: 'completed' })).toBeGreaterThanOrEqual((6 * STEP_MS) / 1000);
    expect(sampleValue(text, 'drove_job_duration_seconds_count', { job: 'start', outcome: 'success' })).toBe(4);
    expect(sampleValue(text, 'drove_job_duration_seconds_sum', { job: 'start', outcome: 'success' })).toBeGreaterThanOrEqual((4 * 6 * STEP_MS) / 1000);
    expect(sampleValue(text, 'drove_reconciler_pass_duration_seconds_count', { result: 'completed' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(text, 'drove_reconciler_adjustments_total')).toBeGreaterThanOrEqual(1);
    expect(sampleValue(text, 'drove_leader_elections_won_total')).toBe(1);
    expect(sampleValue(text, 'drove_leader_step_downs_total')).toBe(0);

    // No heartbeats in the harness: after staleExecutorAge both executors are removed, and remembered.
    await t.until(() => t.controller.executorSummaries().filter((e) => e.state === 'REMOVED').length === 2, 120_000, 1_000);
    const removed = await scrape();
    expect(sampleValue(removed, 'drove_executors', { state: 'REMOVED' })).toBe(2);
    expect(sampleValue(removed, 'drove_executors', { state: 'ACTIVE' })).toBe(0);
    expect(sampleValue(removed, 'drove_local_service_instances_desired', service)).toBe(0);

    await closeNow();
    const after = await metrics.render(undefined);
    expect(sampleValue(after, 'drove_leader_step_downs_total')).toBe(1);
  });

  it('desired is the summary\'s requiredInstances: only the hosts a tag constraint admits, one in crash-loop backoff included', async () => {
    const t = await start();
    const gpuOnly: PlacementPolicy = { type: 'COMPOSITE', combiner: 'AND', policies: [{ type: 'LOCAL', hostLevel: false }, { type: 'MATCH_TAG', tag: 'gpu' }] };
    const looping = await t.fleet.add('gpu0.local', { tags: ['gpu'], onStart: () => ({ kind: 'fail', state: 'READINESS_CHECK_FAILED' }) });
    await t.fleet.add('gpu1.local', { tags: ['gpu'] });
    await t.fleet.add('plain.local', { tags: ['ssd'] });
    t.fleet.startHeartbeats(20_000);
    await t.submit({ type: 'CREATE', spec: testSpec({ placementPolicy: gpuOnly }), instancesPerHost: 2 });
    await t.until(() => state() === 'INACTIVE');
    await t.submit({ type: 'ACTIVATE', serviceId: ID });
    await t.until(() => (t.controller.serviceSummary(ID)?.crashLoops?.[0]?.restartCount ?? 0) >= 2 && t.controller.serviceSummary(ID)?.healthyInstances === 2, 120_000, 100);
    expect(t.controller.serviceSummary(ID)?.crashLoops?.map((l) => l.executorId)).toEqual([looping.executorId]);
    const text = await scrape();
    // Two gpu hosts x 2, the held one included; the untagged host wants nothing.
    expect(t.controller.serviceSummary(ID)?.requiredInstances).toBe(4);
    expect(sampleValue(text, 'drove_local_service_instances_desired', { service: ID })).toBe(4);
    expect(sampleValue(text, 'drove_local_service_instances_healthy', { service: ID })).toBe(2);
  });

  it('an operation in flight is counted; cancelled, it ends as cancelled and its aborted starts as aborted', async () => {
    const t = await start();
    await t.controller.term!.reconciler.stop();
    await t.fleet.add('ex1.local', { answerDelayMs: 5_000, cores: 16 });
    await t.submit({ type: 'CREATE', spec: testSpec(), instancesPerHost: 3 });
    await t.until(() => state() === 'INACTIVE');
    await t.submit({ type: 'ACTIVATE', serviceId: ID });
    await t.until(() => state() === 'ACTIVE');
    await t.submit({ type: 'ADJUST_INSTANCES', serviceId: ID });
    await t.until(() => state() === 'ADJUSTING_INSTANCES', 1_000, 1);

    const during = await scrape();
    expect(sampleValue(during, 'drove_operations_in_flight', { type: 'ADJUST_INSTANCES' })).toBe(1);
    expect(sampleValue(during, 'drove_local_service_state', { service: ID, state: 'ADJUSTING_INSTANCES' })).toBe(1);
    expect(sampleValue(during, 'drove_local_service_instances_desired', { service: ID })).toBe(3);

    expect(t.controller.cancelOperation(ID)).toBe(true);
    await t.until(() => state() === 'INACTIVE', 60_000);
    await t.controller.term!.engine.idle();
    const after = await scrape();
    expect(sampleValue(after, 'drove_operation_duration_seconds_count', { type: 'ADJUST_INSTANCES', outcome: 'cancelled' })).toBe(1);
    // The emergency deactivation's DEACTIVATE, submitted by the engine itself.
    expect(sampleValue(after, 'drove_operation_duration_seconds_count', { type: 'DEACTIVATE', outcome: 'completed' })).toBe(1);
    expect(sampleValue(after, 'drove_job_duration_seconds_count', { job: 'start', outcome: 'aborted' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(after, 'drove_operations_in_flight', { type: 'ADJUST_INSTANCES' })).toBe(0);
    expect(sampleValue(after, 'drove_local_service_instances_desired', { service: ID })).toBe(0);
  });

  it('an operation still in its slot when leadership ends is aborted', async () => {
    const t = await start();
    await t.controller.term!.reconciler.stop();
    await t.fleet.add('ex1.local', { cores: 16, onStart: () => ({ kind: 'hang' }) });
    await t.submit({ type: 'CREATE', spec: testSpec(), instancesPerHost: 1 });
    await t.until(() => state() === 'INACTIVE');
    await t.submit({ type: 'ACTIVATE', serviceId: ID });
    await t.until(() => state() === 'ACTIVE');
    await t.submit({ type: 'ADJUST_INSTANCES', serviceId: ID });
    await t.until(() => state() === 'ADJUSTING_INSTANCES', 1_000, 1);
    await closeNow();
    const text = await metrics.render(undefined);
    expect(sampleValue(text, 'drove_operation_duration_seconds_count', { type: 'ADJUST_INSTANCES', outcome: 'aborted' })).toBe(1);
    expect(sampleValue(text, 'drove_leader')).toBe(0);
    // A controller that does not lead reports no cluster state at all.
    expect(samplesOf(text, 'drove_local_service_state')).toEqual([]);
    expect(samplesOf(text, 'drove_executors')).toEqual([]);
    expect(samplesOf(text, 'drove_operations_in_flight')).toEqual([]);
  });
});

describe('a service runner on its own', () => {
  const runnerWith = (metrics: ControllerMetrics) => {
    const info = { serviceId: ID, spec: testSpec(), instancesPerHost: 1, activationState: 'ACTIVE' as const, created: 1, updated: 1 };
    const deps = { logger: pino({ level: 'silent' }), metrics, workingSet: { service: () => info } } as unknown as EngineDeps;
    return new ServiceRunner(ID, 'ACTIVE', deps, { onTransition: () => undefined }, () => undefined);
  };

  it('an operation the state has nothing to do with leaves the slot as ignored', async () => {
    const metrics = new ControllerMetrics();
    const runner = runnerWith(metrics);
    // DEPLOY_TEST_INSTANCE leads nowhere from ACTIVE (the validator refuses it before; the runner copes anyway).
    expect(runner.offer({ type: 'DEPLOY_TEST_INSTANCE', serviceId: ID }, 'test-request')).toBe(true);
    runner.start();
    await waitUntil('the slot to be free', () => !runner.hasPendingOperation(), { intervalMs: 0 });
    await runner.stop();
    expect(sampleValue(await metrics.render(undefined), 'drove_operation_duration_seconds_count', { type: 'DEPLOY_TEST_INSTANCE', outcome: 'ignored' })).toBe(1);
  });

  it('an operation still waiting when the runner stops is aborted', async () => {
    const metrics = new ControllerMetrics();
    const runner = runnerWith(metrics);
    expect(runner.offer({ type: 'ADJUST_INSTANCES', serviceId: ID }, 'test-request')).toBe(true);
    await runner.stop();
    expect(sampleValue(await metrics.render(undefined), 'drove_operation_duration_seconds_count', { type: 'ADJUST_INSTANCES', outcome: 'aborted' })).toBe(1);
  });
});

describe('store writes', () => {
  it('every write is timed by store, operation and outcome; a failure is counted and still thrown', async () => {
    let now = 10;
    const metrics = new ControllerMetrics({ now: () => now });
    const sqlite = new SqliteStateStore(':memory:');
    const store = new InstrumentedStore(
      {
        ...Object.fromEntries(['load', 'putService', 'deleteService', 'putInstances', 'deleteInstances', 'putClusterState', 'putExecutor', 'putExecutors', 'deleteExecutor', 'putCrashLoop', 'deleteCrashLoops', 'close'].map((m) => [m, (sqlite as unknown as Record<string, (...a: unknown[]) => unknown>)[m]!.bind(sqlite)])),
        putService: async (info: Parameters<SqliteStateStore['putService']>[0]) => {
          now += 0.004;
          if (info.serviceId === 'BROKEN-1') throw new Error('disk full');
          await sqlite.putService(info);
        },
      } as unknown as SqliteStateStore,
      'sqlite',
      metrics,
    );
    const info = (serviceId: string) => ({ serviceId, spec: testSpec(), instancesPerHost: 1, activationState: 'INACTIVE' as const, created: 1, updated: 1 });
    await store.putService(info('OK-1'));
    await expect(store.putService(info('BROKEN-1'))).rejects.toThrow('disk full');
    // Crash-loop records (docs/design/crash-loop-backoff.md) are writes too.
    const loop = { serviceId: 'OK-1', executorId: 'E1', restartCount: 2, lastFailure: { instanceId: 'SI-1', reason: 'Readiness check failed', time: 30 }, roundStartedAt: 30, nextAttemptAt: 40 };
    await store.putCrashLoop(loop);
    expect((await store.load()).crashLoops).toEqual([loop]);
    await store.deleteCrashLoops('OK-1', ['E1']);
    await store.deleteService('OK-1');
    expect((await store.load()).services).toEqual([]);
    expect((await store.load()).crashLoops).toEqual([]);
    const text = await metrics.render(undefined);
    expect(sampleValue(text, 'drove_store_write_duration_seconds_count', { store: 'sqlite', operation: 'putService', outcome: 'success' })).toBe(1);
    expect(sampleValue(text, 'drove_store_write_duration_seconds_sum', { store: 'sqlite', operation: 'putService', outcome: 'success' })).toBeCloseTo(0.004);
    expect(sampleValue(text, 'drove_store_write_duration_seconds_count', { store: 'sqlite', operation: 'putService', outcome: 'failure' })).toBe(1);
    expect(sampleValue(text, 'drove_store_write_duration_seconds_count', { store: 'sqlite', operation: 'deleteService', outcome: 'success' })).toBe(1);
    for (const operation of ['putCrashLoop', 'deleteCrashLoops']) {
      expect(sampleValue(text, 'drove_store_write_duration_seconds_count', { store: 'sqlite', operation, outcome: 'success' }), operation).toBe(1);
    }
    // Reads are not writes.
    expect(samplesOf(text, 'drove_store_write_duration_seconds_count').map((s) => s.labels.operation)).not.toContain('load');
    await store.close();
  });
});
