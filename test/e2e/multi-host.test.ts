import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { LocalServiceInstanceInfo } from '../../src/model/index.js';
import { containerNames, useE2eCluster } from '../support/e2e-cluster.js';
import { healthy } from '../support/drove-api.js';
import type { NetnsHost } from '../support/netns.js';
import { fastSpec } from '../support/specs.js';
import { waitUntil } from '../support/wait.js';

/**
 * Local services across hosts (docs/design/placement.md): three executor hosts, each its own network namespace and
 * dockerd. A host-level service binds the same fixed port on every host; a fourth executor that joins gets its
 * instance without any operator action; an executor that dies for good has its instances marked LOST (kept as
 * history) while the service stays ACTIVE on the others.
 */

const SERVICE = 'HOST_AGENT-1';
const FIXED_PORT = 9100;
/** Short so the test sees the staleness sweep quickly; executors heartbeat every 2 s (see test/support/e2e-cluster.ts). */
const STALE_EXECUTOR_AGE = '8 seconds';

describe('host-level local service on several hosts', () => {
  const fixture = useE2eCluster({
    hosts: 3,
    controller: { options: { reconcileInterval: '1 second', staleExecutorAge: STALE_EXECUTOR_AGE } },
  });

  const liveHosts = () => fixture.net.hosts.filter((h) => fixture.cluster.executors.get(h)?.running);

  /** Exactly one healthy instance per live host, each on that host's address and the fixed port. */
  const onePerHost = (hosts: NetnsHost[]) => (list: LocalServiceInstanceInfo[]) =>
    healthy(list).length === hosts.length &&
    hosts.every((h) => healthy(list).filter((i) => i.localInfo?.hostname === h.address).length === 1);

  const envAt = async (host: NetnsHost) => {
    const response = await request(`http://${host.address}:${FIXED_PORT}/cgi-bin/env`);
    return { status: response.statusCode, text: await response.body.text() };
  };

  const expectAnswersOnEveryHost = async (hosts: NetnsHost[], list: LocalServiceInstanceInfo[]) => {
    for (const host of hosts) {
      const instance = list.find((i) => i.localInfo?.hostname === host.address && i.state === 'HEALTHY')!;
      expect(instance.localInfo!.ports.main).toMatchObject({ containerPort: FIXED_PORT, hostPort: FIXED_PORT });
      const env = await envAt(host);
      expect(env.status).toBe(200);
      // The answer comes from the instance that runs on that very host.
      expect(env.text).toContain(`DROVE_SERVICE_INSTANCE_ID=${instance.instanceId}`);
      expect(env.text).toContain(`DROVE_EXECUTOR_HOST=${host.address}`);
      expect((await containerNames(host)).filter((n) => n.startsWith(`${SERVICE}-SI-`))).toHaveLength(1);
    }
  };

  it('binds the same fixed port on all three hosts and answers on each host address', async () => {
    await fixture.cluster.api.accepted({ type: 'CREATE', spec: fastSpec('host-agent.json'), instancesPerHost: 1 });
    await fixture.cluster.api.waitForService(SERVICE, 'INACTIVE');
    await fixture.cluster.api.accepted({ type: 'ACTIVATE', serviceId: SERVICE });
    const list = await fixture.cluster.api.waitForInstances(SERVICE, 'one healthy instance on each of 3 hosts', onePerHost(fixture.net.hosts));
    await fixture.cluster.api.waitForService(SERVICE, 'ACTIVE', (s) => s.healthyInstances === 3);
    await expectAnswersOnEveryHost(fixture.net.hosts, list);
  });

  it('rejects instance count updates for a host-level service', async () => {
    const reply = await fixture.cluster.api.operation({ type: 'UPDATE_INSTANCE_COUNT', serviceId: SERVICE, instancesPerHost: 2 });
    expect(reply.statusCode).toBe(400);
    expect(JSON.stringify(reply.body)).toContain(
      'Instance count update is allowed only for services that do not have Host Level option set',
    );
  });

  it('restarts stop-first without port conflicts', async () => {
    const before = (await fixture.cluster.api.instances(SERVICE)).map((i) => i.instanceId);
    await fixture.cluster.api.accepted({ type: 'RESTART', serviceId: SERVICE, stopFirst: true });
    const list = await fixture.cluster.api.waitForInstances(
      SERVICE,
      'every instance replaced',
      (l) => onePerHost(fixture.net.hosts)(l) && l.every((i) => !before.includes(i.instanceId)),
    );
    await fixture.cluster.api.waitForService(SERVICE, 'ACTIVE');
    await expectAnswersOnEveryHost(fixture.net.hosts, list);
  });

  it('gives a fourth executor that joins its instance without operator action', async () => {
    const fourth = await fixture.net.addHost();
    await fixture.cluster.startExecutor(fourth);
    const list = await fixture.cluster.api.waitForInstances(SERVICE, 'an instance on the new host too', onePerHost(fixture.net.hosts));
    await fixture.cluster.api.waitForService(SERVICE, 'ACTIVE', (s) => s.healthyInstances === 4);
    await expectAnswersOnEveryHost(fixture.net.hosts, list);
    // The new executor passed readiness gating once its local-service instance was healthy.
    const executors = await fixture.cluster.api.executors();
    await waitUntil('the new executor to become ACTIVE', async () =>
      (await fixture.cluster.api.executors()).find((e) => e.hostname === fourth.address)?.state === 'ACTIVE' || undefined,
    );
    expect(executors).toHaveLength(4);
  });

  it('marks the instances of an executor that died for good LOST after staleExecutorAge; the service stays ACTIVE', async () => {
    const victim = fixture.net.hosts[1]!;
    const since = Date.now() - 1;
    const lostInstance = (await fixture.cluster.api.instances(SERVICE)).find((i) => i.localInfo?.hostname === victim.address)!;
    await fixture.cluster.executors.get(victim)!.kill();
    await victim.destroy();

    // Removed executors stay listed as last known, in state REMOVED.
    await waitUntil(`executor ${victim.address} to be removed`, async () => {
      const entry = (await fixture.cluster.api.executors()).find((e) => e.hostname === victim.address);
      return entry === undefined || entry.state === 'REMOVED' || undefined;
    });
    await waitUntil('the instance to be LOST', async () => {
      const old = await fixture.cluster.api.oldInstances(SERVICE);
      return old.find((i) => i.instanceId === lostInstance.instanceId)?.state === 'LOST' || undefined;
    });
    const survivors = liveHosts();
    expect(survivors).toHaveLength(3);
    const list = await fixture.cluster.api.waitForInstances(SERVICE, 'one per surviving host', (l) => l.length === 3 && onePerHost(survivors)(l));
    const summary = await fixture.cluster.api.waitForService(SERVICE, 'ACTIVE', (s) => s.healthyInstances === 3);
    expect(summary.activationState).toBe('ACTIVE');
    await expectAnswersOnEveryHost(survivors, list);
    // LOST is announced like any other instance state change (docs/design/reconciliation.md#lost-instances).
    const events = await fixture.cluster.api.events(since);
    expect(
      events.some(
        (e) =>
          e.type === 'LOCAL_SERVICE_INSTANCE_STATE_CHANGE' &&
          e.metadata.INSTANCE_ID === lostInstance.instanceId &&
          e.metadata.CURRENT_STATE === 'LOST',
      ),
    ).toBe(true);
    expect(events.some((e) => e.type === 'EXECUTOR_REMOVED')).toBe(true);
  });

  it('deactivates on the surviving hosts', async () => {
    await fixture.cluster.api.accepted({ type: 'DEACTIVATE', serviceId: SERVICE });
    await fixture.cluster.api.waitForService(SERVICE, 'INACTIVE');
    await fixture.cluster.api.waitForInstances(SERVICE, 'nothing running', (l) => l.length === 0);
    for (const host of liveHosts()) {
      await waitUntil(`containers gone on ${host.name}`, async () =>
        (await containerNames(host, true)).every((n) => !n.startsWith(`${SERVICE}-SI-`)) || undefined,
      );
    }
  });
});
