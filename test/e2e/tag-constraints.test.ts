import { describe, expect, it } from 'vitest';
import type { ExecutorNodeData, LocalServiceInstanceInfo } from '../../src/model/index.js';
import { containerNames, useE2eCluster } from '../support/e2e-cluster.js';
import { healthy, type ExecutorSummary } from '../support/drove-api.js';
import type { NetnsHost } from '../support/netns.js';
import { fastSpec } from '../support/specs.js';
import { waitUntil } from '../support/wait.js';

/**
 * Tag constraints with real executors (docs/design/placement.md#tag-constraints): examples/gpu-agent.json runs only on executors tagged
 * `gpu`. Three network-namespace hosts, two tagged; the third restarts with the tag and gets its instances; a tagged
 * one restarts without it and loses them. The summary's healthy and required counts and each executor's state
 * (readiness gating honours the constraint too) are checked after every step.
 */

const SERVICE = 'GPU_AGENT-1';
const PER_HOST = 2;

describe('a tag-constrained local service on three hosts', () => {
  const fixture = useE2eCluster({
    hosts: 3,
    executor: { tags: (host) => (host.index < 2 ? ['gpu', 'rack-a'] : ['rack-a']) },
  });

  const executorOf = async (host: NetnsHost): Promise<ExecutorSummary | undefined> =>
    (await fixture.cluster.api.executors()).find((e) => e.hostname === host.address);
  const onHost = (list: LocalServiceInstanceInfo[], host: NetnsHost) => list.filter((i) => i.localInfo?.hostname === host.address);
  const serviceContainers = async (host: NetnsHost) => (await containerNames(host)).filter((n) => n.startsWith(`${SERVICE}-SI-`));

  /** PER_HOST healthy instances on each of `hosts` and nothing on any other host: in the API and in Docker. */
  async function expectRunningOn(hosts: NetnsHost[]) {
    const list = await fixture.cluster.api.waitForInstances(
      SERVICE,
      `${PER_HOST} healthy on each of ${hosts.map((h) => h.name).join(', ')}, nothing elsewhere`,
      (l) => l.length === hosts.length * PER_HOST && hosts.every((h) => healthy(onHost(l, h)).length === PER_HOST),
    );
    const summary = await fixture.cluster.api.waitForService(SERVICE, 'ACTIVE', (s) => s.healthyInstances === hosts.length * PER_HOST);
    expect(summary.requiredInstances).toBe(hosts.length * PER_HOST);
    for (const host of fixture.net.hosts) {
      const wanted = hosts.includes(host) ? PER_HOST : 0;
      await waitUntil(`${wanted} containers of the service on ${host.name}`, async () => (await serviceContainers(host)).length === wanted || undefined);
    }
    // Every executor passes readiness gating: the ones without the tag do not wait for instances never placed there.
    for (const host of fixture.net.hosts) {
      await waitUntil(`executor on ${host.name} ACTIVE`, async () => (await executorOf(host))?.state === 'ACTIVE' || undefined);
    }
    return list;
  }

  /**
   * A restart with a new config: SIGTERM (containers stay for re-adoption), then start with the new tags; returns
   * once the leader holds node data the new process sent (until then it shows the old process's state and tags).
   */
  async function restartWithTags(host: NetnsHost, tags: string[]) {
    await fixture.cluster.executors.get(host)!.stop();
    const restartedAt = Date.now();
    await fixture.cluster.startExecutor(host, { tags });
    const { executorId } = (await executorOf(host))!;
    await waitUntil(`executor on ${host.name} to report tags ${tags.join(',')} after its restart`, async () => {
      const nodeData = await fixture.cluster.api.get<ExecutorNodeData>(`/apis/v1/cluster/executors/${executorId}`);
      const fresh = nodeData.updated >= restartedAt;
      return (fresh && nodeData.tags.length === tags.length + 1 && tags.every((t) => nodeData.tags.includes(t))) || undefined;
    });
  }

  it('shows the executors\' tags, the hostname among them', async () => {
    const summaries = await fixture.cluster.api.executors();
    for (const host of fixture.net.hosts) {
      const summary = summaries.find((e) => e.hostname === host.address)!;
      const expected = host.index < 2 ? [host.address, 'gpu', 'rack-a'] : [host.address, 'rack-a'];
      expect([...summary.tags].sort()).toEqual(expected.sort());
      const info = await fixture.cluster.api.get<ExecutorNodeData>(`/apis/v1/cluster/executors/${summary.executorId}`);
      expect([...info.tags].sort()).toEqual(expected.sort());
    }
  });

  it('runs on the two tagged executors only', async () => {
    await fixture.cluster.api.accepted({ type: 'CREATE', spec: fastSpec('gpu-agent.json'), instancesPerHost: PER_HOST });
    expect((await fixture.cluster.api.waitForService(SERVICE, 'INACTIVE')).requiredInstances).toBe(0);
    await fixture.cluster.api.accepted({ type: 'ACTIVATE', serviceId: SERVICE });
    await expectRunningOn([fixture.net.hosts[0]!, fixture.net.hosts[1]!]);
  });

  it('starts instances on the third executor once it restarts with the tag', async () => {
    const before = (await fixture.cluster.api.instances(SERVICE)).map((i) => i.instanceId);
    await restartWithTags(fixture.net.hosts[2]!, ['gpu', 'rack-a']);
    const list = await expectRunningOn(fixture.net.hosts);
    // The instances that ran stay: only the new executor got new ones.
    expect(list.filter((i) => before.includes(i.instanceId))).toHaveLength(before.length);
  });

  it('stops the instances of an executor that restarts without the tag; the others keep theirs', async () => {
    const [leaving, ...staying] = fixture.net.hosts as [NetnsHost, ...NetnsHost[]];
    const kept = onHost(await fixture.cluster.api.instances(SERVICE), staying[0]!).map((i) => i.instanceId);
    const gone = onHost(await fixture.cluster.api.instances(SERVICE), leaving).map((i) => i.instanceId);
    await restartWithTags(leaving, ['rack-a']);
    const list = await expectRunningOn(staying);
    expect(onHost(list, staying[0]!).map((i) => i.instanceId).sort()).toEqual(kept.sort());
    const old = await fixture.cluster.api.oldInstances(SERVICE);
    for (const id of gone) expect(old.find((i) => i.instanceId === id)?.state).toBe('STOPPED');
  });

  it('lets an executor without the tag that restarts with nothing running pass readiness gating', async () => {
    const untagged = fixture.net.hosts[0]!;
    await restartWithTags(untagged, ['rack-a']);
    // It starts UNREADY; the service it is not tagged for must not keep it there (it would wait for good).
    await expectRunningOn(fixture.net.hosts.slice(1));
    expect(await serviceContainers(untagged)).toEqual([]);
  });

  it('deactivates on the hosts it runs on', async () => {
    await fixture.cluster.api.accepted({ type: 'DEACTIVATE', serviceId: SERVICE });
    const summary = await fixture.cluster.api.waitForService(SERVICE, 'INACTIVE');
    expect(summary.requiredInstances).toBe(0);
    await fixture.cluster.api.waitForInstances(SERVICE, 'nothing running', (l) => l.length === 0);
    for (const host of fixture.net.hosts) {
      await waitUntil(`containers gone on ${host.name}`, async () => (await serviceContainers(host)).length === 0 || undefined);
    }
  });
});
