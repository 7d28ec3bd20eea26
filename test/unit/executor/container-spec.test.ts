import { describe, expect, it } from 'vitest';
import { buildContainerSpec, containerEnv, logDriver } from '../../../src/executor/instances/container-spec.js';
import type { ContainerContext } from '../../../src/executor/instances/container-spec.js';
import { instanceSpec } from './fakes.js';
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

  it('maps LoggingSpec to Docker log drivers', () => {
    expect(logDriver(undefined, 'SI-1')).toEqual({
      type: 'json-file',
      config: { 'max-size': '10m', 'max-file': '3', mode: 'non-blocking', 'max-buffer-size': '10m', compress: 'true' },
    });
    expect(logDriver({ type: 'LOCAL', maxSize: '1m', maxFiles: 1, compress: true }, 'SI-1').config.compress).toBeUndefined();
    expect(logDriver({ type: 'RSYSLOG', server: 'log:514', tagPrefix: 'p-', tagSuffix: '-s' }, 'SI-1')).toEqual({
      type: 'syslog',
      config: { 'syslog-address': 'udp://log:514', tag: 'p-SI-1-s', 'syslog-facility': 'daemon' },
    });
  });
});
