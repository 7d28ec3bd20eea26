import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTestImage } from '../../support/images.js';
import { startHaCluster, type HaCluster } from '../../support/ha-cluster.js';
import { waitUntil } from '../../support/wait.js';
import { waitForLeader } from './steps.js';

/**
 * Readiness as a gateway uses it (docs/health.md): real processes (3-member etcd, two controllers, one executor on
 * the local dockerd), probes without credentials. Exactly the leader says ready; after a failover the other does.
 */

async function readyz(url: string): Promise<{ status: number; body: { ready: boolean; leader: string | null } }> {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, body: (await response.json()) as { ready: boolean; leader: string | null } };
}

describe('health endpoints of an HA cluster (real etcd, controllers, executor)', () => {
  let cluster: HaCluster;
  beforeAll(async () => {
    ensureTestImage();
    cluster = await startHaCluster({ controllers: 2, executors: 1, namespace: `/drove-ts-health-${Date.now()}` });
  });
  afterAll(async () => cluster?.close());

  it('only the leader is ready, the follower names it; the executor is ready with that leader; after a failover the other controller is', async () => {
    const leader = await waitForLeader(cluster);
    const follower = cluster.controllers.find((c) => c !== leader)!;
    expect(await readyz(leader.url)).toEqual({ status: 200, body: { ready: true, leader: leader.address } });
    // A follower names the leader once its election watch has seen it.
    const followerAnswer = await waitUntil('the follower names the leader', async () => {
      const answer = await readyz(follower.url);
      return answer.body.leader ? answer : undefined;
    });
    expect(followerAnswer).toEqual({
      status: 503,
      body: { ready: false, leader: leader.address, reason: 'This node is not the leader controller' },
    });
    const [executor] = cluster.executors;
    const executorReady = await waitUntil('executor ready', async () => {
      const answer = await readyz(executor!.url);
      return answer.status === 200 ? answer : undefined;
    });
    expect(executorReady.body).toMatchObject({ ready: true, leader: leader.url, docker: { reachable: true } });

    await leader.stop();
    const next = await waitForLeader(cluster);
    expect(next).toBe(follower);
    await waitUntil('the new leader ready', async () => (await readyz(follower.url)).status === 200);
    expect(await readyz(follower.url)).toEqual({ status: 200, body: { ready: true, leader: follower.address } });
    await waitUntil('executor ready with the new leader', async () => (await readyz(executor!.url)).body.leader === follower.url);
  }, 240_000);
});
