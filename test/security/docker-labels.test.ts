import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type RunningExecutor } from '../../src/executor/server.js';
import { executorIdOf, newInstanceId, type LocalServiceInstanceSpec } from '../../src/model/index.js';
import {
  FakeLeader,
  IMAGE,
  containerOf,
  docker,
  ensureImage,
  executorConfigInput,
  itSpec,
  removeContainersOf,
  startInstance,
  startTestExecutor,
} from '../support/executor-harness.js';
import { instanceInfo } from '../support/records.js';
import { waitUntil } from '../support/wait.js';

/**
 * Finding: the executor copied the whole instance spec into a container label (`drove.instance.spec`), so
 * `docker inspect` showed the instance token, every env value and inline config contents to anyone allowed to
 * inspect containers (a monitoring agent with the Docker socket, `docker` group members). Labels now carry only
 * what recovery needs; recovery after an executor restart still re-adopts without a restart, also containers
 * made by the previous version (full spec in the old label).
 */

const SECRETS = {
  env: 'env-secret-hunter2',
  token: 'instance-token-secret-jwt',
  inline: Buffer.from('inline-config-secret').toString('base64'),
};

async function containerState(instanceId: string) {
  const inspect = await (await containerOf(instanceId))!.inspect();
  return { id: inspect.Id, startedAt: inspect.State.StartedAt, restartCount: inspect.RestartCount, running: inspect.State.Running };
}

describe('container labels hold no secrets, and recovery still works (real Docker)', () => {
  let leader: FakeLeader;
  let executor: RunningExecutor | undefined;
  let port = 0;
  const executorId = () => executorIdOf('localhost', port);
  const start = () => startTestExecutor(leader, { server: { host: '127.0.0.1', port, hostname: 'localhost' }, options: executorConfigInput(leader.url).options });
  let current: LocalServiceInstanceSpec;

  beforeAll(async () => {
    ensureImage();
    leader = await new FakeLeader().start();
    port = await freePort();
    executor = await start();
  });
  afterAll(async () => {
    await executor?.stop();
    await removeContainersOf(executorId());
    await leader?.stop();
  });

  it('an instance started now: docker inspect shows no env value, token or config contents in any label', async () => {
    current = itSpec({
      env: { DB_PASSWORD: SECRETS.env },
      configs: [{ type: 'INLINE', localFilename: '/www/files/secret.conf', data: SECRETS.inline }],
      instanceAuthToken: SECRETS.token,
    });
    expect(await startInstance(executor!, current)).toMatchObject({ status: 'ACCEPTED' });
    await leader.waitForState(current.instanceId, 'HEALTHY');
    const labels = (await (await containerOf(current.instanceId))!.inspect()).Config.Labels;
    const text = JSON.stringify(labels);
    for (const secret of Object.values(SECRETS)) expect(text).not.toContain(secret);
    expect(labels['drove.instance.spec']).toBeUndefined();
    expect(Object.keys(JSON.parse(labels['drove.instance.recovery']!)).sort()).toEqual(
      ['executable', 'healthcheck', 'hostLevelInstance', 'instanceId', 'ports', 'readiness', 'resources', 'serviceId', 'serviceName'],
    );
  });

  it('after an executor restart the instance, and one made by the previous version (old label), are re-adopted without restart', async () => {
    await executor!.stop({ leaveContainers: true });
    executor = undefined;
    const old = await previousVersionContainer(executorId());
    const before = [await containerState(current.instanceId), await containerState(old.instanceId)];
    const mark = leader.messages.length;

    executor = await start();
    for (const id of [current.instanceId, old.instanceId]) {
      await leader.waitForState(id, 'UNKNOWN');
      await waitForReportAfter(leader, mark, id, 'HEALTHY');
    }
    expect([await containerState(current.instanceId), await containerState(old.instanceId)]).toEqual(before);
    expect(before.every((s) => s.running && s.restartCount === 0)).toBe(true);
    expect(leader.reports(old.instanceId).map((r) => r.state)).toEqual(['UNKNOWN', 'UNREADY', 'READY', 'HEALTHY']);
  });

  /** A running container labelled as the previous executor version did: the full spec, secrets included. */
  async function previousVersionContainer(ownerId: string): Promise<LocalServiceInstanceSpec> {
    const spec = itSpec({ instanceId: newInstanceId(), env: { DB_PASSWORD: SECRETS.env }, instanceAuthToken: SECRETS.token });
    const hostPort = await freePort();
    const info = instanceInfo({
      serviceId: spec.serviceId,
      serviceName: spec.serviceName,
      instanceId: spec.instanceId,
      executorId: ownerId,
      localInfo: { hostname: 'localhost', ports: { main: { containerPort: 8000, hostPort, portType: 'HTTP' } } },
      resources: [{ type: 'CPU', cores: { '0': [7] } }, { type: 'MEMORY', memoryInMB: { '0': 32 } }],
      state: 'UNREADY',
      updated: Date.now(),
    });
    const container = await docker.createContainer({
      name: `${spec.serviceId}-${spec.instanceId}`,
      Image: IMAGE,
      Env: [`DB_PASSWORD=${SECRETS.env}`, `DROVE_APP_INSTANCE_AUTH_TOKEN=${SECRETS.token}`],
      Labels: {
        'drove.job.type': 'LOCAL_SERVICE',
        'drove.instance.id': spec.instanceId,
        'drove.executor.id': ownerId,
        'drove.instance.spec': JSON.stringify({ ...spec, resources: info.resources }),
        'drove.instance.info': JSON.stringify(info),
      },
      ExposedPorts: { '8000/tcp': {} },
      HostConfig: { PortBindings: { '8000/tcp': [{ HostPort: String(hostPort) }] } },
    });
    await container.start();
    return spec;
  }
});

async function waitForReportAfter(leader: FakeLeader, mark: number, instanceId: string, state: string): Promise<void> {
  await waitUntil(
    `${instanceId} ${state} after the restart`,
    () =>
      leader.messages.slice(mark).some((m) =>
        (m.type === 'LOCAL_SERVICE_INSTANCE_STATE_REPORT' && m.instanceInfo.instanceId === instanceId && m.instanceInfo.state === state) ||
        (m.type === 'LOCAL_SERVICE_INSTANCE_STATE_REPORTS' && m.instanceInfos.some((i) => i.instanceId === instanceId && i.state === state)),
      ),
    { detail: () => `states seen: ${leader.states(instanceId).join(',')}` },
  );
}
