import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { LocalServiceInstanceInfo } from '../../src/model/index.js';
import { containerNames, useE2eCluster } from '../support/e2e-cluster.js';
import { healthy } from '../support/drove-api.js';
import { ensureNodeExporterImage, NODE_EXPORTER_IMAGE } from '../support/images.js';
import type { NetnsHost } from '../support/netns.js';
import { fastSpec } from '../support/specs.js';
import { waitUntil } from '../support/wait.js';

/**
 * A real node agent on every host (README "Running node_exporter on every host"): Prometheus' node_exporter from
 * Debian's package, run from examples/node-exporter.json as a host-level local service on three network-namespace
 * hosts, with host network, host PID and /proc, /sys and / mounted read-only. Each host's own address answers
 * :9100/metrics about that host: its hostname (each netns host's dockerd has its own UTS namespace, see
 * helpers/netns.ts) and its address (node_network_address_info of eth0, seen on the host network).
 */

const SERVICE = 'PROMETHEUS_NODE_EXPORTER-1';
const PORT = 9100;
const ACCESS = { network: true, pid: true, dropCapabilities: ['ALL'], readOnlyRootFilesystem: true };
const HOST_ACCESS_OPTIONS = { enableHostNetwork: true, enableHostPid: true };

describe('node_exporter on every host', () => {
  const fixture = useE2eCluster({
    hosts: 3,
    image: { name: NODE_EXPORTER_IMAGE, ensure: ensureNodeExporterImage },
    controller: { options: { ...HOST_ACCESS_OPTIONS, reconcileInterval: '1 second' } },
    executor: { options: HOST_ACCESS_OPTIONS },
  });

  /** The metrics text of a host's :9100, or undefined while nothing answers 200 there. */
  const metricsOf = async (host: NetnsHost): Promise<string | undefined> => {
    try {
      const response = await request(`http://${host.address}:${PORT}/metrics`, { headersTimeout: 5_000, bodyTimeout: 5_000 });
      const text = await response.body.text();
      return response.statusCode === 200 ? text : undefined;
    } catch {
      return undefined;
    }
  };

  /** Waits until every host serves metrics; returns how long that took from `since`. */
  const allServing = async (since: number): Promise<number> => {
    await waitUntil(
      `:${PORT}/metrics on ${fixture.net.hosts.map((h) => h.address).join(', ')}`,
      async () => (await Promise.all(fixture.net.hosts.map(metricsOf))).every((m) => m !== undefined),
      { intervalMs: 50 },
    );
    return Date.now() - since;
  };

  const onePerHost = (list: LocalServiceInstanceInfo[]) =>
    healthy(list).length === fixture.net.hosts.length &&
    fixture.net.hosts.every((h) => healthy(list).filter((i) => i.localInfo?.hostname === h.address).length === 1);

  /** What each host's metrics say about that host, and what Docker and the instance record say about the container. */
  const expectEachHostReportsItself = async (list: LocalServiceInstanceInfo[]) => {
    for (const host of fixture.net.hosts) {
      const metrics = (await metricsOf(host))!;
      expect(metrics).toMatch(new RegExp(`^node_uname_info\\{[^}]*nodename="${host.hostname}"[^}]*\\} 1$`, 'm'));
      expect(metrics).toMatch(/^node_procs_running \d+$/m);
      // Host network: node_exporter sees the host's own interface and address, not a container's.
      expect(metrics).toMatch(new RegExp(`^node_network_address_info\\{address="${host.address.replaceAll('.', '\\.')}",device="eth0"`, 'm'));
      const instance = list.find((i) => i.localInfo?.hostname === host.address && i.state === 'HEALTHY')!;
      expect(instance.localInfo!.ports.metrics).toEqual({ containerPort: PORT, hostPort: PORT, portType: 'HTTP' });
      expect(instance.hostAccess).toEqual(ACCESS);
      const names = (await containerNames(host)).filter((n) => n.startsWith(`${SERVICE}-SI-`));
      expect(names).toEqual([`${SERVICE}-${instance.instanceId}`]);
      const [inspect] = JSON.parse(await host.docker(['inspect', names[0]!])) as Array<{ HostConfig: Record<string, unknown> }>;
      expect(inspect!.HostConfig).toMatchObject({ NetworkMode: 'host', PidMode: 'host', CapDrop: ['ALL'], ReadonlyRootfs: true });
    }
  };

  it('activates on all three hosts; each host address answers :9100/metrics about that host', async () => {
    await fixture.cluster.api.accepted({ type: 'CREATE', spec: fastSpec('node-exporter.json'), instancesPerHost: 1 });
    await fixture.cluster.api.waitForService(SERVICE, 'INACTIVE');
    for (const host of fixture.net.hosts) expect(await metricsOf(host)).toBeUndefined();

    const activatedAt = Date.now();
    await fixture.cluster.api.accepted({ type: 'ACTIVATE', serviceId: SERVICE });
    const servingMs = await allServing(activatedAt);
    const list = await fixture.cluster.api.waitForInstances(SERVICE, 'one healthy instance on each of 3 hosts', onePerHost);
    const healthyMs = Date.now() - activatedAt;
    await fixture.cluster.api.waitForService(SERVICE, 'ACTIVE', (s) => s.healthyInstances === 3);
    process.stdout.write(
      `[node-exporter] ACTIVATE -> all ${fixture.net.hosts.length} hosts serving :${PORT}/metrics: ${servingMs} ms; all instances HEALTHY: ${healthyMs} ms\n`,
    );
    await expectEachHostReportsItself(list);
  });

  it('restarts stop-first: every instance replaced on its host, every host serving again', async () => {
    const before = (await fixture.cluster.api.instances(SERVICE)).map((i) => i.instanceId);
    const restartedAt = Date.now();
    await fixture.cluster.api.accepted({ type: 'RESTART', serviceId: SERVICE, stopFirst: true });
    const list = await fixture.cluster.api.waitForInstances(
      SERVICE,
      'every instance replaced',
      (l) => onePerHost(l) && l.every((i) => !before.includes(i.instanceId)),
    );
    await fixture.cluster.api.waitForService(SERVICE, 'ACTIVE');
    const servingMs = await allServing(restartedAt);
    process.stdout.write(`[node-exporter] RESTART (stop-first) -> all hosts serving again: ${servingMs} ms\n`);
    await expectEachHostReportsItself(list);
  });

  it('replaces a container killed from outside (docker kill) on its host', async () => {
    const victim = fixture.net.hosts[1]!;
    const old = (await fixture.cluster.api.instances(SERVICE)).find((i) => i.localInfo?.hostname === victim.address)!;
    const killedAt = Date.now();
    await victim.docker(['kill', `${SERVICE}-${old.instanceId}`]);
    const list = await fixture.cluster.api.waitForInstances(
      SERVICE,
      `a new instance on ${victim.address}`,
      (l) => onePerHost(l) && l.every((i) => i.instanceId !== old.instanceId),
    );
    const servingMs = await allServing(killedAt);
    process.stdout.write(`[node-exporter] docker kill on ${victim.name} -> replaced and serving: ${servingMs} ms\n`);
    const stopped = (await fixture.cluster.api.oldInstances(SERVICE)).find((i) => i.instanceId === old.instanceId);
    expect(stopped?.state).toBe('STOPPED');
    expect(stopped?.errorMessage).toMatch(/^Healthcheck failed/);
    await expectEachHostReportsItself(list);
  });

  it('deactivates: no container is left and no host answers on :9100', async () => {
    await fixture.cluster.api.accepted({ type: 'DEACTIVATE', serviceId: SERVICE });
    await fixture.cluster.api.waitForService(SERVICE, 'INACTIVE');
    await fixture.cluster.api.waitForInstances(SERVICE, 'nothing running', (l) => l.length === 0);
    for (const host of fixture.net.hosts) {
      await waitUntil(`containers gone on ${host.name}`, async () =>
        (await containerNames(host, true)).every((n) => !n.startsWith(`${SERVICE}-SI-`)) || undefined,
      );
      expect(await metricsOf(host)).toBeUndefined();
    }
  });
});
