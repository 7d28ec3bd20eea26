import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdStateStore } from '../../../src/controller/store/etcd.js';
import type { LocalServiceInfo } from '../../../src/model/index.js';
import { startEtcdCluster, type EtcdCluster } from '../../support/etcd-cluster.js';
import { haServiceSpec } from '../../support/specs.js';

/**
 * Losing one etcd member of three must cost a store write about a second, not the write: the request caught on
 * the dead member's connection is abandoned after its attempt deadline and retried on another member.
 */
describe('EtcdStateStore when an etcd member dies (real 3-member etcd)', () => {
  let cluster: EtcdCluster;
  let store: EtcdStateStore;

  beforeAll(async () => {
    cluster = await startEtcdCluster(3);
    store = new EtcdStateStore({ endpoints: cluster.endpoints, namespace: '/member-loss/' });
  });
  afterAll(async () => {
    await store?.close();
    await cluster?.close();
  });

  const service = (n: number): LocalServiceInfo => ({
    serviceId: `HA_AGENT-${n}`,
    spec: haServiceSpec(),
    instancesPerHost: 1,
    activationState: 'INACTIVE',
    created: n,
    updated: n,
  });

  it('every write succeeds whichever member dies (no write waits out the store deadline)', async () => {
    let n = 0;
    // Each member dies in turn: the one the client is connected to is among them, whichever it is.
    for (const member of cluster.members) {
      for (let i = 0; i < 3; i++) await store.putService(service(++n));
      await cluster.stop(member);
      for (let i = 0; i < 5; i++) {
        // A write that hung on the dead member would hit the store's call deadline and throw here.
        await store.putService(service(++n));
      }
      await cluster.start(member);
    }
    const stored = await store.load();
    expect(stored.services.map((s) => s.serviceId).sort()).toEqual(
      Array.from({ length: n }, (_, i) => `HA_AGENT-${i + 1}`).sort(),
    );
  });
});
