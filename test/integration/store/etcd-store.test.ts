import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Etcd3 } from 'etcd3';
import { EtcdStateStore } from '../../../src/controller/store/etcd.js';
import { StoreUnavailableError } from '../../../src/controller/store/store.js';
import type { CrashLoop, LocalServiceInfo, LocalServiceInstanceInfo } from '../../../src/model/index.js';
import { testSpec } from '../../support/specs.js';
import { instanceInfo, nodeData } from '../../support/records.js';
import { startEtcdCluster, type EtcdCluster } from '../../support/etcd-cluster.js';

function service(id: string): LocalServiceInfo {
  const [name, version] = id.split('-') as [string, string];
  return { serviceId: id, spec: testSpec({ name, version }), instancesPerHost: 1, activationState: 'INACTIVE', created: 1, updated: 2 };
}

function instance(serviceId: string, instanceId: string): LocalServiceInstanceInfo {
  return instanceInfo({ serviceId, instanceId, executorId: 'e1', resources: [{ type: 'CPU', cores: { '0': [1] } }], created: 1, updated: 2 });
}

describe('EtcdStateStore against a real etcd', () => {
  let cluster: EtcdCluster;
  let namespace = 0;
  const newStore = () => new EtcdStateStore({ endpoints: cluster.endpoints, namespace: `/t${namespace++}/` });

  beforeAll(async () => {
    cluster = await startEtcdCluster(1);
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('round-trips services, instances, executors and the cluster state', async () => {
    const store = newStore();
    await store.putService(service('A-1'));
    await store.putInstances([instance('A-1', 'SI-1'), instance('A-1', 'SI-2')]);
    await store.putClusterState({ state: 'MAINTENANCE', updated: 5 });
    const loaded = await store.load();
    expect(loaded.services).toEqual([service('A-1')]);
    expect(loaded.instances.map((i) => i.instanceId).sort()).toEqual(['SI-1', 'SI-2']);
    expect(loaded.clusterState).toEqual({ state: 'MAINTENANCE', updated: 5 });
    await store.close();
  });

  it('deletes a service with all its instances, and only its own', async () => {
    const store = newStore();
    await store.putService(service('A-1'));
    await store.putService(service('A-10'));
    await store.putInstances([instance('A-1', 'SI-1'), instance('A-10', 'SI-9')]);
    await store.deleteService('A-1');
    const loaded = await store.load();
    expect(loaded.services.map((s) => s.serviceId)).toEqual(['A-10']);
    expect(loaded.instances.map((i) => i.instanceId)).toEqual(['SI-9']);
    await store.close();
  });

  it('keeps crash loops per (service, executor): replaced, deleted per executor, all, and with their service only', async () => {
    const store = newStore();
    const loop = (serviceId: string, executorId: string, restartCount = 2): CrashLoop => ({
      serviceId,
      executorId,
      restartCount,
      lastFailure: { instanceId: 'SI-1', reason: 'Readiness check failed', time: 30 },
      roundStartedAt: 30,
      nextAttemptAt: 40,
    });
    await store.putService(service('A-1'));
    await store.putCrashLoop(loop('A-1', 'e1'));
    await store.putCrashLoop(loop('A-1', 'e2'));
    await store.putCrashLoop(loop('A-10', 'e1'));
    await store.putCrashLoop(loop('A-1', 'e1', 5));
    const keys = async () =>
      (await store.load()).crashLoops.map((l) => `${l.serviceId}/${l.executorId}/${l.restartCount}`).sort();
    expect(await keys()).toEqual(['A-1/e1/5', 'A-1/e2/2', 'A-10/e1/2']);
    expect((await store.load()).crashLoops.find((l) => l.executorId === 'e2' && l.serviceId === 'A-1')).toEqual(loop('A-1', 'e2'));
    await store.deleteCrashLoops('A-1', ['e2']);
    expect(await keys()).toEqual(['A-1/e1/5', 'A-10/e1/2']);
    await store.deleteService('A-1');
    expect(await keys()).toEqual(['A-10/e1/2']);
    await store.deleteCrashLoops('A-10');
    expect(await keys()).toEqual([]);
    await store.close();
  });

  it('writes batches larger than one etcd transaction', async () => {
    const store = newStore();
    const many = Array.from({ length: 300 }, (_, i) => instance('B-1', `SI-${i}`));
    await store.putInstances(many);
    expect((await store.load()).instances).toHaveLength(300);
    await store.deleteInstances('B-1', many.slice(0, 250).map((i) => i.instanceId));
    expect((await store.load()).instances).toHaveLength(50);
    await store.close();
  });

  it('putExecutors writes batches larger than one etcd transaction, live and removed records alike', async () => {
    const store = newStore();
    const many = Array.from({ length: 300 }, (_, i) => ({ executorId: `e${i}`, nodeData: nodeData({ hostname: `h${i}` }) }));
    await store.putExecutors(many);
    await store.putExecutors([{ executorId: 'e7', nodeData: nodeData({ hostname: 'h7', updated: 9 }), removedAt: 42 }]);
    await store.putExecutors([]);
    const loaded = (await store.load()).executors;
    expect(loaded).toHaveLength(300);
    expect(loaded.find((e) => e.executorId === 'e7')).toEqual({
      executorId: 'e7',
      nodeData: nodeData({ hostname: 'h7', updated: 9 }),
      removedAt: 42,
    });
    expect(loaded.find((e) => e.executorId === 'e299')).toEqual(many[299]);
    await store.close();
  });

  it('refuses writes once the fence key is gone (a deposed leader cannot write)', async () => {
    const client = new Etcd3({ hosts: cluster.endpoints });
    const ns = `/t${namespace++}/`;
    const store = new EtcdStateStore({ client, namespace: ns });
    await client.namespace(ns).put('leader').value('me');
    const rev = (await client.namespace(ns).get('leader').exec()).kvs[0]!.create_revision;
    store.setFence(() => ({ key: 'leader', createRevision: rev }));
    await store.putService(service('C-1'));
    await client.namespace(ns).delete().key('leader');
    await expect(store.putService(service('C-2'))).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.putExecutors([{ executorId: 'e1', nodeData: nodeData() }])).rejects.toBeInstanceOf(
      StoreUnavailableError,
    );
    expect((await store.load()).executors).toEqual([]);
    expect((await store.load()).services.map((s) => s.serviceId)).toEqual(['C-1']);
    client.close();
  });
});
