import { Etcd3 } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';
import { EtcdLeaderElector } from '../../../src/controller/leadership/etcd.js';
import { startEtcdCluster, type EtcdCluster } from '../../support/etcd-cluster.js';
import { waitUntil } from '../../support/wait.js';

/**
 * The election must heal by itself when etcd events go missing (a watch reconnecting with backoff after an
 * outage, a keep-alive stream that died silently): a candidate whose key vanished campaigns again.
 */
describe('etcd leader election recovers without relying on watch events (real etcd)', () => {
  let cluster: EtcdCluster | undefined;
  const clients: Etcd3[] = [];
  const electors: EtcdLeaderElector[] = [];

  afterEach(async () => {
    for (const elector of electors.splice(0)) await elector.stop().catch(() => undefined);
    for (const client of clients.splice(0)) client.close();
    await cluster?.close();
    cluster = undefined;
  });

  async function elector(address: string): Promise<EtcdLeaderElector> {
    const client = new Etcd3({ hosts: cluster!.endpoints });
    clients.push(client);
    const e = new EtcdLeaderElector({ client, namespace: '/recovery/', address, ttlSeconds: 2 });
    electors.push(e);
    await e.start({ onAcquired: async () => undefined, onLost: async () => undefined });
    return e;
  }

  it('a leader whose candidate key vanished steps down, campaigns again, and leads once the other one goes', async () => {
    cluster = await startEtcdCluster(1);
    const admin = new Etcd3({ hosts: cluster.endpoints });
    clients.push(admin);
    const candidates = async () =>
      Object.entries(await admin.namespace('/recovery/').getAll().prefix('election/').strings()).map(([key, value]) => ({ key, value }));

    const a = await elector('a:1');
    await waitUntil('a to lead', () => a.isLeader());
    const b = await elector('b:1');
    await waitUntil('b to know the leader', () => b.leaderAddress() === 'a:1');

    // a's key disappears behind its back (as when its lease expired during an outage it did not notice).
    const mine = (await candidates()).find((c) => c.value === 'a:1')!;
    await admin.namespace('/recovery/').delete().key(mine.key);

    await waitUntil('b to lead', () => b.isLeader(), { timeoutMs: 10_000 });
    expect(a.isLeader()).toBe(false);
    // a is a candidate again, behind b.
    await waitUntil('a to campaign again', async () => (await candidates()).some((c) => c.value === 'a:1' && c.key !== mine.key), {
      timeoutMs: 10_000,
    });
    await waitUntil('a to know the new leader', () => a.leaderAddress() === 'b:1', { timeoutMs: 10_000 });

    await b.stop();
    await waitUntil('a to lead again', () => a.isLeader(), { timeoutMs: 10_000 });
  });
});
