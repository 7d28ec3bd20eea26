import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { LocalServiceInstanceInfo } from '../../src/model/index.js';
import { containerNames, useE2eCluster } from '../support/e2e-cluster.js';
import { healthy, type DroveEvent } from '../support/drove-api.js';
import type { NetnsHost } from '../support/netns.js';
import { fastSpec } from '../support/specs.js';
import { holdsFor, waitUntil } from '../support/wait.js';

/**
 * The seed's recommended rollout, end to end: a real controller process, one real executor process per host (two
 * hosts, each a network namespace with its own dockerd), driven over HTTP the way an operator's curl would.
 * Steps depend on each other and run in order.
 */

const SERVICE = 'NODE_EXPORTER-1';
const prefix = `${SERVICE}-SI-`;

describe('seed rollout: create -> conftest -> activate -> update -> restart -> replace -> stop -> deactivate -> destroy', () => {
  const fixture = useE2eCluster({ hosts: 2, controller: { options: { reconcileInterval: '1 second' } } });
  let since = 0;

  const hostOf = (instance: LocalServiceInstanceInfo): NetnsHost => {
    const host = fixture.net.hosts.find((h) => h.address === instance.localInfo?.hostname);
    if (!host) throw new Error(`instance ${instance.instanceId} reports unknown host ${instance.localInfo?.hostname}`);
    return host;
  };

  /** Running service containers on every host, by host name. */
  const containersByHost = async () => {
    const out: Record<string, string[]> = {};
    for (const host of fixture.net.hosts) out[host.name] = (await containerNames(host)).filter((n) => n.startsWith(prefix));
    return out;
  };

  const expectContainersMatch = async (instances: LocalServiceInstanceInfo[]) => {
    const expected: Record<string, string[]> = Object.fromEntries(fixture.net.hosts.map((h) => [h.name, [] as string[]]));
    for (const i of instances) expected[hostOf(i).name]!.push(`${prefix}${i.instanceId.slice('SI-'.length)}`);
    for (const list of Object.values(expected)) list.sort();
    expect(await containersByHost()).toEqual(expected);
  };

  /** Service state transitions (LOCAL_SERVICE_STATE_CHANGE) since the last call. */
  const newEvents = async () => {
    const events = await fixture.cluster.api.events(since);
    if (events.length > 0) since = events[events.length - 1]!.time;
    return events;
  };
  const serviceStates = (events: DroveEvent[]) =>
    events
      .filter((e) => e.type === 'LOCAL_SERVICE_STATE_CHANGE' && e.metadata.LOCAL_SERVICE_ID === SERVICE)
      .map((e) => e.metadata.CURRENT_STATE as string);
  const instanceStates = (events: DroveEvent[], instanceId: string) =>
    events
      .filter((e) => e.type === 'LOCAL_SERVICE_INSTANCE_STATE_CHANGE' && e.metadata.INSTANCE_ID === instanceId)
      .map((e) => e.metadata.CURRENT_STATE as string);
  /** `actual` contains `expected` in order (other states may be interleaved). */
  const expectSubsequence = (actual: string[], expected: string[]) => {
    let at = 0;
    for (const state of actual) if (state === expected[at]) at++;
    expect.soft(at, `expected ${JSON.stringify(expected)} in order within ${JSON.stringify(actual)}`).toBe(expected.length);
  };

  const perExecutorHealthy = (list: LocalServiceInstanceInfo[]) => {
    const counts = new Map<string, number>();
    for (const i of healthy(list)) counts.set(i.executorId, (counts.get(i.executorId) ?? 0) + 1);
    return counts;
  };
  const everyHostHas = (n: number) => (list: LocalServiceInstanceInfo[]) => {
    const counts = perExecutorHealthy(list);
    return list.length === n * fixture.net.hosts.length && counts.size === fixture.net.hosts.length && [...counts.values()].every((c) => c === n);
  };

  const httpGet = async (instance: LocalServiceInstanceInfo, path: string) => {
    const port = instance.localInfo!.ports.main!.hostPort;
    const response = await request(`http://${instance.localInfo!.hostname}:${port}${path}`);
    return { status: response.statusCode, text: await response.body.text() };
  };

  it('CREATE stores the service INACTIVE and starts nothing', async () => {
    const reply = await fixture.cluster.api.operation({ type: 'CREATE', spec: fastSpec('node-agent.json'), instancesPerHost: 1 });
    expect(reply.statusCode).toBe(200);
    expect(reply.body).toMatchObject({ status: 'SUCCESS', data: { serviceId: SERVICE } });
    const summary = await fixture.cluster.api.waitForService(SERVICE, 'INACTIVE');
    expect(summary).toMatchObject({ activationState: 'INACTIVE', instancesPerHost: 1, healthyInstances: 0 });
    expect(await fixture.cluster.api.instances(SERVICE)).toEqual([]);
    await expectContainersMatch([]);
    const again = await fixture.cluster.api.operation({ type: 'CREATE', spec: fastSpec('node-agent.json'), instancesPerHost: 1 });
    expect(again.statusCode).toBe(400);
    expect(JSON.stringify(again.body)).toContain(`Local service ${SERVICE} already exists`);
    expectSubsequence(serviceStates(await newEvents()), ['INACTIVE']);
  });

  it('conftest (DEPLOY_TEST_INSTANCE) runs exactly one test instance in the cluster', async () => {
    await fixture.cluster.api.accepted({ type: 'DEPLOY_TEST_INSTANCE', serviceId: SERVICE });
    await fixture.cluster.api.waitForService(SERVICE, 'CONFIG_TESTING', (s) => s.healthyInstances === 1);
    const list = await fixture.cluster.api.waitForInstances(SERVICE, 'one healthy test instance', (l) => l.length === 1 && healthy(l).length === 1);
    await expectContainersMatch(list);
    const instance = list[0]!;
    expect(await httpGet(instance, '/cgi-bin/health')).toEqual({ status: 200, text: 'ok\n' });
    // Env and the INLINE config of the spec reach the container.
    const env = await httpGet(instance, '/cgi-bin/env');
    expect(env.text).toContain('AGENT_MODE=example');
    expect(env.text).toContain(`DROVE_SERVICE_INSTANCE_ID=${instance.instanceId}`);
    expect((await httpGet(instance, '/agent.conf')).text).toBe('scrape_interval: 15s\nlabels: node-agent\n');
    const events = await newEvents();
    expectSubsequence(serviceStates(events), ['CONFIG_TESTING_REQUESTED', 'CONFIG_TESTING']);
    expectSubsequence(instanceStates(events, instance.instanceId), ['PENDING', 'PROVISIONING', 'STARTING', 'UNREADY', 'READY', 'HEALTHY']);
    // Still exactly one, in the whole cluster, while the reconciler (1 s interval) looks at it three more times.
    await holdsFor('exactly one test instance', 3_000, async () => {
      const now = await fixture.cluster.api.instances(SERVICE);
      const containers = Object.values(await containersByHost()).flat();
      return now.length === 1 && now[0]!.instanceId === instance.instanceId && containers.length === 1;
    });
  });

  it('ACTIVATE runs instancesPerHost instances on every executor', async () => {
    await fixture.cluster.api.accepted({ type: 'ACTIVATE', serviceId: SERVICE });
    await fixture.cluster.api.waitForService(SERVICE, 'ACTIVE', (s) => s.activationState === 'ACTIVE' && s.healthyInstances === 2);
    const list = await fixture.cluster.api.waitForInstances(SERVICE, 'one healthy instance per executor', everyHostHas(1));
    await expectContainersMatch(list);
    for (const instance of list) expect((await httpGet(instance, '/cgi-bin/health')).status).toBe(200);
    expectSubsequence(serviceStates(await newEvents()), ['ACTIVATION_REQUESTED', 'ACTIVE']);
  });

  it('UPDATE_INSTANCE_COUNT to 2 runs two per executor', async () => {
    await fixture.cluster.api.accepted({ type: 'UPDATE_INSTANCE_COUNT', serviceId: SERVICE, instancesPerHost: 2 });
    await fixture.cluster.api.waitForService(SERVICE, 'ACTIVE', (s) => s.instancesPerHost === 2 && s.healthyInstances === 4);
    const list = await fixture.cluster.api.waitForInstances(SERVICE, 'two healthy instances per executor', everyHostHas(2));
    await expectContainersMatch(list);
    expectSubsequence(serviceStates(await newEvents()), ['UPDATING_INSTANCES_COUNT', 'ACTIVE', 'ADJUSTING_INSTANCES', 'ACTIVE']);
  });

  it('RESTART stop-first replaces every instance', async () => {
    const before = (await fixture.cluster.api.instances(SERVICE)).map((i) => i.instanceId);
    await fixture.cluster.api.accepted({
      type: 'RESTART',
      serviceId: SERVICE,
      stopFirst: true,
      opSpec: { timeout: '5m', parallelism: 2, failureStrategy: 'STOP' },
    });
    const list = await fixture.cluster.api.waitForInstances(
      SERVICE,
      'four new healthy instances',
      (l) => everyHostHas(2)(l) && l.every((i) => !before.includes(i.instanceId)),
    );
    await fixture.cluster.api.waitForService(SERVICE, 'ACTIVE');
    await expectContainersMatch(list);
    const old = await fixture.cluster.api.oldInstances(SERVICE);
    for (const id of before) expect(old.find((i) => i.instanceId === id)?.state).toBe('STOPPED');
    expectSubsequence(serviceStates(await newEvents()), ['REPLACING_INSTANCES', 'ACTIVE']);
  });

  it('REPLACE_INSTANCES replaces just the named instance', async () => {
    const before = await fixture.cluster.api.instances(SERVICE);
    const target = before[0]!;
    await fixture.cluster.api.accepted({ type: 'REPLACE_INSTANCES', serviceId: SERVICE, instanceIds: [target.instanceId], stopFirst: false });
    const list = await fixture.cluster.api.waitForInstances(
      SERVICE,
      `${target.instanceId} replaced`,
      (l) => everyHostHas(2)(l) && !l.some((i) => i.instanceId === target.instanceId),
    );
    const kept = before.filter((i) => i.instanceId !== target.instanceId).map((i) => i.instanceId);
    expect(list.filter((i) => kept.includes(i.instanceId))).toHaveLength(3);
    await fixture.cluster.api.waitForService(SERVICE, 'ACTIVE');
    await expectContainersMatch(list);
    expect((await fixture.cluster.api.oldInstances(SERVICE)).find((i) => i.instanceId === target.instanceId)?.state).toBe('STOPPED');
  });

  it('STOP_INSTANCES (lsinstances kill) stops one instance and the reconciler recreates it on the same executor', async () => {
    const before = await fixture.cluster.api.instances(SERVICE);
    const target = before[1]!;
    await fixture.cluster.api.accepted({ type: 'STOP_INSTANCES', serviceId: SERVICE, instanceIds: [target.instanceId] });
    const list = await fixture.cluster.api.waitForInstances(
      SERVICE,
      `${target.instanceId} stopped and recreated`,
      (l) => everyHostHas(2)(l) && !l.some((i) => i.instanceId === target.instanceId),
    );
    const fresh = list.filter((i) => !before.some((b) => b.instanceId === i.instanceId));
    expect(fresh).toHaveLength(1);
    expect(fresh[0]!.executorId).toBe(target.executorId);
    await expectContainersMatch(list);
    expectSubsequence(serviceStates(await newEvents()), ['STOPPING_INSTANCES', 'ACTIVE', 'ADJUSTING_INSTANCES', 'ACTIVE']);
  });

  it('a container killed outside Drove is noticed and its instance recreated', async () => {
    const before = await fixture.cluster.api.instances(SERVICE);
    const target = before[0]!;
    await hostOf(target).docker(['kill', `${prefix}${target.instanceId.slice('SI-'.length)}`]);
    const list = await fixture.cluster.api.waitForInstances(
      SERVICE,
      `${target.instanceId} recreated after docker kill`,
      (l) => everyHostHas(2)(l) && !l.some((i) => i.instanceId === target.instanceId),
    );
    expect(list.filter((i) => !before.some((b) => b.instanceId === i.instanceId))[0]!.executorId).toBe(target.executorId);
    await fixture.cluster.api.waitForService(SERVICE, 'ACTIVE');
    await expectContainersMatch(list);
  });

  it('DEACTIVATE stops every instance after running its pre-shutdown hook', async () => {
    const running = await fixture.cluster.api.instances(SERVICE);
    await fixture.cluster.api.accepted({ type: 'DEACTIVATE', serviceId: SERVICE });
    await fixture.cluster.api.waitForService(SERVICE, 'INACTIVE', (s) => s.activationState === 'INACTIVE');
    await fixture.cluster.api.waitForInstances(SERVICE, 'no running instances', (l) => l.length === 0);
    await waitUntil('all service containers to be gone', async () => {
      const byHost = await containersByHost();
      return Object.values(byHost).every((l) => l.length === 0) || undefined;
    });
    const old = await fixture.cluster.api.oldInstances(SERVICE);
    for (const instance of running) {
      expect(old.find((i) => i.instanceId === instance.instanceId)?.state).toBe('STOPPED');
      // The hook (GET /cgi-bin/prestop) leaves its line in the instance's output log on its executor.
      const log = join(fixture.cluster.dir, hostOf(instance).name, 'logs', SERVICE, instance.instanceId, 'output.log');
      expect(existsSync(log), `${log} exists`).toBe(true);
      expect(readFileSync(log, 'utf8')).toContain('pre-stop hook called');
    }
    expectSubsequence(serviceStates(await newEvents()), ['DEACTIVATION_REQUESTED', 'INACTIVE']);
  });

  it('DESTROY removes the service', async () => {
    await fixture.cluster.api.accepted({ type: 'DESTROY', serviceId: SERVICE });
    await waitUntil('the service to disappear', async () => ((await fixture.cluster.api.service(SERVICE)) === undefined ? true : undefined));
    const list = await fixture.cluster.api.get<Record<string, unknown>>('/apis/v1/localservices');
    expect(Object.keys(list)).not.toContain(SERVICE);
    expectSubsequence(serviceStates(await newEvents()), ['DESTROY_REQUESTED', 'DESTROYED']);
    await expectContainersMatch([]);
  });
});
