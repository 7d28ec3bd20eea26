import type { LocalServiceInstanceInfo } from '../../model/instance.js';
import type { LocalServiceInstanceSpec } from '../../model/executor.js';
import type { LoggingSpec, UserSpec } from '../../model/spec.js';
import { DEFAULT_LOGGING } from '../../model/spec.js';
import { effectiveHostAccess } from '../../model/host-access.js';
import type { ContainerSpec, DeviceMapping, DeviceRequest, LogDriverConfig } from '../runtime/runtime.js';

/**
 * Pure translation of an instance spec into the container the executor creates
 * (docs/design/instance-lifecycle.md#the-container).
 */

export const LABEL_JOB_TYPE = 'drove.job.type';
export const LABEL_INSTANCE_ID = 'drove.instance.id';
/**
 * What recovery needs of the instance spec (`recoverySpec`): anyone allowed to `docker inspect` reads labels,
 * so no secret goes in one.
 */
export const LABEL_INSTANCE_RECOVERY = 'drove.instance.recovery';
/**
 * The whole instance spec, secrets included (env, instance token, config contents, header values): written by
 * executors before drove-ts stopped doing so. Still read, so their containers are re-adopted after an upgrade.
 */
export const LABEL_INSTANCE_SPEC_BEFORE_RECOVERY_LABEL = 'drove.instance.spec';
export const LABEL_INSTANCE_INFO = 'drove.instance.info';
/**
 * drove-ts addition: which executor owns the container, so several executors sharing one Docker engine (dev,
 * e2e) never adopt or reap each other's containers.
 */
export const LABEL_EXECUTOR_ID = 'drove.executor.id';
export const LOCAL_SERVICE_JOB_TYPE = 'LOCAL_SERVICE';

/** Executor options that shape every container (executor config `options` and `resources`). */
export interface ExecutorContainerOptions {
  /** Docker's log buffer (max-buffer-size, mode non-blocking), in megabytes: options.logBufferSize. */
  logBufferMB: number;
  /** One file of Docker's local log cache of syslog containers (cache-max-size), in megabytes: options.cacheFileSize. */
  logCacheFileMB: number;
  /** Files of that cache (cache-max-file): options.cacheFileCount. */
  logCacheFileCount: number;
  /** Every NVIDIA GPU to every container: resources.enableNvidiaGpu. */
  enableNvidiaGpu: boolean;
}

/** Docker's `--gpus all`, as Drove requests it: driver nvidia, every device (count -1), capability gpu. */
export const ALL_NVIDIA_GPUS: DeviceRequest = { driver: 'nvidia', count: -1, deviceIds: [], capabilities: [['gpu']] };

export interface ContainerContext {
  hostname: string;
  executorId: string;
  /** Host port per port name (decided by the caller: fixed when host-level, free otherwise). */
  hostPorts: Record<string, number>;
  /** Physical core ids for cpuset-cpus. */
  physicalCores: number[];
  numaPinning: boolean;
  /** The executor process environment, source of empty-valued user env entries. */
  executorEnv: Record<string, string | undefined>;
  defaultUserSpec?: UserSpec;
  maxOpenFiles?: number;
  containerOptions: ExecutorContainerOptions;
  info: LocalServiceInstanceInfo;
}

/**
 * Spec fields needed only to create the container, several of them secrets (env values, the instance token,
 * config contents and fetch credentials, args): a re-adopted container already has them, so labels leave them out.
 */
export const CREATION_ONLY_FIELDS = ['env', 'args', 'configs', 'volumes', 'devices', 'userSpec', 'instanceAuthToken', 'hostAccess'] as const;
export type RecoverySpec = Omit<LocalServiceInstanceSpec, (typeof CREATION_ONLY_FIELDS)[number]>;

/** The spec as recovery needs it: identity, image, resources, ports, checks, logging and pre-shutdown hooks. */
export function recoverySpec(spec: LocalServiceInstanceSpec): RecoverySpec {
  const copy: Partial<LocalServiceInstanceSpec> = { ...spec };
  for (const field of CREATION_ONLY_FIELDS) delete copy[field];
  return copy as RecoverySpec;
}

export function containerName(spec: Pick<LocalServiceInstanceSpec, 'serviceId' | 'instanceId'>): string {
  return `${spec.serviceId}-${spec.instanceId}`;
}

/**
 * Each port is bound on the host under its own number: host level instances (Drove), and instances on the host
 * network, whose ports are the host's (docs/host-access.md). Otherwise every port gets a free host port.
 */
export function hasFixedPorts(spec: Pick<LocalServiceInstanceSpec, 'hostLevelInstance' | 'hostAccess'>): boolean {
  return spec.hostLevelInstance || spec.hostAccess?.network === true;
}

/** Env in Drove's order: HOST, user env, DROVE_CONTAINER_ID, PORT_*, then the DROVE_* identity variables. */
export function containerEnv(spec: LocalServiceInstanceSpec, ctx: ContainerContext): string[] {
  const env: string[] = [`HOST=${ctx.hostname}`];
  for (const [key, value] of Object.entries(spec.env ?? {})) {
    if (value !== '' && value !== undefined && value !== null) env.push(`${key}=${value}`);
    else if (ctx.executorEnv[key] !== undefined) env.push(`${key}=${ctx.executorEnv[key]}`);
  }
  env.push(`DROVE_CONTAINER_ID=${spec.executable.url}`);
  for (const port of spec.ports) env.push(`PORT_${port.port}=${ctx.hostPorts[port.name]}`);
  env.push(`DROVE_EXECUTOR_HOST=${ctx.hostname}`);
  env.push(`DROVE_SERVICE_ID=${spec.serviceId}`);
  env.push(`DROVE_SERVICE_NAME=${spec.serviceName}`);
  env.push(`DROVE_SERVICE_INSTANCE_ID=${spec.instanceId}`);
  env.push(`DROVE_APP_INSTANCE_AUTH_TOKEN=${spec.instanceAuthToken ?? ''}`);
  return env;
}

/**
 * The Docker log driver of an instance. Both drivers write in non-blocking mode with a buffer of
 * options.logBufferSize (as Drove sets them): a slow log sink (a syslog server, a busy disk) delays nothing in the
 * service, and only what overflows the buffer is lost. Syslog cannot be read back, so Docker keeps a local cache of
 * it (dual logging) for `docker logs` and for this executor's own log files, sized by options.cacheFileSize and
 * cacheFileCount; json-file is read directly and has no cache.
 */
export function logDriver(spec: LoggingSpec | undefined, instanceId: string, options: ExecutorContainerOptions): LogDriverConfig {
  const logging = spec ?? DEFAULT_LOGGING;
  const buffer = { mode: 'non-blocking', 'max-buffer-size': `${options.logBufferMB}m` };
  if (logging.type === 'RSYSLOG') {
    const address = /^[a-z]+:\/\//.test(logging.server) ? logging.server : `udp://${logging.server}`;
    return {
      type: 'syslog',
      config: {
        'syslog-address': address,
        tag: `${logging.tagPrefix ?? ''}${instanceId}${logging.tagSuffix ?? ''}`,
        'syslog-facility': 'daemon',
        ...buffer,
        'cache-disabled': 'false',
        'cache-max-size': `${options.logCacheFileMB}m`,
        'cache-max-file': String(options.logCacheFileCount),
        'cache-compress': 'true',
      },
    };
  }
  const config: Record<string, string> = {
    'max-size': logging.maxSize,
    'max-file': String(logging.maxFiles),
    ...buffer,
  };
  // json-file refuses compress with a single file (nothing to compress).
  if (logging.compress && logging.maxFiles > 1) config.compress = 'true';
  return { type: 'json-file', config };
}

const PERMISSIONS: Record<string, string> = {
  READ_ONLY: 'r',
  WRITE_ONLY: 'w',
  MKNOD_ONLY: 'm',
  ALL: 'rwm',
  READ_WRITE: 'rw',
};

export function devices(spec: LocalServiceInstanceSpec, allNvidiaGpus = false): { mappings: DeviceMapping[]; requests: DeviceRequest[] } {
  const mappings: DeviceMapping[] = [];
  const requests: DeviceRequest[] = [];
  for (const d of spec.devices ?? []) {
    if (d.type === 'DIRECT') {
      mappings.push({
        pathOnHost: d.pathOnHost,
        pathInContainer: d.pathInContainer || d.pathOnHost,
        cgroupPermissions: PERMISSIONS[d.permissions ?? 'ALL']!,
      });
    } else {
      requests.push({
        ...(d.driver !== undefined ? { driver: d.driver } : {}),
        ...(d.count !== undefined ? { count: d.count } : {}),
        ...(d.deviceIds !== undefined ? { deviceIds: d.deviceIds } : {}),
        ...(d.capabilities !== undefined ? { capabilities: d.capabilities } : {}),
        ...(d.options !== undefined ? { options: d.options } : {}),
      });
    }
  }
  // After the spec's own requests, as Drove adds it; GPUs are not discovered or shared out (config.ts).
  if (allNvidiaGpus) requests.push(structuredClone(ALL_NVIDIA_GPUS));
  return { mappings, requests };
}

export function buildContainerSpec(spec: LocalServiceInstanceSpec, ctx: ContainerContext): ContainerSpec {
  const numaNodes = new Set<string>();
  let memoryMB = 0;
  for (const r of spec.resources) {
    if (r.type === 'CPU') for (const [node, cores] of Object.entries(r.cores)) if (cores.length > 0) numaNodes.add(node);
    if (r.type === 'MEMORY') for (const [node, mb] of Object.entries(r.memoryInMB)) {
      memoryMB += mb;
      if (mb > 0) numaNodes.add(node);
    }
  }
  const user = spec.userSpec ?? ctx.defaultUserSpec;
  const { mappings, requests } = devices(spec, ctx.containerOptions.enableNvidiaGpu);
  const access = effectiveHostAccess(spec.hostAccess) ?? {};
  return {
    name: containerName(spec),
    image: spec.executable.url,
    env: containerEnv(spec, ctx),
    ...(spec.args && spec.args.length > 0 ? { cmd: [...spec.args] } : {}),
    labels: {
      [LABEL_JOB_TYPE]: LOCAL_SERVICE_JOB_TYPE,
      [LABEL_INSTANCE_ID]: spec.instanceId,
      [LABEL_EXECUTOR_ID]: ctx.executorId,
      [LABEL_INSTANCE_RECOVERY]: JSON.stringify(recoverySpec(spec)),
      [LABEL_INSTANCE_INFO]: JSON.stringify(ctx.info),
    },
    // On the host network nothing is published: the process binds the host's ports itself.
    ports: access.network
      ? []
      : spec.ports.map((p) => ({
          containerPort: p.port,
          hostPort: ctx.hostPorts[p.name]!,
          protocol: p.type === 'UDP' ? 'udp' : 'tcp',
        })),
    ...(ctx.physicalCores.length > 0 ? { cpusetCpus: ctx.physicalCores.join(',') } : {}),
    ...(ctx.numaPinning && numaNodes.size > 0 ? { cpusetMems: [...numaNodes].sort().join(',') } : {}),
    ...(memoryMB > 0 ? { memoryBytes: memoryMB * 2 ** 20 } : {}),
    binds: (spec.volumes ?? []).map((v) => ({
      hostPath: v.pathOnHost,
      containerPath: v.pathInContainer || v.pathOnHost,
      readOnly: v.mode === 'READ_ONLY',
    })),
    devices: mappings,
    deviceRequests: requests,
    logging: logDriver(spec.loggingSpec, spec.instanceId, ctx.containerOptions),
    ...(user ? { user: user.group ? `${user.user}:${user.group}` : user.user } : {}),
    ...(ctx.maxOpenFiles ? { maxOpenFiles: ctx.maxOpenFiles } : {}),
    ...(access.network ? { hostNetwork: true } : {}),
    ...(access.pid ? { hostPid: true } : {}),
    ...(access.privileged ? { privileged: true } : {}),
    ...(access.addCapabilities ? { capAdd: access.addCapabilities } : {}),
    ...(access.dropCapabilities ? { capDrop: access.dropCapabilities } : {}),
    ...(access.readOnlyRootFilesystem ? { readOnlyRootFilesystem: true } : {}),
  };
}
