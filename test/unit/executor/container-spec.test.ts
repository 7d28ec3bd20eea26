import { describe, expect, it } from 'vitest';
import { buildContainerSpec, containerEnv, hasFixedPorts, logDriver, recoverySpec } from '../../../src/executor/instances/container-spec.js';
import type { ContainerContext } from '../../../src/executor/instances/container-spec.js';
import { TEST_CONTAINER_OPTIONS, instanceSpec } from './fakes.js';
import { instanceInfo } from '../../support/records.js';

function ctx(overrides: Partial<ContainerContext> = {}): ContainerContext {
  return {
    hostname: 'ex1',
    executorId: 'E1',
    hostPorts: { main: 41000 },
    physicalCores: [1],
    numaPinning: true,
    executorEnv: { FROM_EXECUTOR: 'yes' },
    maxOpenFiles: 470000,
    containerOptions: TEST_CONTAINER_OPTIONS,
    info: instanceInfo({ serviceId: 'S-1', instanceId: 'SI-1', state: 'UNREADY' }),
    ...overrides,
  };
}

describe('container spec', () => {
  it('builds env in Drove order, empty user values from the executor env', () => {
    const spec = instanceSpec({ instanceId: 'SI-1', env: { A: '1', FROM_EXECUTOR: '', NOT_SET: '' }, instanceAuthToken: 'jwt' });
    expect(containerEnv(spec, ctx())).toEqual([
      'HOST=ex1',
      'A=1',
      'FROM_EXECUTOR=yes',
      'DROVE_CONTAINER_ID=drove-ts/httpd:1',
      'PORT_8000=41000',
      'DROVE_EXECUTOR_HOST=ex1',
      'DROVE_SERVICE_ID=TEST_SPEC-00001',
      'DROVE_SERVICE_NAME=TEST_SPEC',
      'DROVE_SERVICE_INSTANCE_ID=SI-1',
      'DROVE_APP_INSTANCE_AUTH_TOKEN=jwt',
    ]);
  });

  it('maps resources, ports, volumes, devices, args, user and labels', () => {
    const spec = instanceSpec({
      instanceId: 'SI-1',
      resources: [{ type: 'CPU', cores: { '1': [5, 6] } }, { type: 'MEMORY', memoryInMB: { '1': 128 } }],
      volumes: [{ pathOnHost: '/data', pathInContainer: '/d', mode: 'READ_ONLY' }, { pathOnHost: '/x', pathInContainer: '', mode: 'READ_WRITE' }],
      devices: [
        { type: 'DIRECT', pathOnHost: '/dev/null', permissions: 'READ_ONLY' },
        { type: 'DETAILED', driver: 'nvidia', count: -1, capabilities: [['gpu']] },
      ],
      args: ['-p', '9000'],
      userSpec: { user: 'nobody', group: 'nogroup' },
      ports: [{ name: 'main', port: 8000, type: 'HTTP' }, { name: 'dns', port: 53, type: 'UDP' }],
    });
    const c = buildContainerSpec(spec, ctx({ physicalCores: [5, 6], hostPorts: { main: 41000, dns: 41001 } }));
    expect(c.name).toBe('TEST_SPEC-00001-SI-1');
    expect(c.cpusetCpus).toBe('5,6');
    expect(c.cpusetMems).toBe('1');
    expect(c.memoryBytes).toBe(128 * 2 ** 20);
    expect(c.ports).toEqual([
      { containerPort: 8000, hostPort: 41000, protocol: 'tcp' },
      { containerPort: 53, hostPort: 41001, protocol: 'udp' },
    ]);
    expect(c.binds).toEqual([
      { hostPath: '/data', containerPath: '/d', readOnly: true },
      { hostPath: '/x', containerPath: '/x', readOnly: false },
    ]);
    expect(c.devices).toEqual([{ pathOnHost: '/dev/null', pathInContainer: '/dev/null', cgroupPermissions: 'r' }]);
    expect(c.deviceRequests).toEqual([{ driver: 'nvidia', count: -1, capabilities: [['gpu']] }]);
    expect(c.cmd).toEqual(['-p', '9000']);
    expect(c.user).toBe('nobody:nogroup');
    expect(c.maxOpenFiles).toBe(470000);
    expect(c.labels['drove.job.type']).toBe('LOCAL_SERVICE');
    expect(c.labels['drove.executor.id']).toBe('E1');
    expect(JSON.parse(c.labels['drove.instance.info']!).instanceId).toBe('SI-1');
    expect(buildContainerSpec(spec, ctx({ numaPinning: false })).cpusetMems).toBeUndefined();
    expect(buildContainerSpec(instanceSpec(), ctx({ defaultUserSpec: { user: '65534' } })).user).toBe('65534');
  });

  it('maps LoggingSpec to Docker log drivers, both non-blocking with the executor\'s log buffer', () => {
    expect(logDriver(undefined, 'SI-1', TEST_CONTAINER_OPTIONS)).toEqual({
      type: 'json-file',
      config: { 'max-size': '10m', 'max-file': '3', mode: 'non-blocking', 'max-buffer-size': '10m', compress: 'true' },
    });
    expect(logDriver({ type: 'LOCAL', maxSize: '1m', maxFiles: 1, compress: true }, 'SI-1', TEST_CONTAINER_OPTIONS).config.compress).toBeUndefined();
    // Drove sets mode non-blocking and max-buffer-size on syslog too, with the dual-logging cache it is read back from.
    expect(logDriver({ type: 'RSYSLOG', server: 'log:514', tagPrefix: 'p-', tagSuffix: '-s' }, 'SI-1', TEST_CONTAINER_OPTIONS)).toEqual({
      type: 'syslog',
      config: {
        'syslog-address': 'udp://log:514',
        tag: 'p-SI-1-s',
        'syslog-facility': 'daemon',
        mode: 'non-blocking',
        'max-buffer-size': '10m',
        'cache-disabled': 'false',
        'cache-max-size': '20m',
        'cache-max-file': '3',
        'cache-compress': 'true',
      },
    });
  });

  it('maps hostAccess to host namespaces, privileges, capabilities and a read-only root filesystem', () => {
    const spec = instanceSpec({
      hostLevelInstance: true,
      hostAccess: {
        network: true,
        pid: true,
        privileged: true,
        addCapabilities: ['NET_ADMIN', 'SYS_TIME'],
        dropCapabilities: ['ALL'],
        readOnlyRootFilesystem: true,
      },
    });
    const c = buildContainerSpec(spec, ctx({ hostPorts: { main: 8000 } }));
    expect(c).toMatchObject({
      hostNetwork: true,
      hostPid: true,
      privileged: true,
      capAdd: ['NET_ADMIN', 'SYS_TIME'],
      capDrop: ['ALL'],
      readOnlyRootFilesystem: true,
    });
    // On the host network nothing is published: the process binds the host's port itself.
    expect(c.ports).toEqual([]);
    expect(c.env).toContain('PORT_8000=8000');
  });

  it('asks for nothing without hostAccess, or with fields that ask for nothing', () => {
    for (const hostAccess of [undefined, { network: false, pid: false, privileged: false, addCapabilities: [], dropCapabilities: [], readOnlyRootFilesystem: false }]) {
      const c = buildContainerSpec(instanceSpec(hostAccess ? { hostAccess } : {}), ctx());
      for (const field of ['hostNetwork', 'hostPid', 'privileged', 'capAdd', 'capDrop', 'readOnlyRootFilesystem']) expect(c).not.toHaveProperty(field);
      expect(c.ports).toEqual([{ containerPort: 8000, hostPort: 41000, protocol: 'tcp' }]);
    }
  });

  it('host level and host network instances bind their own port numbers', () => {
    expect(hasFixedPorts(instanceSpec())).toBe(false);
    expect(hasFixedPorts(instanceSpec({ hostLevelInstance: true }))).toBe(true);
    // Whatever the sender says about host level: on the host network the ports are the host's.
    expect(hasFixedPorts(instanceSpec({ hostAccess: { network: true } }))).toBe(true);
  });

  it('keeps hostAccess out of the recovery label (creation only; the instance info label reports it)', () => {
    expect(recoverySpec(instanceSpec({ hostAccess: { pid: true } }))).not.toHaveProperty('hostAccess');
  });

  it('takes the buffer and the cache sizes from the executor options (logBufferSize, cacheFileSize, cacheFileCount)', () => {
    const options = { ...TEST_CONTAINER_OPTIONS, logBufferMB: 5, logCacheFileMB: 64, logCacheFileCount: 7 };
    expect(logDriver(undefined, 'SI-1', options).config['max-buffer-size']).toBe('5m');
    const syslog = buildContainerSpec(
      instanceSpec({ loggingSpec: { type: 'RSYSLOG', server: 'tcp://log:601' } }),
      ctx({ containerOptions: options }),
    ).logging;
    expect(syslog.config).toMatchObject({ 'max-buffer-size': '5m', 'cache-max-size': '64m', 'cache-max-file': '7', 'syslog-address': 'tcp://log:601' });
    // json-file is read directly: Docker's cache would only be noise in its options.
    expect(buildContainerSpec(instanceSpec(), ctx({ containerOptions: options })).logging.config).not.toHaveProperty('cache-max-size');
  });

  it('gives every container all NVIDIA GPUs with enableNvidiaGpu, as `--gpus all` (Drove\'s request), after the spec\'s own', () => {
    const gpu = { ...TEST_CONTAINER_OPTIONS, enableNvidiaGpu: true };
    expect(buildContainerSpec(instanceSpec(), ctx({ containerOptions: gpu })).deviceRequests).toEqual([
      { driver: 'nvidia', count: -1, deviceIds: [], capabilities: [['gpu']] },
    ]);
    const own = instanceSpec({ devices: [{ type: 'DETAILED', driver: 'nvidia', deviceIds: ['0'], capabilities: [['compute']] }] });
    expect(buildContainerSpec(own, ctx({ containerOptions: gpu })).deviceRequests).toEqual([
      { driver: 'nvidia', deviceIds: ['0'], capabilities: [['compute']] },
      { driver: 'nvidia', count: -1, deviceIds: [], capabilities: [['gpu']] },
    ]);
    expect(buildContainerSpec(instanceSpec(), ctx()).deviceRequests).toEqual([]);
  });
});
