import {
  INSTANCE_LIVE_STATES,
  capabilitiesNotAllowed,
  isHostLevel,
  usesHostNetwork,
  type LocalServiceInfo,
  type LocalServiceInstanceInfo,
  type LocalServiceOperation,
  type LocalServiceSpec,
  type LocalServiceState,
} from '../../model/index.js';
import type { ControllerOptions } from '../config.js';

/**
 * Validator rules of the spec's `hostAccess` (docs/host-access.md). Every privilege is refused unless a controller
 * option enables it, with a text naming the option; what only takes away (dropCapabilities, a read-only root
 * filesystem) is always allowed. Texts are literal: clients and tests match on them.
 */

export type HostAccessOptions = Pick<
  ControllerOptions,
  'enableHostNetwork' | 'enableHostPid' | 'enablePrivilegedContainers' | 'allowedCapabilities'
>;

export function hostAccessErrors(spec: LocalServiceSpec, options: HostAccessOptions): string[] {
  const access = spec.hostAccess;
  if (!access) return [];
  const errors: string[] = [];
  if (access.network) {
    if (!options.enableHostNetwork) errors.push('Host network access is disabled. To enable, set enableHostNetwork: true in controller options.');
    // Its ports are the host's: a second instance on the host could never bind them, and a random host port
    // (hostLevel false) would mean nothing since nothing is published.
    if (!isHostLevel(spec)) errors.push('Host network needs a host level service: set placementPolicy.hostLevel to true');
  }
  if (access.pid && !options.enableHostPid) {
    errors.push('Host PID namespace access is disabled. To enable, set enableHostPid: true in controller options.');
  }
  if (access.privileged && !options.enablePrivilegedContainers) {
    errors.push('Privileged containers are disabled. To enable, set enablePrivilegedContainers: true in controller options.');
  }
  const refused = capabilitiesNotAllowed(access.addCapabilities ?? [], options.allowedCapabilities);
  if (refused.length > 0) {
    errors.push(
      options.allowedCapabilities.length === 0
        ? `Adding capabilities is disabled. To enable, list the capabilities services may add in allowedCapabilities in controller options: ${refused.join(', ')}`
        : `Capabilities not in allowedCapabilities of controller options: ${refused.join(', ')}`,
    );
  }
  // Docker refuses to copy files into a read-only root filesystem ("container rootfs is marked read-only"), so the
  // start would fail on every host: say it at create time.
  if (access.readOnlyRootFilesystem && (spec.configs?.length ?? 0) > 0) {
    errors.push('Config files cannot be written into a read-only root filesystem: remove hostAccess.readOnlyRootFilesystem or the configs');
  }
  return errors;
}

/** What the port rule needs to know about the other services. */
export interface FixedPortContext {
  services(): readonly LocalServiceInfo[];
  stateOf(serviceId: string): LocalServiceState | undefined;
  pendingOperation(serviceId: string): LocalServiceOperation['type'] | undefined;
  instances(serviceId: string): readonly LocalServiceInstanceInfo[];
}

/**
 * ACTIVATE and DEPLOY_TEST_INSTANCE of a service whose fixed ports (host level or host network) meet a fixed port
 * of another service that may have containers on the hosts, when either of the two is on the host network.
 * Docker reports a clash of two published ports itself (the start fails with "port is already allocated"), so
 * Drove-shaped specs keep Drove's behaviour; a host-network process that cannot bind its port may go unnoticed,
 * its checks answered by the other service on the same port, so that case is refused up front.
 */
export function fixedPortClashes(serviceId: string, ctx: FixedPortContext): string[] {
  const self = ctx.services().find((s) => s.serviceId === serviceId);
  if (!self) return [];
  const mine = fixedPorts(self.spec);
  if (mine.size === 0) return [];
  const errors: string[] = [];
  for (const other of ctx.services()) {
    if (other.serviceId === serviceId) continue;
    if (!usesHostNetwork(self.spec) && !usesHostNetwork(other.spec)) continue;
    if (!mayHaveContainers(other, ctx)) continue;
    for (const port of fixedPorts(other.spec)) {
      if (mine.has(port)) {
        errors.push(`Port ${port} is already taken on the hosts by local service ${other.serviceId}, which is not INACTIVE; deactivate it first (a host network service shares the host's ports)`);
      }
    }
  }
  return errors;
}

/** `<port>/<tcp|udp>` of every port the service holds on each host under its own number. */
function fixedPorts(spec: LocalServiceSpec): Set<string> {
  if (!isHostLevel(spec) && !usesHostNetwork(spec)) return new Set();
  return new Set(spec.exposedPorts.map((p) => `${p.port}/${p.type === 'UDP' ? 'udp' : 'tcp'}`));
}

function mayHaveContainers(info: LocalServiceInfo, ctx: FixedPortContext): boolean {
  if (info.activationState !== 'INACTIVE') return true;
  const state = ctx.stateOf(info.serviceId);
  if (state === 'ACTIVATION_REQUESTED' || state === 'CONFIG_TESTING_REQUESTED') return true;
  const pending = ctx.pendingOperation(info.serviceId);
  if (pending === 'ACTIVATE' || pending === 'DEPLOY_TEST_INSTANCE') return true;
  // Deactivated, but containers still stopping (or re-adopted by a restarted executor).
  return ctx.instances(info.serviceId).some((i) => INSTANCE_LIVE_STATES.has(i.state));
}
