import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from '../../support/engine-harness.js';
import { testSpec } from '../../support/specs.js';
import { startTimeoutMs, effectiveOpSpec } from '../../../src/controller/engine/jobs/timeouts.js';
import { instanceAuthToken } from '../../../src/controller/engine/jobs/instance-token.js';
import { resolveOptions, ControllerOptionsSchema } from '../../../src/controller/config.js';
import { nameUuid, type ExecutorMessage } from '../../../src/model/index.js';

const ID = 'TEST_SPEC-00001';
type StartMessage = Extract<ExecutorMessage, { type: 'START_LOCAL_SERVICE_INSTANCE' }>;

describe('job timeouts', () => {
  it('waits max(op timeout, pull + T(healthcheck) + T(readiness)) for a start: 125 s for the fixture', () => {
    expect(startTimeoutMs(testSpec(), 1_000)).toBe(125_000);
    expect(startTimeoutMs(testSpec(), 300_000)).toBe(300_000);
  });

  it('uses the op spec, or the controller defaults with parallelism at least 1', () => {
    const options = resolveOptions(ControllerOptionsSchema.parse({ clusterOpParallelism: 0, clusterOpTimeout: '2 minutes' }));
    expect(effectiveOpSpec(undefined, options)).toEqual({ timeoutMs: 120_000, parallelism: 1 });
    expect(effectiveOpSpec({ timeout: '5m', parallelism: 16, failureStrategy: 'STOP' }, options)).toEqual({ timeoutMs: 300_000, parallelism: 16 });
  });
});

describe('instance token', () => {
  it('is an HS256 JWT with Drove claims', () => {
    const token = instanceAuthToken('s3cret', { serviceId: 'S-1', instanceId: 'SI-1', executorId: 'E-1' }, 1_700_000_000_000, 86_400_000);
    const [header, payload, signature] = token.split('.');
    expect(JSON.parse(Buffer.from(header!, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(JSON.parse(Buffer.from(payload!, 'base64url').toString())).toEqual({
      iss: 'drove',
      aud: 'drove-application-instance',
      sub: 'drove-controller',
      iat: 1_700_000_000,
      exp: 1_700_086_400,
      jti: nameUuid('S-1:SI-1:E-1'),
      droveAppId: 'S-1',
      droveInstanceId: 'SI-1',
      droveExecutorId: 'E-1',
    });
    expect(signature).toBe(createHmac('sha256', 's3cret').update(`${header}.${payload}`).digest('base64url'));
  });
});

describe('start and stop jobs against fake executors', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  async function activeService(options: Record<string, unknown>, executor: Parameters<Harness['fleet']['add']>[1], spec = testSpec()) {
    h = await harness({ reconcileInterval: '1 day', ...options });
    await h.controller.term!.reconciler.stop();
    await h.fleet.add('ex1.local', executor);
    await h.submit({ type: 'CREATE', spec, instancesPerHost: 1 });
    await h.until(() => h.controller.serviceSummary(ID)?.state === 'INACTIVE');
    await h.submit({ type: 'ACTIVATE', serviceId: ID });
    await h.until(() => h.controller.serviceSummary(ID)?.state === 'ACTIVE');
  }
  const starts = () => h.fleet.sent.filter((m): m is StartMessage => m.type === 'START_LOCAL_SERVICE_INSTANCE');

  it('sends the instance spec and waits for HEALTHY', async () => {
    await activeService({}, {});
    await h.submit({ type: 'ADJUST_INSTANCES', serviceId: ID });
    await h.until(() => h.controller.serviceSummary(ID)?.state === 'ACTIVE' && h.controller.serviceInstances(ID, ['HEALTHY']).length === 1);
    const [start] = starts();
    const spec = start!.spec;
    expect(spec.instanceId).toMatch(/^SI-[0-9a-f-]{36}$/);
    expect(spec).toMatchObject({
      serviceId: ID,
      serviceName: 'TEST_SPEC',
      hostLevelInstance: false,
      ports: [{ name: 'main', port: 8000, type: 'HTTP' }],
      configs: [{ type: 'INLINE', localFilename: '/files/drove.txt', data: 'RHJvdmUgdGVzdA==' }],
      volumes: [{ pathInContainer: '/tmp', pathOnHost: '/tmp', mode: 'READ_ONLY' }],
    });
    expect(spec.resources).toEqual([
      { type: 'CPU', cores: { '0': [expect.any(Number)] } },
      { type: 'MEMORY', memoryInMB: { '0': 512 } },
    ]);
    expect(spec.instanceAuthToken?.split('.')).toHaveLength(3);
    expect(start!.address.hostname).toBe('ex1.local');
  });

  it('starts on an executor that joins while an ADJUST runs, from that ADJUST, without waiting for it to end', async () => {
    // The reconciler is stopped: only the running ADJUST can give the new executor its instance, in a free slot.
    await activeService({ clusterOpParallelism: 2 }, { onStart: () => ({ kind: 'healthy', stepMs: 2_000 }) });
    await h.submit({ type: 'ADJUST_INSTANCES', serviceId: ID });
    await h.until(() => starts().length === 1);
    await h.fleet.add('ex2.local', {});
    // ex1's instance takes 10 s (5 steps of 2 s) to be HEALTHY: the new one's START goes out well before.
    await h.until(() => starts().some((m) => m.address.hostname === 'ex2.local'), 1_000);
    expect(h.controller.serviceSummary(ID)?.state).toBe('ADJUSTING_INSTANCES');
    expect(h.controller.serviceInstances(ID, ['HEALTHY'])).toHaveLength(0);
    await h.until(() => h.controller.serviceSummary(ID)?.state === 'ACTIVE' && h.controller.serviceInstances(ID, ['HEALTHY']).length === 2);
    expect(starts().map((m) => m.address.hostname).sort()).toEqual(['ex1.local', 'ex2.local']);
    // One that joins after the ADJUST ended is the reconciler's again (stopped here): no START from a finished batch.
    await h.fleet.add('ex3.local', {});
    await h.until(() => false, 2_000).catch(() => undefined);
    expect(starts()).toHaveLength(2);
  });

  it('sends hostAccess with only the fields that ask for something (docs/host-access.md); none without it', async () => {
    const spec = testSpec({
      configs: [],
      placementPolicy: { type: 'LOCAL', hostLevel: true },
      hostAccess: { network: true, pid: false, addCapabilities: [], dropCapabilities: ['ALL'], readOnlyRootFilesystem: true },
    });
    await activeService({ enableHostNetwork: true }, {}, spec);
    await h.submit({ type: 'ADJUST_INSTANCES', serviceId: ID });
    await h.until(() => starts().length === 1);
    expect(starts()[0]!.spec.hostAccess).toEqual({ network: true, dropCapabilities: ['ALL'], readOnlyRootFilesystem: true });
    expect(starts()[0]!.spec.hostLevelInstance).toBe(true);
    await h.close();
    await activeService({}, {});
    await h.submit({ type: 'ADJUST_INSTANCES', serviceId: ID });
    await h.until(() => starts().length === 1);
    expect(starts()[0]!.spec).not.toHaveProperty('hostAccess');
  });

  it('retries a failed start with a fresh instance id each attempt (jobRetryCount 2 = 3 attempts)', async () => {
    // One core only: attempts 2 and 3 can only be sent if each failed attempt gave its reservation back. A
    // crash-loop backoff shorter than the retry interval leaves Drove's retries as they are.
    await activeService(
      { jobRetryInterval: '1 second', crashLoopBackoff: { initial: '1 millisecond', max: '1 millisecond' } },
      { cores: 1, onStart: () => ({ kind: 'fail', state: 'START_FAILED' }) },
    );
    // Like Drove's, the fake executor frees cores after reporting STOPPED; its next heartbeat shows them free.
    h.fleet.startHeartbeats(500);
    await h.submit({ type: 'ADJUST_INSTANCES', serviceId: ID });
    await h.until(() => h.controller.serviceSummary(ID)?.state === 'ACTIVE' && starts().length === 3);
    expect(new Set(starts().map((m) => m.spec.instanceId)).size).toBe(3);
    await h.until(() => h.controller.oldServiceInstances(ID).filter((i) => i.state === 'STOPPED').length === 3);
    expect(h.controller.oldServiceInstances(ID).map((i) => i.errorMessage)).toEqual(Array(3).fill('START_FAILED by test'));
    expect(h.controller.serviceInstances(ID)).toEqual([]);
  });

  it('makes no retry on an executor that its failures put in crash-loop backoff, and counts each failure once', async () => {
    await activeService({ jobRetryInterval: '1 second' }, { onStart: () => ({ kind: 'fail', state: 'START_FAILED' }) });
    await h.submit({ type: 'ADJUST_INSTANCES', serviceId: ID });
    await h.until(() => h.controller.serviceSummary(ID)?.state === 'ACTIVE' && starts().length > 0 && h.states.at(-1)?.[1] === 'ACTIVE');
    await h.clock.advance(60_000);
    // The first failure is retried at once (Drove's retry, 1 s later); the second holds the executor for 10 s,
    // longer than the job's next retry would wait, so the job ends there.
    expect(starts()).toHaveLength(2);
    const [loop] = h.controller.serviceSummary(ID)?.crashLoops ?? [];
    expect(loop).toMatchObject({ restartCount: 2, lastFailure: { instanceId: starts()[1]!.spec.instanceId, reason: 'START_FAILED by test' } });
  });

  it('counts a start that never became HEALTHY in time in the crash loop, though its stop carries no error', async () => {
    await activeService({ jobRetryCount: 0 }, { onStart: () => ({ kind: 'hang' }) });
    h.fleet.startHeartbeats(10_000);
    await h.submit({ type: 'ADJUST_INSTANCES', serviceId: ID });
    // The start waits max(op timeout 300 s, pull + checks 125 s).
    await h.until(() => h.controller.serviceSummary(ID)?.crashLoops !== undefined, 400_000, 500);
    const [loop] = h.controller.serviceSummary(ID)!.crashLoops!;
    expect(loop).toMatchObject({ restartCount: 1, lastFailure: { instanceId: starts()[0]!.spec.instanceId, reason: 'Not HEALTHY within 300 seconds of its start (PROVISIONING)' } });
    // The leftover is stopped by the controller: that stop is no second failure.
    await h.until(() => h.controller.oldServiceInstances(ID).length === 1, 10_000);
    await h.clock.advance(10_000);
    expect(h.controller.serviceSummary(ID)!.crashLoops).toEqual([loop]);
  });

  it('re-sends START every second for up to 30 s while the executor refuses', async () => {
    await activeService({ jobRetryCount: 0 }, { onStart: () => ({ kind: 'reject' }) });
    await h.submit({ type: 'ADJUST_INSTANCES', serviceId: ID });
    await h.until(() => h.controller.serviceSummary(ID)?.state === 'ACTIVE' && starts().length > 0 && h.states.at(-1)?.[1] === 'ACTIVE');
    expect(starts()).toHaveLength(31);
    // One attempt = one instance id, however often the message is re-sent.
    expect(new Set(starts().map((m) => m.spec.instanceId)).size).toBe(1);
  });

  it('fails an attempt without sending anything when the executor has no free cores', async () => {
    await activeService({ jobRetryCount: 0 }, { cores: 0 });
    await h.submit({ type: 'ADJUST_INSTANCES', serviceId: ID });
    await h.until(() => h.states.filter(([, s]) => s === 'ADJUSTING_INSTANCES').length === 1 && h.controller.serviceSummary(ID)?.state === 'ACTIVE');
    expect(starts()).toHaveLength(0);
  });

  it('a start that times out has its leftover stopped at once, while the executor still pulls its image', async () => {
    await activeService({ jobRetryCount: 0 }, { onStart: () => ({ kind: 'hang' }) });
    await h.submit({ type: 'ADJUST_INSTANCES', serviceId: ID, opSpec: { timeout: '10 seconds', parallelism: 1, failureStrategy: 'STOP' } });
    await h.until(() => starts().length === 1);
    const instanceId = starts()[0]!.spec.instanceId;
    const stops = () => h.fleet.sent.filter((m) => m.type === 'STOP_LOCAL_SERVICE_INSTANCE' && m.instanceId === instanceId);
    let stateAtStop: string | undefined;
    h.fleet.onMessage((m) => {
      if (m.type === 'STOP_LOCAL_SERVICE_INSTANCE') stateAtStop ??= h.controller.serviceInstance(ID, m.instanceId)?.state;
    });
    // The fixture's start timeout is 125 s (pull 100 s + checks).
    await h.clock.advance(124_000);
    expect(h.controller.serviceSummary(ID)?.state).toBe('ADJUSTING_INSTANCES');
    expect(stops()).toHaveLength(0);
    // Within a second of the timeout: no waiting for the instance to run, or for the 10 s op timeout.
    await h.until(() => stops().length > 0, 2_000);
    expect(stateAtStop).toBe('PROVISIONING');
    await h.until(() => h.controller.serviceInstance(ID, instanceId)?.state === 'STOPPED', 1_000);
    expect(h.controller.serviceSummary(ID)?.state).toBe('ACTIVE');
    expect(h.controller.oldServiceInstances(ID).map((i) => [i.instanceId, i.errorMessage])).toEqual([[instanceId, 'Pull operation interrupted']]);
    expect(stops()).toHaveLength(1);
  });

  it('a stop job with no record left succeeds without messages; a running instance is stopped and waited for', async () => {
    await activeService({}, {});
    await h.submit({ type: 'ADJUST_INSTANCES', serviceId: ID });
    await h.until(() => h.controller.serviceSummary(ID)?.state === 'ACTIVE' && h.controller.serviceInstances(ID, ['HEALTHY']).length === 1);
    const [instance] = h.controller.serviceInstances(ID);
    await h.submit({ type: 'STOP_INSTANCES', serviceId: ID, instanceIds: [instance!.instanceId] });
    await h.until(() => h.controller.serviceSummary(ID)?.state === 'ACTIVE' && h.controller.serviceInstance(ID, instance!.instanceId)?.state === 'STOPPED');
    expect(h.fleet.sent.filter((m) => m.type === 'STOP_LOCAL_SERVICE_INSTANCE')).toHaveLength(1);
  });
});
