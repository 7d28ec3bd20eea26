import { afterEach, describe, expect, it } from 'vitest';
import { Etcd3 } from 'etcd3';
import { isBrokenCircuitError } from 'cockatiel';
import { ETCD_HALF_OPEN_AFTER_MS, etcdClientOptions } from '../../../src/controller/store/etcd.js';
import { startEtcdCluster, type EtcdCluster } from '../../support/etcd-cluster.js';

/**
 * The controller's etcd client after an outage: once etcd is back, requests go through again within about a
 * second of the client's breaker opening, not after etcd3's default 5 s (which alone would use most of the
 * election's recovery bound, 2 x TTL + 2 s).
 */
describe('etcd client: back to etcd soon after an outage (real etcd)', () => {
  let cluster: EtcdCluster | undefined;
  let client: Etcd3 | undefined;

  afterEach(async () => {
    client?.close();
    client = undefined;
    await cluster?.close();
    cluster = undefined;
  });

  it('a client whose circuit breaker opened while etcd was down reaches it again within a second or so of its return', async () => {
    cluster = await startEtcdCluster(1);
    client = new Etcd3(etcdClientOptions({ endpoints: cluster.endpoints }));
    await client.put('probe').value('1');
    await cluster.stop(cluster.members[0]!);

    // Failures until the breaker opens (three in a row), then etcd comes back at once.
    let opened = 0;
    for (let i = 0; i < 20 && !opened; i++) {
      await client.get('probe').catch((error: Error) => {
        if (isBrokenCircuitError(error)) opened = Date.now();
      });
    }
    expect(opened).toBeGreaterThan(0);
    await cluster.start(cluster.members[0]!);
    const restarted = Date.now() - opened;

    let answered = 0;
    while (!answered && Date.now() - opened < 10_000) {
      await client
        .get('probe')
        .then(() => (answered = Date.now()))
        .catch(() => new Promise((r) => setTimeout(r, 50)));
    }
    process.stdout.write(`etcd client: member healthy ${restarted} ms and answering ${answered - opened} ms after the breaker opened\n`);
    expect(answered).toBeGreaterThan(0);
    // Once the member is healthy, at most what is left of one breaker wait, plus a request (measured: 10-313 ms
    // after health on a loaded 2-core machine; 4.2 s with etcd3's default breaker).
    expect(answered - opened - restarted).toBeLessThanOrEqual(ETCD_HALF_OPEN_AFTER_MS + 200);
  });
});
