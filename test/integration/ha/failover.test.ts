import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NOT_LEADER_MESSAGE } from '../../../src/model/index.js';
import { ensureTestImage } from '../../support/images.js';
import { waitUntil } from '../../support/wait.js';
import { call, executorContainers, runCli, startHaCluster, type ControllerProcess, type HaCluster } from '../../support/ha-cluster.js';
import { haServiceSpec } from '../../support/specs.js';
import { activeService, instances, oldInstances, operation, summary, waitForLeader, waitForSteadyService } from './steps.js';

/**
 * Highly available controllers, all real processes: a 3-member etcd on loopback, three `drove controller`
 * processes sharing it, one `drove executor` on the local dockerd. The steps share one cluster and run in order.
 */
describe('HA controllers on etcd: failover (real etcd, controllers, executor, Docker)', () => {
  let cluster: HaCluster;
  let etcd: Etcd3;
  let leader: ControllerProcess;
  let serviceId: string;

  beforeAll(async () => {
    ensureTestImage();
    cluster = await startHaCluster({ controllers: 3, executors: 1 });
    etcd = new Etcd3({ hosts: cluster.etcd.endpoints });
    leader = await waitForLeader(cluster);
    serviceId = await activeService(cluster, leader, 'HA_FAILOVER', 1);
  });

  afterAll(async () => {
    etcd?.close();
    await cluster?.close();
  });

  // What the processes said, printed only when a step fails.
  beforeEach(({ onTestFailed }) => onTestFailed(() => void process.stderr.write(describeProcesses())));

  async function storedState(): Promise<Record<string, string>> {
    return etcd.namespace(cluster.namespace).getAll().strings();
  }

  function describeProcesses(): string {
    return [...cluster.controllers, ...cluster.executors].map((p) => `--- ${p.name}\n${p.output().slice(-3000)}`).join('\n');
  }

  it('non-leaders refuse every API call with 400 naming the leader, redirect UI pages, and a refused write changes nothing', async () => {
    const followers = cluster.controllers.filter((c) => c !== leader);
    expect(followers).toHaveLength(2);
    const before = await storedState();
    const servicesBefore = await call(leader.url, 'GET', '/apis/v1/localservices');

    for (const follower of followers) {
      const write = await call(follower.url, 'POST', '/apis/v1/localservices/operations', {
        type: 'CREATE',
        spec: haServiceSpec('HA_REFUSED'),
        instancesPerHost: 1,
      });
      expect(write.status).toBe(400);
      expect(write.body).toEqual({ status: 'FAILED', data: { leader: leader.address }, message: NOT_LEADER_MESSAGE });

      const scale = await call(follower.url, 'POST', '/apis/v1/localservices/operations', {
        type: 'UPDATE_INSTANCE_COUNT',
        serviceId,
        instancesPerHost: 3,
      });
      expect(scale.status).toBe(400);
      expect(scale.body.data).toEqual({ leader: leader.address });

      const ping = await call(follower.url, 'GET', '/apis/v1/ping');
      expect(ping.status).toBe(400);
      expect(ping.body.message).toBe(NOT_LEADER_MESSAGE);
      const read = await call(follower.url, 'GET', `/apis/v1/localservices/${serviceId}`);
      expect(read.status).toBe(400);

      const page = await call(follower.url, 'GET', `/apis/ui/localservices/${serviceId}`);
      expect(page.status).toBe(303);
      expect(page.location).toBe(`http://${leader.address}/localservices/${serviceId}`);
    }

    expect((await call(leader.url, 'GET', '/apis/v1/ping')).status).toBe(200);
    // Nothing changed: the store holds exactly what it held (executor heartbeats aside), the leader's view too.
    const after = await storedState();
    const withoutExecutors = (state: Record<string, string>) =>
      Object.fromEntries(Object.entries(state).filter(([key]) => !key.startsWith('executors/') && !key.startsWith('localserviceinstances/')));
    expect(withoutExecutors(after)).toEqual(withoutExecutors(before));
    expect(Object.keys(after).filter((k) => k.includes('HA_REFUSED'))).toEqual([]);
    expect((await call(leader.url, 'GET', '/apis/v1/localservices')).body.data).toEqual(servicesBefore.body.data);
    expect((await summary(leader, serviceId))?.instancesPerHost).toBe(1);
  });

  it('kill -9 of the leader: a new leader is elected, the CLI shows it, the service stays ACTIVE and no instance is restarted', async () => {
    const executor = cluster.executors[0]!;
    const instancesBefore = await instances(leader, serviceId);
    const containersBefore = executorContainers(executor.executorId);
    expect(instancesBefore.map((i) => i.state)).toEqual(['HEALTHY']);
    expect(containersBefore.map((c) => c.instanceId)).toEqual(instancesBefore.map((i) => i.instanceId));

    const old = leader;
    await old.kill();
    leader = await waitForLeader(cluster);
    expect(leader).not.toBe(old);

    const cli = runCli(cluster.drove, leader.url, ['cluster', 'leader']);
    expect(cli.stderr).toBe('');
    expect(cli.stdout.trim()).toBe(`Cluster leader: ${leader.address}`);
    expect(cli.code).toBe(0);
    // Pointed at the remaining follower, the CLI says where the leader is.
    const follower = cluster.controllers.find((c) => c.running() && c !== leader)!;
    const fromFollower = runCli(cluster.drove, follower.url, ['cluster', 'leader']);
    expect(fromFollower.code).not.toBe(0);
    expect(fromFollower.stderr).toContain(leader.address);

    // The executor follows the new leader by itself and the instance keeps being reported (fresh record).
    const killedAt = Date.now();
    await waitUntil('a fresh report of the instance on the new leader', async () => {
      const list = await instances(leader, serviceId);
      return list.length === 1 && list[0]!.updated > killedAt && list[0]!.state === 'HEALTHY';
    });
    expect((await summary(leader, serviceId))?.state).toBe('ACTIVE');
    const after = await waitForSteadyService(cluster, leader, serviceId, 1);
    expect(after.map((i) => i.instanceId)).toEqual(instancesBefore.map((i) => i.instanceId));
    expect(executorContainers(executor.executorId)).toEqual(containersBefore);
    expect(await oldInstances(leader, serviceId)).toEqual([]);

    // The killed controller comes back as a follower of the new leader.
    old.start();
    await waitUntil('the restarted controller to know the leader', async () => {
      const ping = await call(old.url, 'GET', '/apis/v1/ping');
      return ping.status === 400 && (ping.body.data as { leader?: string } | undefined)?.leader === leader.address;
    });
    expect(await waitForLeader(cluster)).toBe(leader);
  });

  it('kill -9 of the leader during ADJUST_INSTANCES (1 -> 4 per host): the new leader finishes it, exactly 4 instances, no duplicates', async () => {
    const executor = cluster.executors[0]!;
    const original = executorContainers(executor.executorId);
    expect(original).toHaveLength(1);

    await operation(leader, { type: 'UPDATE_INSTANCE_COUNT', serviceId, instancesPerHost: 4 });
    // Kill once the rollout is under way: adjusting, with at least one new instance and fewer than four.
    await waitUntil(
      'the ADJUST_INSTANCES rollout to be half way',
      async () => {
        const s = await summary(leader, serviceId);
        const started = executorContainers(executor.executorId).length;
        return s?.state === 'ADJUSTING_INSTANCES' && started >= 2 && started < 4;
      },
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    const old = leader;
    await old.kill();
    leader = await waitForLeader(cluster);
    expect(leader).not.toBe(old);

    const final = await waitForSteadyService(cluster, leader, serviceId, 4);
    const containers = executorContainers(executor.executorId);
    // Exactly four containers exist (docker ps -a): nothing was started twice and then cleaned up.
    expect(containers).toHaveLength(4);
    expect(containers.every((c) => c.running)).toBe(true);
    expect(new Set(containers.map((c) => c.instanceId))).toEqual(new Set(final.map((i) => i.instanceId)));
    expect(new Set(final.map((i) => i.instanceId)).size).toBe(4);
    // The instance running before the rollout was not touched.
    expect(containers).toContainEqual(original[0]);
    expect((await summary(leader, serviceId))?.instancesPerHost).toBe(4);
    expect(await oldInstances(leader, serviceId)).toEqual([]);
  });

  it('a paused leader (SIGSTOP) is replaced; when it resumes it steps down without acting on its stale view', async () => {
    const executor = cluster.executors[0]!;
    const killed = cluster.controllers.find((c) => !c.running());
    killed?.start();
    const paused = leader;
    paused.pause();
    try {
      leader = await waitForLeader(cluster, 60_000, [paused]);
      expect(leader).not.toBe(paused);
      // The paused controller still believes in 4 instances per host; the new leader scales down to 2.
      await operation(leader, { type: 'UPDATE_INSTANCE_COUNT', serviceId, instancesPerHost: 2 });
      const kept = await waitForSteadyService(cluster, leader, serviceId, 2);
      const stopped = (await oldInstances(leader, serviceId)).map((i) => i.instanceId).sort();
      expect(stopped).toHaveLength(2);
      const containers = executorContainers(executor.executorId);
      expect(containers.map((c) => c.instanceId)).toEqual(kept.map((i) => i.instanceId));

      paused.resume();
      await waitUntil('the resumed controller to follow the new leader', async () => {
        const ping = await call(paused.url, 'GET', '/apis/v1/ping');
        return ping.status === 400 && (ping.body.data as { leader?: string } | undefined)?.leader === leader.address;
      });
      // Its reconciler did not start the "missing" instances again, nor stop anything.
      expect(await waitForLeader(cluster)).toBe(leader);
      await waitForSteadyService(cluster, leader, serviceId, 2);
      expect(executorContainers(executor.executorId)).toEqual(containers);
      expect((await oldInstances(leader, serviceId)).map((i) => i.instanceId).sort()).toEqual(stopped);
      expect((await summary(leader, serviceId))?.instancesPerHost).toBe(2);
    } finally {
      paused.resume();
    }
  });
});
