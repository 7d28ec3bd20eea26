import { describe, expect, it } from 'vitest';
import { parseExecutorConfig } from '../../../src/executor/config.js';
import { hostAccessRefusal, type HostAccessPolicy } from '../../../src/executor/instances/host-access.js';
import { InstanceStateMachine } from '../../../src/executor/instances/instance.js';
import type { LocalServiceInstanceInfo } from '../../../src/model/instance.js';
import type { ManualClock } from '../../../src/model/clock.js';
import { TEST_IMAGE, instanceDeps, instanceSpec } from './fakes.js';

/** The executor's own consent to `hostAccess` (docs/host-access.md), and what it applies and reports. */

const NOTHING: HostAccessPolicy = { enableHostNetwork: false, enableHostPid: false, enablePrivilegedContainers: false, allowedCapabilities: [] };
const EVERYTHING: HostAccessPolicy = { enableHostNetwork: true, enableHostPid: true, enablePrivilegedContainers: true, allowedCapabilities: ['ALL'] };

async function until(clock: ManualClock, condition: () => boolean, maxMs = 60_000): Promise<void> {
  for (let t = 0; t <= maxMs; t += 100) {
    if (condition()) return;
    await clock.advance(100);
  }
  throw new Error('condition not reached');
}

describe('hostAccessRefusal', () => {
  it('names the executor option each privilege needs', () => {
    expect(hostAccessRefusal({ hostAccess: { network: true } }, NOTHING)).toBe(
      'Host network refused by this executor: options.enableHostNetwork is not set',
    );
    expect(hostAccessRefusal({ hostAccess: { pid: true } }, NOTHING)).toBe(
      'Host PID namespace refused by this executor: options.enableHostPid is not set',
    );
    expect(hostAccessRefusal({ hostAccess: { privileged: true } }, NOTHING)).toBe(
      'Privileged mode refused by this executor: options.enablePrivilegedContainers is not set',
    );
    expect(hostAccessRefusal({ hostAccess: { addCapabilities: ['NET_ADMIN', 'SYS_TIME'] } }, { ...NOTHING, allowedCapabilities: ['NET_ADMIN'] })).toBe(
      'Capabilities refused by this executor: SYS_TIME not in options.allowedCapabilities [NET_ADMIN]',
    );
  });

  it('allows what this host enables, and what only takes away', () => {
    const all = { network: true, pid: true, privileged: true, addCapabilities: ['SYS_ADMIN' as const], dropCapabilities: ['ALL' as const] };
    expect(hostAccessRefusal({ hostAccess: all }, EVERYTHING)).toBeUndefined();
    expect(hostAccessRefusal({ hostAccess: { dropCapabilities: ['ALL'], readOnlyRootFilesystem: true } }, NOTHING)).toBeUndefined();
    expect(hostAccessRefusal({}, NOTHING)).toBeUndefined();
  });

  it('reads the policy from executor options, off by default, capability names normalized', () => {
    const base = { controllers: ['http://c:1'], clusterAuth: { secrets: [{ nodeType: 'CONTROLLER', secret: 's' }] } };
    expect(parseExecutorConfig(base).options).toMatchObject(NOTHING);
    const on = parseExecutorConfig({ ...base, options: { enableHostNetwork: true, enableHostPid: true, allowedCapabilities: ['cap_net_raw'] } });
    expect(on.options).toMatchObject({ enableHostNetwork: true, enableHostPid: true, enablePrivilegedContainers: false, allowedCapabilities: ['NET_RAW'] });
    expect(() => parseExecutorConfig({ ...base, options: { allowedCapabilities: ['CAP_NONSENSE'] } })).toThrow(
      'Invalid executor config: options.allowedCapabilities.0 - "CAP_NONSENSE" must be a Linux capability such as NET_ADMIN or CAP_NET_ADMIN (capabilities(7)), or ALL',
    );
  });
});

describe('instance with hostAccess', () => {
  function setup(hostAccess: HostAccessPolicy, specOverrides = {}) {
    const deps = instanceDeps({ hostAccess });
    deps.runtime.images.add(TEST_IMAGE);
    const spec = instanceSpec(specOverrides);
    const reports: LocalServiceInstanceInfo[] = [];
    deps.resources.lock(spec.instanceId, spec.resources);
    const sm = new InstanceStateMachine(spec, deps, (i) => reports.push(i));
    return { deps, spec, sm, reports };
  }

  it('is START_FAILED with the reason, and no container is created, when this host does not allow it', async () => {
    const { deps, sm, reports } = setup(NOTHING, { hostLevelInstance: true, hostAccess: { network: true } });
    void sm.run();
    await until(deps.clock, () => sm.state === 'STOPPED' || sm.state === 'HEALTHY');
    expect(reports.map((r) => r.state)).toEqual(['PENDING', 'PROVISIONING', 'STARTING', 'START_FAILED', 'DEPROVISIONING', 'STOPPED']);
    expect(reports.at(-1)!.errorMessage).toBe('Host network refused by this executor: options.enableHostNetwork is not set');
    expect(deps.runtime.calls.filter((c) => c.startsWith('create'))).toEqual([]);
  });

  it('on the host network binds its own port numbers, even when the sender did not say host level, and reports what it applied', async () => {
    const hostAccess = { network: true, pid: true, dropCapabilities: ['ALL' as const], addCapabilities: [] };
    const { deps, sm, reports } = setup(EVERYTHING, { hostLevelInstance: false, hostAccess });
    void sm.run();
    await until(deps.clock, () => sm.state === 'HEALTHY');
    const healthy = reports.at(-1)!;
    expect(healthy.localInfo!.ports.main).toEqual({ containerPort: 8000, hostPort: 8000, portType: 'HTTP' });
    // Only the fields that ask for something: the empty list is left out.
    expect(healthy.hostAccess).toEqual({ network: true, pid: true, dropCapabilities: ['ALL'] });
    const container = [...deps.runtime.containers.values()][0]!.spec;
    expect(container).toMatchObject({ hostNetwork: true, hostPid: true, capDrop: ['ALL'], ports: [] });
    expect(JSON.parse(container.labels['drove.instance.info']!).hostAccess).toEqual({ network: true, pid: true, dropCapabilities: ['ALL'] });
  });

  it('reports no hostAccess field for an instance without it (Drove record shape)', async () => {
    const { deps, sm, reports } = setup(NOTHING);
    void sm.run();
    await until(deps.clock, () => sm.state === 'HEALTHY');
    expect(reports.every((r) => !('hostAccess' in r))).toBe(true);
  });
});
