import type { LocalServiceInstanceSpec } from '../../model/executor.js';
import { capabilitiesNotAllowed, effectiveHostAccess } from '../../model/host-access.js';
import type { ExecutorOptions } from '../config.js';

/**
 * The executor's own check of the host namespaces and privileges an instance asks for (docs/host-access.md),
 * before its container is created: the controller validated the spec against its options, but this process holds
 * the Docker socket, and whoever holds the CONTROLLER secret (every executor host does) can send it any spec.
 */

export type HostAccessPolicy = Pick<
  ExecutorOptions,
  'enableHostNetwork' | 'enableHostPid' | 'enablePrivilegedContainers' | 'allowedCapabilities'
>;

/** Why the instance may not start here, or undefined when this host allows all it asks for. */
export function hostAccessRefusal(spec: Pick<LocalServiceInstanceSpec, 'hostAccess'>, policy: HostAccessPolicy): string | undefined {
  const access = effectiveHostAccess(spec.hostAccess);
  if (!access) return undefined;
  if (access.network && !policy.enableHostNetwork) return 'Host network refused by this executor: options.enableHostNetwork is not set';
  if (access.pid && !policy.enableHostPid) return 'Host PID namespace refused by this executor: options.enableHostPid is not set';
  if (access.privileged && !policy.enablePrivilegedContainers) {
    return 'Privileged mode refused by this executor: options.enablePrivilegedContainers is not set';
  }
  const refused = capabilitiesNotAllowed(access.addCapabilities ?? [], policy.allowedCapabilities);
  if (refused.length > 0) {
    return `Capabilities refused by this executor: ${refused.join(', ')} not in options.allowedCapabilities [${policy.allowedCapabilities.join(', ')}]`;
  }
  return undefined;
}
