import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from '../../support/engine-harness.js';
import { testSpec } from '../../support/specs.js';
import type { LocalServiceInstanceInfo } from '../../../src/model/index.js';

const ID = 'TEST_SPEC-00001';

describe('controller reads, internal APIs and executor messages', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  async function running(instancesPerHost = 2, executors = 2) {
    h = await harness();
    for (let i = 0; i < executors; i++) await h.fleet.add(`ex${i}.local`);
    h.fleet.startHeartbeats(20_000);
    const spec = testSpec({
      configs: [
        { type: 'INLINE', localFilename: '/a', data: 'c2VjcmV0' },
        { type: 'EXECUTOR_HTTP_FETCH', localFilename: '/b', http: { protocol: 'HTTP', hostname: 'cfg', username: 'u', password: 'p' } },
      ],
    });
    await h.submit({ type: 'CREATE', spec, instancesPerHost });
    await h.until(() => h.controller.serviceSummary(ID)?.state === 'INACTIVE');
    await h.submit({ type: 'ACTIVATE', serviceId: ID });
    await h.until(() => h.controller.serviceSummary(ID)?.healthyInstances === instancesPerHost * executors && h.controller.serviceSummary(ID)?.state === 'ACTIVE');
  }

  it('summarises services and pages the list', async () => {
    await running();
    expect(h.controller.serviceSummary(ID)).toEqual({
      id: ID,
      name: 'TEST_SPEC',
      instancesPerHost: 2,
      healthyInstances: 4,
      totalCPUs: 4,
      totalMemory: 4 * 512,
      tags: {},
      activationState: 'ACTIVE',
      state: 'ACTIVE',
      created: expect.any(Number),
      updated: expect.any(Number),
      // 2 per host on both executors (docs/design/placement.md#tag-constraints).
      requiredInstances: 4,
    });
    expect(Object.keys(h.controller.listServices(0, 10))).toEqual([ID]);
    expect(h.controller.listServices(1, 10)).toEqual({});
    expect(h.controller.serviceSummary('NOPE-1')).toBeUndefined();
  });

  it('masks secrets on a copy of the spec', async () => {
    await running(1, 1);
    const masked = h.controller.serviceSpec(ID)!;
    expect(masked.configs![0]).toMatchObject({ type: 'INLINE', data: '' });
    expect(masked.configs![1]).toMatchObject({ http: { username: '***', password: '***' } });
    expect(h.controller.term!.workingSet.service(ID)!.spec.configs![0]).toMatchObject({ data: 'c2VjcmV0' });
    // Instances started after a read still get the real data.
    const victim = h.controller.serviceInstances(ID)[0]!;
    await h.fleet.setState(victim.instanceId, 'STOPPED');
    await h.until(() => h.controller.serviceInstances(ID, ['HEALTHY']).length === 1);
    const lastStart = h.fleet.sent.filter((m) => m.type === 'START_LOCAL_SERVICE_INSTANCE').at(-1)!;
    expect(lastStart.type === 'START_LOCAL_SERVICE_INSTANCE' && lastStart.spec.configs![0]).toMatchObject({ data: 'c2VjcmV0' });
  });

  it('lists active non-stale instances, filters by state, and lists old ones separately', async () => {
    await running(1, 2);
    const [a, b] = h.controller.serviceInstances(ID);
    expect(h.controller.serviceInstances(ID, ['HEALTHY'])).toHaveLength(2);
    expect(h.controller.serviceInstances(ID, ['STARTING'])).toEqual([]);
    await h.fleet.setState(a!.instanceId, 'STOPPED');
    await h.until(() => h.controller.serviceInstance(ID, a!.instanceId)?.state === 'STOPPED' && h.controller.serviceInstances(ID, ['HEALTHY']).length === 2);
    expect(h.controller.serviceInstances(ID, ['STOPPED'])).toEqual([]);
    expect(h.controller.oldServiceInstances(ID).map((i) => i.instanceId)).toEqual([a!.instanceId]);
    expect(h.controller.serviceInstance(ID, a!.instanceId)?.state).toBe('STOPPED');
    expect(h.controller.serviceInstance(ID, b!.instanceId)?.state).toBe('HEALTHY');
    expect(h.controller.serviceInstance(ID, 'blah')).toBeUndefined();
    expect(h.controller.instanceExecutorAddress(ID, b!.instanceId)).toEqual({
      executorId: b!.executorId,
      hostname: h.fleet.get(b!.executorId).hostname,
      port: 3000,
      transportType: 'HTTP',
    });
  });

  it('reserves resources only for ACTIVE services: a CONFIG_TESTING one gates no executor', async () => {
    await running(2, 1);
    expect(h.controller.reservedResources()).toEqual({ cpus: 2, memory: 1024, requiredInstances: { [ID]: 2 } });
    await h.submit({ type: 'DEACTIVATE', serviceId: ID });
    await h.until(() => h.controller.serviceSummary(ID)?.state === 'INACTIVE');
    await h.submit({ type: 'DEPLOY_TEST_INSTANCE', serviceId: ID });
    await h.until(() => h.controller.serviceSummary(ID)?.state === 'CONFIG_TESTING');
    expect(h.controller.reservedResources()).toEqual({ cpus: 0, memory: 0, requiredInstances: {} });
  });

  it('classifies an executor\'s reported instances as known or stale', async () => {
    await running(1, 1);
    const executor = [...h.fleet.executors.values()][0]!;
    // A second, unexpected instance of the service shows up in the executor's heartbeat, plus one of an unknown service.
    const extra = (id: string, serviceId = ID): LocalServiceInstanceInfo => ({ ...executor.running()[0]!, instanceId: id, serviceId });
    await h.controller.handleControllerMessage({
      type: 'EXECUTOR_SNAPSHOT',
      header: { id: 'h1', senderType: 'EXECUTOR', direction: 'REQUEST', messageTime: h.clock.now() },
      nodeData: { ...executor.nodeData(h.clock.now()), serviceInstances: [executor.running()[0]!, extra('SI-extra'), extra('SI-other', 'OTHER-1')] },
    });
    const known = h.controller.knownInstances(executor.executorId, 'current')!;
    expect(known.localServiceInstanceIds).toEqual([executor.running()[0]!.instanceId]);
    expect(new Set(known.staleLocalServiceInstanceIds)).toEqual(new Set(['SI-extra', 'SI-other']));
    expect(h.controller.knownInstances('no-such-executor', 'current')).toBeUndefined();
  });

  it('answers instance reports ACCEPTED and ignores older ones', async () => {
    await running(1, 1);
    const executor = [...h.fleet.executors.values()][0]!;
    const instance = executor.running()[0]!;
    const stale = { ...instance, state: 'UNHEALTHY' as const, updated: instance.updated - 10 };
    const answer = await h.controller.handleControllerMessage({
      type: 'LOCAL_SERVICE_INSTANCE_STATE_REPORT',
      header: { id: 'r1', senderType: 'EXECUTOR', direction: 'REQUEST', messageTime: h.clock.now() },
      resourceSnapshot: executor.snapshot(),
      instanceInfo: stale,
    });
    expect(answer).toEqual({ header: expect.objectContaining({ id: 'r1' }), status: 'ACCEPTED' });
    const newer = { ...instance, state: 'UNHEALTHY' as const, updated: instance.updated + 10, instanceId: 'SI-probe' };
    await h.controller.handleControllerMessage({
      type: 'LOCAL_SERVICE_INSTANCE_STATE_REPORT',
      header: { id: 'r2', senderType: 'EXECUTOR', direction: 'REQUEST', messageTime: h.clock.now() },
      resourceSnapshot: executor.snapshot(),
      instanceInfo: newer,
    });
    // Reports are applied in order: once the later one is in, the stale one has been looked at and ignored.
    await h.untilNow(() => h.controller.serviceInstance(ID, 'SI-probe') !== undefined);
    expect(h.controller.serviceInstance(ID, instance.instanceId)?.state).toBe('HEALTHY');
  });

  it('applies batched reports in one store transaction with an event per state (LOCAL_SERVICE_INSTANCE_STATE_REPORTS)', async () => {
    await running(1, 1);
    const executor = [...h.fleet.executors.values()][0]!;
    const base = executor.running()[0]!;
    const events: string[] = [];
    h.controller.onEvent((e) => e.type === 'LOCAL_SERVICE_INSTANCE_STATE_CHANGE' && events.push(`${e.metadata.INSTANCE_ID}:${e.metadata.CURRENT_STATE}`));
    let writes = 0;
    const put = h.store.putInstances.bind(h.store);
    h.store.putInstances = async (records) => {
      writes++;
      return put(records);
    };
    const now = h.clock.now() + 1;
    const infos = ['SI-b1', 'SI-b2'].flatMap((id) =>
      (['PENDING', 'PROVISIONING'] as const).map((state, i) => ({ ...base, instanceId: id, state, created: now, updated: now + i })),
    );
    await h.controller.handleControllerMessage({
      type: 'LOCAL_SERVICE_INSTANCE_STATE_REPORTS',
      header: { id: 'r2', senderType: 'EXECUTOR', direction: 'REQUEST', messageTime: now },
      resourceSnapshot: executor.snapshot(),
      instanceInfos: infos,
    });
    await h.untilNow(() => events.length === 4);
    expect(writes).toBe(1);
    expect(events).toEqual(['SI-b1:PENDING', 'SI-b1:PROVISIONING', 'SI-b2:PENDING', 'SI-b2:PROVISIONING']);
    // Exact ids: a random `SI-<uuid>` of the running instance may itself start with "SI-b".
    const batch = (await h.store.load()).instances.filter((i) => i.instanceId === 'SI-b1' || i.instanceId === 'SI-b2');
    expect(batch.map((i) => i.state)).toEqual(['PROVISIONING', 'PROVISIONING']);
  });

  it('cluster summary resources follow each executor\'s newest snapshot (the totals are kept per snapshot)', async () => {
    h = await harness();
    for (let i = 0; i < 2; i++) await h.fleet.add(`ex${i}.local`);
    h.fleet.startHeartbeats(20_000);
    await h.until(() => h.controller.clusterSummary().numExecutors === 2);
    expect(h.controller.clusterSummary()).toMatchObject({ usedCores: 0, freeCores: 16, usedMemory: 0 });
    await h.submit({ type: 'CREATE', spec: testSpec(), instancesPerHost: 1 });
    await h.until(() => h.controller.serviceSummary(ID)?.state === 'INACTIVE');
    await h.submit({ type: 'ACTIVATE', serviceId: ID });
    await h.until(() => h.controller.serviceSummary(ID)?.healthyInstances === 2);
    expect(h.controller.clusterSummary()).toMatchObject({ usedCores: 2, freeCores: 14, totalCores: 16, usedMemory: 1024 });
  });

  it('computes the cluster summary and dashboard', async () => {
    await running(1, 2);
    const summary = h.controller.clusterSummary();
    expect(summary).toMatchObject({
      leader: 'controller.test:4000',
      state: 'NORMAL',
      numExecutors: 2,
      numLocalServices: 1,
      numActiveLocalServices: 1,
      usedCores: 2,
      totalCores: 16,
      freeCores: 14,
      usedMemory: 1024,
    });
    const dashboard = h.controller.dashboard();
    expect(dashboard.serviceStats.serviceCountByState.ACTIVE).toBe(1);
    expect(dashboard.serviceStats.serviceCountByState.INACTIVE).toBe(0);
    expect(Object.keys(dashboard.serviceStats.serviceCountByState)).toHaveLength(15);
    expect(dashboard.serviceStats.serviceCountByActivationState).toEqual({ ACTIVE: 1, CONFIG_TESTING: 0, INACTIVE: 0 });
    expect(dashboard.serviceStats.topServices.map((s) => s.id)).toEqual([ID]);
    expect(dashboard.serviceStats.totalHealthyInstances).toBe(2);
  });

  it('emits LOCAL_SERVICE_STATE_CHANGE with Drove metadata', async () => {
    await running(1, 1);
    const event = h.controller.latestEvents(0, 1024).events.find((e) => e.type === 'LOCAL_SERVICE_STATE_CHANGE' && e.metadata.CURRENT_STATE === 'ACTIVATION_REQUESTED');
    expect(event?.metadata).toEqual({
      LOCAL_SERVICE_ID: ID,
      CURRENT_STATE: 'ACTIVATION_REQUESTED',
      LOCAL_SERVICE_NAME: 'TEST_SPEC',
      LOCAL_SERVICE_VERSION: '00001',
      EXECUTABLE: 'drove-test/httpd:latest',
      PLACEMENT_POLICY: 'LOCAL',
      CURRENT_INSTANCES_PER_HOST: 1,
      CPU_COUNT: 1,
      MEMORY: 512,
      PORTS: 'main:8000:http',
    });
    expect(h.controller.eventsSummary(0).eventsCount.LOCAL_SERVICE_INSTANCE_STATE_CHANGE).toBeGreaterThan(0);
  });
});
