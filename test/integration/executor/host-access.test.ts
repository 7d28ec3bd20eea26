import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../../src/executor/server.js';
import { buildContainerSpec } from '../../../src/executor/instances/container-spec.js';
import { DockerRuntime } from '../../../src/executor/runtime/docker.js';
import { TEST_CONTAINER_OPTIONS } from '../../unit/executor/fakes.js';
import { containerOf, docker, httpGet, itSpec, startInstance, stopInstance, useTestExecutor } from '../../support/executor-harness.js';
import { waitUntil } from '../../support/wait.js';

/**
 * hostAccess on real Docker (docs/host-access.md): each field reaches HostConfig (`docker inspect`) and has its
 * effect inside the container; the instance record reports what was applied.
 */
const fixture = useTestExecutor({
  options: { enableHostNetwork: true, enableHostPid: true, enablePrivilegedContainers: true, allowedCapabilities: ['NET_ADMIN'] },
});

/** stdout of a command run in the container, and its exit code. */
async function run(container: Docker.Container, script: string): Promise<{ code: number; out: string }> {
  const exec = await container.exec({ Cmd: ['sh', '-c', script], AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({});
  const out = await new Promise<string>((resolve) => {
    let text = '';
    stream.on('data', (c: Buffer) => (text += c.toString('latin1')));
    stream.on('end', () => resolve(text));
  });
  return { code: (await exec.inspect()).ExitCode ?? -1, out };
}

/** The effective capability set of the container's processes (CapEff of /proc/self/status). */
async function effectiveCapabilities(container: Docker.Container): Promise<bigint> {
  const { out } = await run(container, 'grep CapEff /proc/self/status');
  return BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(out)![1]}`);
}
const bit = (n: number) => 1n << BigInt(n);
/** capabilities(7) numbers. */
const CAP_NET_ADMIN = 12;
const CAP_MKNOD = 27;

/**
 * PRIVILEGED_CANNOT_START: runc cannot start a privileged container on a machine whose own capability bounding set
 * lacks a capability (`docker run --privileged` fails with "unable to apply caps: operation not permitted"). The
 * sandboxed machines these tests run on have CapBnd 000001fffeffffff (no CAP_SYS_RESOURCE), so the privileged
 * container is created and inspected, not started.
 */

describe('hostAccess on Docker', () => {
  it('host network, host PID, added and dropped capabilities and a read-only root filesystem', async () => {
    const port = await freePort();
    const spec = itSpec({
      hostLevelInstance: true,
      ports: [{ name: 'main', port, type: 'HTTP' }],
      // busybox httpd listens where start.sh says: on the host network that is the host's port itself.
      env: { HTTP_PORT: String(port) },
      configs: [],
      hostAccess: { network: true, pid: true, addCapabilities: ['NET_ADMIN'], dropCapabilities: ['MKNOD'], readOnlyRootFilesystem: true },
    });
    await startInstance(fixture.executor, spec);
    const healthy = await fixture.leader.waitForState(spec.instanceId, 'HEALTHY');
    expect(healthy.localInfo!.ports.main).toEqual({ containerPort: port, hostPort: port, portType: 'HTTP' });
    expect(healthy.hostAccess).toEqual({
      network: true,
      pid: true,
      addCapabilities: ['NET_ADMIN'],
      dropCapabilities: ['MKNOD'],
      readOnlyRootFilesystem: true,
    });

    const container = (await containerOf(spec.instanceId))!;
    const inspect = await container.inspect();
    expect(inspect.HostConfig.NetworkMode).toBe('host');
    expect(inspect.HostConfig.PidMode).toBe('host');
    expect(inspect.HostConfig.CapAdd).toEqual(['CAP_NET_ADMIN']);
    expect(inspect.HostConfig.CapDrop).toEqual(['CAP_MKNOD']);
    expect(inspect.HostConfig.ReadonlyRootfs).toBe(true);
    expect(inspect.HostConfig.Privileged).toBe(false);
    expect(inspect.HostConfig.PortBindings ?? {}).toEqual({});

    // Nothing is published, yet the host's own port answers: the process is on the host's network.
    expect((await httpGet(port, '/health')).body.trim()).toBe('ok');
    expect((await httpGet(port, '/cgi-bin/env')).body).toContain(`PORT_${port}=${port}`);
    // The host's PID namespace: this test process is visible from inside.
    expect((await run(container, `test -d /proc/${process.pid}`)).code).toBe(0);
    const caps = await effectiveCapabilities(container);
    expect(caps & bit(CAP_NET_ADMIN)).toBe(bit(CAP_NET_ADMIN));
    expect(caps & bit(CAP_MKNOD)).toBe(0n);
    expect((await run(container, 'touch /written 2>&1')).out).toContain('Read-only file system');

    await stopInstance(fixture.executor, spec.instanceId);
    await fixture.leader.waitForState(spec.instanceId, 'STOPPED');
  });

  it('privileged mode reaches HostConfig (created, not started: see PRIVILEGED_CANNOT_START)', async () => {
    const runtime = new DockerRuntime();
    const spec = itSpec({ hostAccess: { privileged: true } });
    const id = await runtime.createContainer(
      buildContainerSpec(spec, {
        hostname: 'localhost',
        executorId: fixture.executor.executorId,
        hostPorts: { main: await freePort() },
        physicalCores: [],
        numaPinning: false,
        executorEnv: {},
        containerOptions: TEST_CONTAINER_OPTIONS,
        info: { serviceId: spec.serviceId, serviceName: spec.serviceName, instanceId: spec.instanceId, executorId: fixture.executor.executorId, resources: [], state: 'UNREADY', metadata: {}, errorMessage: '', created: 0, updated: 0 },
      }),
    );
    try {
      const inspect = await docker.getContainer(id).inspect();
      expect(inspect.HostConfig.Privileged).toBe(true);
      expect(inspect.HostConfig.NetworkMode).not.toBe('host');
      expect(inspect.HostConfig.PidMode).toBe('');
      expect(inspect.HostConfig.ReadonlyRootfs).toBe(false);
      expect(Object.keys(inspect.HostConfig.PortBindings ?? {})).toEqual(['8000/tcp']);
    } finally {
      await runtime.removeContainer(id);
    }
  });

  it('refuses a capability this executor does not allow: START_FAILED, no container', async () => {
    const spec = itSpec({ hostAccess: { addCapabilities: ['SYS_ADMIN'] } });
    await startInstance(fixture.executor, spec);
    // Either outcome ends the wait: a start that is not refused fails here at once, not after a timeout.
    const failed = await waitUntil('START_FAILED or HEALTHY', () =>
      fixture.leader.reports(spec.instanceId).find((i) => i.state === 'START_FAILED' || i.state === 'HEALTHY'),
    );
    expect(failed.state).toBe('START_FAILED');
    expect(failed.errorMessage).toBe('Capabilities refused by this executor: SYS_ADMIN not in options.allowedCapabilities [NET_ADMIN]');
    await fixture.leader.waitForState(spec.instanceId, 'STOPPED');
    expect(await containerOf(spec.instanceId)).toBeUndefined();
  });
});
