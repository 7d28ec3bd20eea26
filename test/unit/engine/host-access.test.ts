import { describe, expect, it } from 'vitest';
import { ControllerOptionsSchema } from '../../../src/controller/config.js';
import { validateOperation, validateSpec, type OperationValidationContext } from '../../../src/controller/engine/validator.js';
import {
  LocalServiceSpecSchema,
  type LocalServiceInfo,
  type LocalServiceInstanceInfo,
  type LocalServiceOperation,
  type LocalServiceSpec,
  type LocalServiceState,
} from '../../../src/model/index.js';
import { testSpec } from '../../support/specs.js';
import { harness } from '../../support/engine-harness.js';

/** The validator rules of `hostAccess` (docs/host-access.md): literal texts, each option, the fixed-port rule. */

const options = (o: Record<string, unknown> = {}) => ControllerOptionsSchema.parse(o);
const ALL_ON = { enableHostNetwork: true, enableHostPid: true, enablePrivilegedContainers: true, allowedCapabilities: ['ALL'] };

/** A host-level spec (host network needs it), without configs unless given. */
function agent(hostAccess: LocalServiceSpec['hostAccess'], overrides: Partial<LocalServiceSpec> = {}): LocalServiceSpec {
  return testSpec({ placementPolicy: { type: 'LOCAL', hostLevel: true }, configs: [], hostAccess, ...overrides });
}

describe('hostAccess spec rules', () => {
  it('refuses host network unless enableHostNetwork is set', () => {
    const spec = agent({ network: true });
    expect(validateSpec(spec, options())).toEqual([
      'Host network access is disabled. To enable, set enableHostNetwork: true in controller options.',
    ]);
    expect(validateSpec(spec, options({ enableHostNetwork: true }))).toEqual([]);
  });

  it('host network needs a host level service', () => {
    const spec = agent({ network: true }, { placementPolicy: { type: 'LOCAL', hostLevel: false } });
    expect(validateSpec(spec, options({ enableHostNetwork: true }))).toEqual([
      'Host network needs a host level service: set placementPolicy.hostLevel to true',
    ]);
  });

  it('refuses host PID unless enableHostPid is set', () => {
    const spec = agent({ pid: true });
    expect(validateSpec(spec, options())).toEqual([
      'Host PID namespace access is disabled. To enable, set enableHostPid: true in controller options.',
    ]);
    expect(validateSpec(spec, options({ enableHostPid: true }))).toEqual([]);
  });

  it('refuses privileged containers unless enablePrivilegedContainers is set', () => {
    const spec = agent({ privileged: true });
    expect(validateSpec(spec, options())).toEqual([
      'Privileged containers are disabled. To enable, set enablePrivilegedContainers: true in controller options.',
    ]);
    expect(validateSpec(spec, options({ enablePrivilegedContainers: true }))).toEqual([]);
  });

  it('refuses added capabilities not in allowedCapabilities, naming them', () => {
    const spec = agent({ addCapabilities: ['NET_ADMIN', 'SYS_TIME'] });
    expect(validateSpec(spec, options())).toEqual([
      'Adding capabilities is disabled. To enable, list the capabilities services may add in allowedCapabilities in controller options: NET_ADMIN, SYS_TIME',
    ]);
    expect(validateSpec(spec, options({ allowedCapabilities: ['cap_net_admin'] }))).toEqual([
      'Capabilities not in allowedCapabilities of controller options: SYS_TIME',
    ]);
    expect(validateSpec(spec, options({ allowedCapabilities: ['NET_ADMIN', 'CAP_SYS_TIME'] }))).toEqual([]);
    expect(validateSpec(spec, options({ allowedCapabilities: ['ALL'] }))).toEqual([]);
    // Adding ALL is as much as privileged: only an allow-list with ALL covers it.
    expect(validateSpec(agent({ addCapabilities: ['ALL'] }), options({ allowedCapabilities: ['NET_ADMIN'] }))).toEqual([
      'Capabilities not in allowedCapabilities of controller options: ALL',
    ]);
  });

  it('always allows what only takes away: dropped capabilities and a read-only root filesystem', () => {
    expect(validateSpec(agent({ dropCapabilities: ['ALL'], readOnlyRootFilesystem: true }), options())).toEqual([]);
  });

  it('refuses configs with a read-only root filesystem (Docker cannot write them there)', () => {
    const spec = agent({ readOnlyRootFilesystem: true }, { configs: [{ type: 'INLINE', localFilename: '/x', data: 'eA==' }] });
    expect(validateSpec(spec, options())).toEqual([
      'Config files cannot be written into a read-only root filesystem: remove hostAccess.readOnlyRootFilesystem or the configs',
    ]);
  });

  it('false fields ask for nothing, and the rules come after Drove rules', () => {
    expect(validateSpec(agent({ network: false, pid: false, privileged: false, addCapabilities: [] }), options())).toEqual([]);
    const spec = agent({ privileged: true, network: true }, { resources: [{ type: 'CPU', count: 1 }] });
    expect(validateSpec(spec, options())).toEqual([
      'Memory requirements are mandatory',
      'Host network access is disabled. To enable, set enableHostNetwork: true in controller options.',
      'Privileged containers are disabled. To enable, set enablePrivilegedContainers: true in controller options.',
    ]);
  });

  it('CREATE refuses the spec with the same texts', () => {
    const op: LocalServiceOperation = { type: 'CREATE', spec: agent({ pid: true }), instancesPerHost: 1 };
    expect(validateOperation(op, context([], options()))).toEqual([
      'Host PID namespace access is disabled. To enable, set enableHostPid: true in controller options.',
    ]);
    expect(validateOperation(op, context([], options(ALL_ON)))).toEqual([]);
  });
});

describe('hostAccess schema', () => {
  const parse = (hostAccess: unknown) => LocalServiceSpecSchema.safeParse({ ...agent(undefined), hostAccess });

  it('normalizes capability names: CAP_ prefix optional, any case', () => {
    const result = parse({ addCapabilities: ['cap_net_admin', 'Sys_Time'], dropCapabilities: ['all', 'CAP_MKNOD'] });
    expect(result.success && result.data.hostAccess).toEqual({ addCapabilities: ['NET_ADMIN', 'SYS_TIME'], dropCapabilities: ['ALL', 'MKNOD'] });
  });

  it('refuses an unknown capability, naming the field and the rule', () => {
    const result = parse({ addCapabilities: ['NET_ADMIN', 'CAP_WIZARD'] });
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((i) => `${i.path.join('.')} ${i.message}`)).toEqual([
      'hostAccess.addCapabilities.1 - "CAP_WIZARD" must be a Linux capability such as NET_ADMIN or CAP_NET_ADMIN (capabilities(7)), or ALL',
    ]);
  });

  it('refuses a field of the wrong type', () => {
    const result = parse({ network: 'yes' });
    expect(result.success).toBe(false);
    expect(result.error!.issues[0]!.path).toEqual(['hostAccess', 'network']);
  });

  it('controller options refuse an unknown capability too', () => {
    const refused = ControllerOptionsSchema.safeParse({ allowedCapabilities: ['NOPE'] });
    expect(refused.error?.issues.map((i) => i.message)).toEqual([
      '- "NOPE" must be a Linux capability such as NET_ADMIN or CAP_NET_ADMIN (capabilities(7)), or ALL',
    ]);
    expect(ControllerOptionsSchema.parse({ allowedCapabilities: ['cap_bpf'] }).allowedCapabilities).toEqual(['BPF']);
  });
});

// ---------------------------------------------------------------- fixed ports

interface Other {
  serviceId: string;
  spec: LocalServiceSpec;
  activationState?: LocalServiceInfo['activationState'];
  state?: LocalServiceState;
  pending?: LocalServiceOperation['type'];
  instanceStates?: LocalServiceInstanceInfo['state'][];
}

function context(services: Other[], opts = options(ALL_ON)): OperationValidationContext {
  const infos = services.map<LocalServiceInfo>((s) => ({
    serviceId: s.serviceId,
    spec: s.spec,
    instancesPerHost: 1,
    activationState: s.activationState ?? 'INACTIVE',
    created: 0,
    updated: 0,
  }));
  const find = (id: string) => services.find((s) => s.serviceId === id);
  return {
    options: opts,
    stateOf: (id) => {
      const s = find(id);
      return s ? (s.state ?? s.activationState ?? 'INACTIVE') : undefined;
    },
    service: (id) => infos.find((i) => i.serviceId === id),
    instance: () => undefined,
    services: () => infos,
    pendingOperation: (id) => find(id)?.pending,
    instances: (id) =>
      (find(id)?.instanceStates ?? []).map(
        (state, n) =>
          ({ serviceId: id, serviceName: 'S', instanceId: `SI-${n}`, executorId: 'E', resources: [], state, metadata: {}, errorMessage: '', created: 0, updated: 0 }) as LocalServiceInstanceInfo,
      ),
  };
}

const port = (n: number, type: 'HTTP' | 'TCP' | 'UDP' = 'HTTP') => ({ exposedPorts: [{ name: 'main', port: n, type }] });
const hostNetwork = (n: number, type?: 'HTTP' | 'TCP' | 'UDP') => agent({ network: true }, port(n, type));
const hostLevel = (n: number, type?: 'HTTP' | 'TCP' | 'UDP') => agent(undefined, port(n, type));
const activate = (serviceId = 'NEW-1'): LocalServiceOperation => ({ type: 'ACTIVATE', serviceId });
const TAKEN = (other: string, p = '9100/tcp') =>
  `Port ${p} is already taken on the hosts by local service ${other}, which is not INACTIVE; deactivate it first (a host network service shares the host's ports)`;

describe('fixed ports of host network services', () => {
  it('ACTIVATE of a host network service is refused while an active service holds the same fixed port', () => {
    const services = [
      { serviceId: 'NEW-1', spec: hostNetwork(9100) },
      { serviceId: 'OLD-1', spec: hostLevel(9100), activationState: 'ACTIVE' as const },
    ];
    expect(validateOperation(activate(), context(services))).toEqual([TAKEN('OLD-1')]);
    expect(validateOperation({ type: 'DEPLOY_TEST_INSTANCE', serviceId: 'NEW-1' }, context(services))).toEqual([TAKEN('OLD-1')]);
  });

  it('applies both ways: a host level service meets an active host network service', () => {
    const services = [
      { serviceId: 'NEW-1', spec: hostLevel(9100) },
      { serviceId: 'OLD-1', spec: hostNetwork(9100), activationState: 'CONFIG_TESTING' as const },
    ];
    expect(validateOperation(activate(), context(services))).toEqual([TAKEN('OLD-1')]);
  });

  it('counts services about to run, and deactivated ones whose containers still exist', () => {
    const other = (extra: Partial<Other>) => [{ serviceId: 'NEW-1', spec: hostNetwork(9100) }, { serviceId: 'OLD-1', spec: hostNetwork(9100), ...extra }];
    expect(validateOperation(activate(), context(other({ pending: 'ACTIVATE' })))).toEqual([TAKEN('OLD-1')]);
    expect(validateOperation(activate(), context(other({ state: 'ACTIVATION_REQUESTED' })))).toEqual([TAKEN('OLD-1')]);
    expect(validateOperation(activate(), context(other({ instanceStates: ['STOPPED', 'STOPPING'] })))).toEqual([TAKEN('OLD-1')]);
    // INACTIVE with nothing left on the hosts (e.g. version 1 deactivated before version 2 is activated).
    expect(validateOperation(activate(), context(other({ instanceStates: ['STOPPED', 'LOST'], pending: 'DESTROY' })))).toEqual([]);
  });

  it('tells TCP from UDP and different numbers apart', () => {
    const tcp = [{ serviceId: 'NEW-1', spec: hostNetwork(53, 'TCP') }, { serviceId: 'OLD-1', spec: hostNetwork(53, 'UDP'), activationState: 'ACTIVE' as const }];
    expect(validateOperation(activate(), context(tcp))).toEqual([]);
    const udp = [{ serviceId: 'NEW-1', spec: hostNetwork(53, 'UDP') }, { serviceId: 'OLD-1', spec: hostLevel(53, 'UDP'), activationState: 'ACTIVE' as const }];
    expect(validateOperation(activate(), context(udp))).toEqual([TAKEN('OLD-1', '53/udp')]);
    const other = [{ serviceId: 'NEW-1', spec: hostNetwork(9100) }, { serviceId: 'OLD-1', spec: hostNetwork(9101), activationState: 'ACTIVE' as const }];
    expect(validateOperation(activate(), context(other))).toEqual([]);
  });

  it('leaves Drove specs as Drove has them: two host level services are not checked, nor random host ports', () => {
    const drove = [{ serviceId: 'NEW-1', spec: hostLevel(9100) }, { serviceId: 'OLD-1', spec: hostLevel(9100), activationState: 'ACTIVE' as const }];
    expect(validateOperation(activate(), context(drove))).toEqual([]);
    const random = testSpec({ configs: [], ...port(9100) });
    const mixed = [{ serviceId: 'NEW-1', spec: random }, { serviceId: 'OLD-1', spec: hostNetwork(9100), activationState: 'ACTIVE' as const }];
    expect(validateOperation(activate(), context(mixed))).toEqual([]);
  });
});

describe('fixed ports through the engine', () => {
  it('refuses ACTIVATE while the other service is active or activating, and accepts it once that one is INACTIVE', async () => {
    const h = await harness({ ...ALL_ON, reconcileInterval: '1 second' });
    try {
      await h.fleet.add('ex1.local', {});
      const old = { ...hostLevel(9100), name: 'OLD', version: '1' };
      const fresh = { ...hostNetwork(9100), name: 'NEW', version: '1' };
      await h.submit({ type: 'CREATE', spec: old, instancesPerHost: 1 });
      await h.submit({ type: 'CREATE', spec: fresh, instancesPerHost: 1 });
      await h.until(() => h.controller.serviceSummary('OLD-1')?.state === 'INACTIVE' && h.controller.serviceSummary('NEW-1')?.state === 'INACTIVE');
      // Side by side: the second is validated while OLD-1 is still INACTIVE with its ACTIVATE waiting in the slot.
      const [first, second] = await Promise.all([
        h.controller.submitOperation({ type: 'ACTIVATE', serviceId: 'OLD-1' }),
        h.controller.submitOperation(activate()),
      ]);
      expect(first).toEqual({ ok: true, serviceId: 'OLD-1' });
      expect(second).toEqual({ ok: false, errors: [TAKEN('OLD-1')] });
      await h.until(() => h.controller.serviceSummary('OLD-1')?.state === 'ACTIVE' && h.controller.serviceInstances('OLD-1', ['HEALTHY']).length === 1);
      expect(await h.controller.submitOperation(activate())).toEqual({ ok: false, errors: [TAKEN('OLD-1')] });
      await h.submit({ type: 'DEACTIVATE', serviceId: 'OLD-1' });
      await h.until(() => h.controller.serviceSummary('OLD-1')?.state === 'INACTIVE' && h.controller.serviceInstances('OLD-1').length === 0);
      expect(await h.controller.submitOperation(activate())).toEqual({ ok: true, serviceId: 'NEW-1' });
    } finally {
      await h.close();
    }
  });
});
