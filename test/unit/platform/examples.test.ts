import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadControllerConfig } from '../../../src/controller/config.js';
import { loadExecutorConfig } from '../../../src/executor/config.js';
import { validateSpec } from '../../../src/controller/engine/validator.js';
import { ControllerOptionsSchema } from '../../../src/controller/config.js';
import { LocalServiceSpecSchema } from '../../../src/model/index.js';

/** The shipped examples must stay loadable as the code evolves: README and users copy them verbatim. */
const examples = join(import.meta.dirname, '..', '..', '..', 'examples');

function spec(file: string) {
  return LocalServiceSpecSchema.parse(JSON.parse(readFileSync(join(examples, file), 'utf8')));
}

describe('examples', () => {
  it('node-agent.json is a valid local service on the offline test image with HTTP checks and a pre-stop hook', () => {
    const parsed = spec('node-agent.json');
    expect(`${parsed.name}-${parsed.version}`).toBe('NODE_EXPORTER-1');
    expect(parsed.executable.url).toBe('drove-ts/httpd:1');
    expect(parsed.exposedPorts).toEqual([{ name: 'main', port: 8000, type: 'HTTP' }]);
    expect(parsed.placementPolicy).toMatchObject({ type: 'LOCAL', hostLevel: false });
    for (const check of [parsed.healthcheck, parsed.readiness]) {
      expect(check.mode).toMatchObject({ type: 'HTTP', portName: 'main', path: '/cgi-bin/health' });
    }
    expect(parsed.preShutdown?.hooks?.[0]).toMatchObject({ type: 'HTTP', path: '/cgi-bin/prestop' });
    expect(parsed.configs?.[0]).toMatchObject({ type: 'INLINE' });
    expect(parsed.logging).toMatchObject({ type: 'LOCAL' });
    expect(parsed.resources).toEqual([
      { type: 'CPU', count: 1 },
      { type: 'MEMORY', sizeInMB: 64 },
    ]);
  });

  it('host-agent.json is a host-level variant listening on its fixed port', () => {
    const parsed = spec('host-agent.json');
    expect(parsed.placementPolicy).toMatchObject({ type: 'LOCAL', hostLevel: true });
    expect(parsed.env?.HTTP_PORT).toBe(String(parsed.exposedPorts[0]!.port));
  });

  it('node-exporter.json runs the real node_exporter host-level, on the host network and PID namespace, host filesystems read-only', () => {
    const parsed = spec('node-exporter.json');
    expect(`${parsed.name}-${parsed.version}`).toBe('PROMETHEUS_NODE_EXPORTER-1');
    expect(parsed.executable.url).toBe('drove-ts/node-exporter:1');
    expect(parsed.placementPolicy).toMatchObject({ type: 'LOCAL', hostLevel: true });
    expect(parsed.hostAccess).toEqual({ network: true, pid: true, dropCapabilities: ['ALL'], readOnlyRootFilesystem: true });
    expect(parsed.exposedPorts).toEqual([{ name: 'metrics', port: 9100, type: 'HTTP' }]);
    expect(parsed.volumes).toEqual([
      { pathInContainer: '/host/proc', pathOnHost: '/proc', mode: 'READ_ONLY' },
      { pathInContainer: '/host/sys', pathOnHost: '/sys', mode: 'READ_ONLY' },
      { pathInContainer: '/host/root', pathOnHost: '/', mode: 'READ_ONLY' },
    ]);
    // The flags point node_exporter at the mounts above and at the port it is checked on.
    expect(parsed.args).toEqual(expect.arrayContaining(['--path.procfs=/host/proc', '--path.sysfs=/host/sys', '--path.rootfs=/host/root', '--web.listen-address=:9100']));
    for (const check of [parsed.healthcheck, parsed.readiness]) expect(check.mode).toMatchObject({ type: 'HTTP', portName: 'metrics', path: '/metrics' });
    // Valid once the README's two controller options are set, refused (naming them) without.
    expect(validateSpec(parsed, ControllerOptionsSchema.parse({ enableHostNetwork: true, enableHostPid: true }))).toEqual([]);
    expect(validateSpec(parsed, ControllerOptionsSchema.parse({}))).toEqual([
      'Host network access is disabled. To enable, set enableHostNetwork: true in controller options.',
      'Host PID namespace access is disabled. To enable, set enableHostPid: true in controller options.',
    ]);
  });

  it('gpu-agent.json runs only on executors tagged gpu (docs/design/placement.md#tag-constraints), valid with default options', () => {
    const parsed = spec('gpu-agent.json');
    expect(`${parsed.name}-${parsed.version}`).toBe('GPU_AGENT-1');
    expect(parsed.executable.url).toBe('drove-ts/httpd:1');
    expect(parsed.placementPolicy).toEqual({
      type: 'COMPOSITE',
      combiner: 'AND',
      policies: [
        { type: 'LOCAL', hostLevel: false },
        { type: 'MATCH_TAG', tag: 'gpu' },
      ],
    });
    expect(validateSpec(parsed, ControllerOptionsSchema.parse({}))).toEqual([]);
  });

  it('controller.yml loads with user auth, distinct cluster secrets and the documented options', () => {
    const config = loadControllerConfig(join(examples, 'controller.yml'));
    expect(config.userAuth?.users.map((u) => `${u.username}:${u.role}`)).toEqual([
      'admin:EXTERNAL_READ_WRITE',
      'guest:EXTERNAL_READ_ONLY',
    ]);
    const secrets = config.clusterAuth.secrets.map((s) => s.secret);
    expect(new Set(secrets).size).toBe(secrets.length);
    expect(config.options.staleExecutorAge).toBe('45 seconds');
    expect(config.store.type).toBe('sqlite');
    expect(config.options).toMatchObject({ enableHostNetwork: false, enableHostPid: false, enablePrivilegedContainers: false, allowedCapabilities: [] });
    expect(config.monitoring).toEqual({ bearerToken: 'change-me-metrics-token' });
  });

  it('executor.yml loads and shares the controller secrets', () => {
    const executor = loadExecutorConfig(join(examples, 'executor.yml'));
    const controller = loadControllerConfig(join(examples, 'controller.yml'));
    expect(executor.clusterAuth.secrets).toEqual(controller.clusterAuth.secrets);
    expect(executor.controllers).toEqual(['http://controller-1:10000']);
    expect(executor.resources.osCores).toEqual([0]);
    expect(executor.options).toMatchObject({ enableHostNetwork: false, enableHostPid: false, enablePrivilegedContainers: false, allowedCapabilities: [] });
    expect(executor.monitoring).toEqual({ bearerToken: 'change-me-metrics-token' });
    expect(executor.options.containerStatsInterval).toBe('30 seconds');
  });
});
