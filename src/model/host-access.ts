import { z } from 'zod';

/**
 * Host namespaces and privileges a local service may ask for (docs/host-access.md): a drove-ts extension kept in
 * one optional spec object, `hostAccess`, so a Drove spec without it means exactly what it means to Drove. Node
 * agents need it (node_exporter: host network, host PID; Falco-style agents: capabilities or privileged mode).
 * One definition for the controller's validator, the instance spec sent to executors, the executor's re-check
 * and the instance info that reports what was applied.
 */

/**
 * The Linux capabilities (capabilities(7), kernel 5.9+: CHECKPOINT_RESTORE is number 40), without their `CAP_`
 * prefix, the spelling Kubernetes and `docker inspect` users read.
 */
export const LINUX_CAPABILITIES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_ADMIN',
  'NET_RAW',
  'IPC_LOCK',
  'IPC_OWNER',
  'SYS_MODULE',
  'SYS_RAWIO',
  'SYS_CHROOT',
  'SYS_PTRACE',
  'SYS_PACCT',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_NICE',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'MKNOD',
  'LEASE',
  'AUDIT_WRITE',
  'AUDIT_CONTROL',
  'SETFCAP',
  'MAC_OVERRIDE',
  'MAC_ADMIN',
  'SYSLOG',
  'WAKE_ALARM',
  'BLOCK_SUSPEND',
  'AUDIT_READ',
  'PERFMON',
  'BPF',
  'CHECKPOINT_RESTORE',
] as const;

/** Every capability at once, as Docker (`--cap-add ALL`, `--cap-drop ALL`) and Kubernetes spell it. */
export const ALL_CAPABILITIES = 'ALL';
export const CAPABILITY_NAMES = [...LINUX_CAPABILITIES, ALL_CAPABILITIES] as const;
export type CapabilityName = (typeof CAPABILITY_NAMES)[number];

/** `cap_net_admin`, `CAP_NET_ADMIN` and `NET_ADMIN` are one capability: upper case, no prefix. */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  return upper.startsWith('CAP_') ? upper.slice(4) : upper;
}

export const CAPABILITY_RULE = 'must be a Linux capability such as NET_ADMIN or CAP_NET_ADMIN (capabilities(7)), or ALL';

/** A capability name, normalized as it is read (so the stored spec, the options and Docker all see one spelling). */
export function capabilityName() {
  const known: ReadonlySet<string> = new Set(CAPABILITY_NAMES);
  return z
    .string()
    .refine((name) => known.has(normalizeCapability(name)), {
      error: (issue) => `- ${JSON.stringify(issue.input)?.slice(0, 80)} ${CAPABILITY_RULE}`,
    })
    .transform((name) => normalizeCapability(name) as CapabilityName)
    .describe(`A Linux capability: ${LINUX_CAPABILITIES.join(', ')} (CAP_ prefix optional, any case), or ALL`);
}

/** A spec or instance-spec field (API bodies: unknown fields ignored, as Drove does). */
export const HostAccessSchema = z
  .object({
    network: z
      .boolean()
      .optional()
      .describe(
        "Run in the host's network namespace (Docker network mode host, Kubernetes hostNetwork). Ports are the container's own: every exposedPorts port is the port the process binds on the host. Needs placementPolicy.hostLevel true and the controller option enableHostNetwork.",
      ),
    pid: z
      .boolean()
      .optional()
      .describe("Run in the host's PID namespace (Docker pid mode host, Kubernetes hostPID). Needs the controller option enableHostPid."),
    privileged: z
      .boolean()
      .optional()
      .describe('Privileged container: every capability and every host device (Docker --privileged). Needs the controller option enablePrivilegedContainers.'),
    addCapabilities: z
      .array(capabilityName())
      .optional()
      .describe('Linux capabilities added to the default set (Docker CapAdd); CAP_ prefix optional, case-insensitive. Each must be listed in the controller option allowedCapabilities.'),
    dropCapabilities: z
      .array(capabilityName())
      .optional()
      .describe('Linux capabilities removed from the default set (Docker CapDrop), ALL for every one. Always allowed: it only takes away.'),
    readOnlyRootFilesystem: z
      .boolean()
      .optional()
      .describe("The container's root filesystem is mounted read-only (Docker ReadonlyRootfs); volumes stay as their mode says. Always allowed; not together with configs, which are written into the root filesystem."),
  })
  .describe('drove-ts extension: host namespaces and privileges of the containers (docs/host-access.md). Absent: none, as in Drove.');
export type HostAccess = z.infer<typeof HostAccessSchema>;

/** The host access with only the fields that ask for something; undefined when nothing is asked. */
export function effectiveHostAccess(access: HostAccess | undefined): HostAccess | undefined {
  if (!access) return undefined;
  const out: HostAccess = {};
  if (access.network) out.network = true;
  if (access.pid) out.pid = true;
  if (access.privileged) out.privileged = true;
  if (access.addCapabilities && access.addCapabilities.length > 0) out.addCapabilities = [...new Set(access.addCapabilities)];
  if (access.dropCapabilities && access.dropCapabilities.length > 0) out.dropCapabilities = [...new Set(access.dropCapabilities)];
  if (access.readOnlyRootFilesystem) out.readOnlyRootFilesystem = true;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Capabilities of `requested` that `allowed` does not cover (`ALL` in `allowed` covers every one). */
export function capabilitiesNotAllowed(requested: readonly string[], allowed: readonly string[]): string[] {
  if (allowed.includes(ALL_CAPABILITIES)) return [];
  return requested.filter((name) => !allowed.includes(name));
}
