import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NOT_LEADER_MESSAGE } from '../../../src/model/index.js';
import { ensureTestImage } from '../../support/images.js';
import { waitUntil } from '../../support/wait.js';
import { call, executorContainers, startHaCluster, type ControllerProcess, type HaCluster } from '../../support/ha-cluster.js';
import { activeService, operation, operationTakingEffect, summary, waitForLeader, waitForSteadyService } from './steps.js';

/**
 * HA controllers when etcd itself fails: two `drove controller` processes, one `drove executor`, a 3-member
 * etcd on loopback. Losing one member is invisible to operators; losing quorum makes the leader step down and
 * refuse writes, and everything resumes, with the same containers, when quorum returns.
 */
describe('HA controllers on etcd: etcd member and quorum loss (real etcd, controllers, executor, Docker)', () => {
  let cluster: HaCluster;
  let leader: ControllerProcess;
  let serviceId: string;

  beforeAll(async () => {
    ensureTestImage();
    cluster = await startHaCluster({ controllers: 2, executors: 1 });
    leader = await waitForLeader(cluster);
    serviceId = await activeService(cluster, leader, 'HA_QUORUM', 1);
  });

  afterAll(async () => {
    await cluster?.close();
  });

  beforeEach(({ onTestFailed }) =>
    onTestFailed(() => {
      const said = [...cluster.controllers, ...cluster.executors].map((p) => `--- ${p.name}\n${p.output().slice(-3000)}`);
      process.stderr.write(said.join('\n'));
    }),
  );

  /** Service records as stored in etcd, read through the members that are up. */
  async function storedServices(): Promise<Record<string, string>> {
    const live = cluster.etcd.members.filter((m) => m.process && m.process.exitCode === null && m.process.signalCode === null);
    const client = new Etcd3({ hosts: live.map((m) => m.clientUrl) });
    try {
      return await client.namespace(cluster.namespace).getAll().prefix('localservices/').strings();
    } finally {
      client.close();
    }
  }

  it('one etcd member down: operations still succeed', async () => {
    const [original] = executorContainers(cluster.executors[0]!.executorId);
    await cluster.etcd.stop(cluster.etcd.members[0]!);

    // The leader whose keep-alive stream was on the stopped member may step down (docs/ha.md, "Timings"), and with
    // it an operation it had just accepted: resubmitted then, as a client would.
    leader = await operationTakingEffect(
      cluster,
      { type: 'UPDATE_INSTANCE_COUNT', serviceId, instancesPerHost: 2 },
      async (current) => (await summary(current, serviceId))?.instancesPerHost === 2,
    );
    await waitForSteadyService(cluster, leader, serviceId, 2);
    expect(executorContainers(cluster.executors[0]!.executorId)).toContainEqual(original);
    expect((await summary(leader, serviceId))?.instancesPerHost).toBe(2);
  });

  it('etcd quorum lost: the leader steps down and writes are refused, nothing is half written, controllers restart cleanly, and all resumes when quorum returns', async () => {
    const executor = cluster.executors[0]!;
    const containersBefore = executorContainers(executor.executorId);
    expect(containersBefore).toHaveLength(2);
    const storedBefore = await storedServices();
    expect(Object.keys(storedBefore)).toEqual([`localservices/${serviceId}`]);

    await cluster.etcd.stop(cluster.etcd.members[1]!);

    // The leader steps down before its lease could expire; nobody leads, and nobody names a leader it cannot vouch for.
    await waitUntil(
      'every controller to answer as a non-leader that knows no leader',
      async () => {
        const pings = await Promise.all(cluster.controllers.map((c) => call(c.url, 'GET', '/apis/v1/ping')));
        return pings.every((p) => p.status === 400 && p.body.message === NOT_LEADER_MESSAGE && p.body.data === undefined);
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    for (const controller of cluster.controllers) {
      const write = await call(controller.url, 'POST', '/apis/v1/localservices/operations', {
        type: 'UPDATE_INSTANCE_COUNT',
        serviceId,
        instancesPerHost: 3,
      });
      expect(write.status).toBe(400);
      expect(write.body).toEqual({ status: 'FAILED', message: NOT_LEADER_MESSAGE });
      // UI pages cannot be redirected to an unknown leader either.
      expect((await call(controller.url, 'GET', `/apis/ui/localservices/${serviceId}`)).status).toBe(400);
    }
    // Containers are the executor's business: they keep running while the controllers cannot decide anything.
    expect(executorContainers(executor.executorId)).toEqual(containersBefore);

    // A controller stops cleanly without etcd, and one started without etcd serves as a non-leader meanwhile.
    const restarted = cluster.controllers[0]!;
    await restarted.stop();
    expect(restarted.child?.exitCode).toBe(0);
    restarted.start();
    await waitUntil('the restarted controller to answer as a non-leader', async () => {
      const ping = await call(restarted.url, 'GET', '/apis/v1/ping');
      return ping.status === 400 && ping.body.message === NOT_LEADER_MESSAGE && ping.body.data === undefined;
    });

    await cluster.etcd.start(cluster.etcd.members[0]!);
    await cluster.etcd.start(cluster.etcd.members[1]!);
    leader = await waitForLeader(cluster, 60_000);

    // The refused write left no trace, and the new leader picks up the service as it was.
    expect(await storedServices()).toEqual(storedBefore);
    expect((await summary(leader, serviceId))?.instancesPerHost).toBe(2);
    const steady = await waitForSteadyService(cluster, leader, serviceId, 2);
    expect(new Set(steady.map((i) => i.instanceId))).toEqual(new Set(containersBefore.map((c) => c.instanceId)));
    expect(executorContainers(executor.executorId)).toEqual(containersBefore);

    // And writes are accepted again.
    await operation(leader, { type: 'UPDATE_INSTANCE_COUNT', serviceId, instancesPerHost: 3 });
    await waitForSteadyService(cluster, leader, serviceId, 3);
    for (const container of containersBefore) expect(executorContainers(executor.executorId)).toContainEqual(container);
  });
});
