import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { z } from 'zod';
import { LOG_LEVELS, capabilityName, duration, durationMs, hostDirList, strict } from '../model/index.js';
import { parseDroveCompatible } from '../model/config-compat.js';
import { ConfigSubstitutionError, parseConfigYaml } from '../model/config-file.js';
import { megabytesSize } from '../model/data-size.js';
import { MonitoringConfigSchema } from '../model/monitoring.js';
import { ClusterTlsSchema, ServerTlsSchema } from '../model/tls.js';
import { EXECUTOR_DROVE_COMPATIBILITY } from './config-drove.js';
import { DockerAuthSchema } from './docker-auth.js';
import { MetadataConfigSchema } from './metadata.js';

/**
 * Executor configuration (YAML, `drove executor --config executor.yml`). Every default says why it has that
 * value; durations use Drove's duration strings ("20 seconds", "5m"). Every object is a `strict.object`: an
 * unknown key is a start-up error naming it.
 */

const NumaNodeOverrideSchema = strict.object({
  cores: z.array(z.number().int().min(0)).min(1),
  memoryMB: z.number().int().min(1),
});

export const ExecutorResourcesSchema = strict.object({
  /** Core ids kept for the OS and the executor, never given to instances. None (Drove's): list some on busy hosts. */
  osCores: z.array(z.number().int().min(0)).default([]),
  /** Share of each NUMA node's memory offered to instances. 100 (Drove's): lower it to keep some for a busy host. */
  exposedMemPercentage: z.number().int().min(1).max(100).default(100),
  /**
   * Skip cpuset-mems. Off: memory next to the pinned cores is what a NUMA host wants; turn it on for single-node or
   * virtualised hosts, where memory pinning buys nothing and may fail.
   */
  disableNUMAPinning: z.boolean().default(false),
  /**
   * Offer more (virtual) cores/memory than the host has; virtual cores are mapped onto physical ones for
   * cpuset-cpus. Off by default, as in Drove, because pinned cores are meant to be exclusive.
   */
  overProvisioning: strict
    .object({
      enabled: z.boolean().default(false),
      /** Virtual cores per physical one; 1 offers exactly what the host has until raised. */
      cpuMultiplier: z.number().int().min(1).max(64).default(1),
      /** Likewise for memory. */
      memoryMultiplier: z.number().int().min(1).max(64).default(1),
    })
    .default({ enabled: false, cpuMultiplier: 1, memoryMultiplier: 1 }),
  /**
   * Replaces host discovery (/sys/devices/system/node) with a fixed layout: for tests and for hosts whose
   * sysfs lies (some containers). Keys are NUMA node ids.
   */
  numaNodes: z.record(z.string().regex(/^\d+$/, { error: 'NUMA node ids must be integers' }), NumaNodeOverrideSchema).optional(),
  /**
   * Every container gets all NVIDIA GPUs of the host (Docker DeviceRequests driver nvidia, count -1: `--gpus all`),
   * as Drove's option does: GPUs are neither discovered nor shared out. Needs nvidia-container-toolkit on the host;
   * without it every container start fails. Off by default: most hosts have no GPU.
   */
  enableNvidiaGpu: z.boolean().default(false),
  /** Key/values shown in the executor's node data (`metadata`), from Drove's CONFIGURED and ENVIRONMENT providers. */
  metadata: MetadataConfigSchema.default(MetadataConfigSchema.parse({})),
});
export type ExecutorResourcesConfig = z.infer<typeof ExecutorResourcesSchema>;

export const ExecutorOptionsSchema = strict.object({
  /** Node data (EXECUTOR_SNAPSHOT) period; Drove: 20 s, well inside the controller's 45 s staleness. */
  heartbeatInterval: duration().default('20 seconds'),
  /** How often the leader is looked for again while none answers (Drove pings every 10 s; we start faster). */
  leaderRetryInitial: duration().default('1 second'),
  /** Cap of the leader-search backoff: short enough that a new leader is found well inside 45 s. */
  leaderRetryMax: duration().default('10 seconds'),
  /** Reports changing within this window go out as one batched message (cheap for the leader's store). */
  reportBatchWindow: duration().default('5 milliseconds'),
  /** Readiness gating poll while UNREADY (Drove: 1 s). */
  readinessPollInterval: duration().default('1 second'),
  /** Zombie reaper period (Drove: 60 s). */
  zombieCheckInterval: duration().default('60 seconds'),
  /**
   * How often each instance's CPU and memory are read from the Docker stats API for `/metrics` (Drove collects them
   * every 30 s): one engine call per running container, cheap at this period and fine-grained enough for rate().
   */
  containerStatsInterval: duration().default('30 seconds'),
  /** SIGTERM-to-SIGKILL grace when stopping a container: Docker's own default (10 s), as Drove uses. */
  containerStopGracePeriod: duration().default('10 seconds'),
  /** How long startup recovery waits for a leader to ask which instances it knows, before adopting all. */
  recoveryLeaderWait: duration().default('10 seconds'),
  /**
   * Logs of an instance that stopped are kept this long, then its folder is removed so a long-running executor
   * does not fill its disk. Drove's staleInstanceAge (7 days): logs stay as long as the cluster still lists the
   * instance, and past a long weekend for whoever investigates a crash.
   */
  instanceLogRetention: duration().default('7 days'),
  /** How often log folders are checked for removal: they age in days, so hourly is precise enough and cheap. */
  instanceLogCleanupInterval: duration().default('1 hour'),
  /**
   * This host's own bound on volume mounts, checked (after resolving symlinks) before a container is created,
   * whatever the controller allowed: the executor holds the Docker socket. Empty = any directory, like the
   * controller's allowedMountDirs, so that existing clusters keep working; list directories to lock the host.
   */
  allowedMountDirs: hostDirList().default([]),
  /** Host directories EXECUTOR_LOCAL_FILE configs may read here. Empty = none (the controller's option too). */
  allowedLocalFileDirs: hostDirList().default([]),
  /**
   * EXECUTOR_HTTP_FETCH may reach this host's loopback, link-local (cloud metadata included) and unspecified
   * addresses. Off: anyone who may create a service could otherwise read the executor host's own services (a
   * Docker API on a TCP port) and the metadata service's credentials through a config file. For a config server
   * on the executor's host only; the controller has the same option for CONTROLLER_HTTP_FETCH.
   */
  allowConfigFetchFromLocalAddresses: z.boolean().default(false),
  /**
   * This host's own consent to the spec's `hostAccess` (docs/host-access.md), checked before a container is
   * created whatever the controller allowed. Off by default, like the controller's options of the same names:
   * every executor host keeps the CONTROLLER secret, so without this a single compromised host could start
   * privileged, host-network containers on every other host.
   */
  enableHostNetwork: z.boolean().default(false),
  enableHostPid: z.boolean().default(false),
  enablePrivilegedContainers: z.boolean().default(false),
  /** Capabilities instances may add here (CAP_ prefix optional; ALL = any). Empty = none. */
  allowedCapabilities: z.array(capabilityName()).default([]),
  /**
   * Docker's log buffer per container (log option max-buffer-size, with mode non-blocking): output waits here while
   * the log driver is slow (a syslog server, a busy disk) instead of blocking the service's writes; what overflows
   * it is dropped. Drove's option and default: 10 MB, 1 to 128 MB.
   */
  logBufferSize: megabytesSize({ min: 1, max: 128 }).default(10),
  /**
   * Size of one file of Docker's local log cache (dual logging, log option cache-max-size) of RSYSLOG containers:
   * the copy `docker logs` and this executor's log files read, since syslog itself cannot be read back. Drove's
   * option and default: 20 MB (10 MB to 100 GB).
   */
  cacheFileSize: megabytesSize({ min: 10, max: 100 * 1024 }).default(20),
  /** Files of that cache (cache-max-file). Drove's default 3, at most 1024; 0 means the default, as in Drove. */
  cacheFileCount: z
    .number()
    .int()
    .min(0)
    .max(1024)
    .default(3)
    .transform((count) => (count === 0 ? 3 : count)),
});
export type ExecutorOptions = z.infer<typeof ExecutorOptionsSchema>;

/** A user or group: a name, or a numeric id written as a number. */
const idText = z.union([z.string().min(1, { error: 'must not be empty' }), z.number().int().min(0)]).transform(String);

export const ExecutorConfigSchema = strict.object({
  server: strict
    .object({
      /** Listen on every interface: controllers reach the executor from other hosts. */
      host: z.string().min(1).default('0.0.0.0'),
      /** Drove's sample executor port. 0 picks a free port (tests). */
      port: z.number().int().min(0).max(65535).default(3000),
      /** Name the controller and instances use for this host (default: OS hostname). */
      hostname: z.string().min(1).optional(),
      /** Certificate and key: the executor serves HTTPS only and reports transportType HTTPS (docs/security.md). */
      tls: ServerTlsSchema.optional(),
    })
    .default({ host: '0.0.0.0', port: 3000 }),
  /** Controller base URLs; the leader is whichever answers GET /apis/v1/ping with 200 SUCCESS. */
  controllers: z
    .array(z.string().url({ error: 'controllers entries must be URLs such as http://controller:10000' }))
    .min(1, { error: 'at least one controller endpoint is required' }),
  clusterAuth: strict
    .object({
      secrets: z
        .array(strict.object({ nodeType: z.enum(['CONTROLLER', 'EXECUTOR']), secret: z.string().min(1) }))
        .min(1, { error: 'at least one cluster secret is required (the executor sends its EXECUTOR secret)' })
        // The executor accepts messages and log reads only with the CONTROLLER secret (routes-access.ts).
        .refine((secrets) => secrets.some((s) => s.nodeType === 'CONTROLLER'), {
          error: 'a CONTROLLER secret is required: the executor accepts calls only from controllers, which send it',
        }),
    }),
  /** How calls to the controllers (https:// endpoints) verify their certificates; verified unless `insecure: true`. */
  clusterTls: ClusterTlsSchema.optional(),
  /**
   * Tags this executor advertises, which local services' tag constraints match (docs/design/placement.md#tag-constraints);
   * the hostname is always added. Read at start: a changed list takes effect when the executor restarts.
   */
  tags: z.array(z.string().min(1)).default([]),
  resources: ExecutorResourcesSchema.default(ExecutorResourcesSchema.parse({})),
  docker: strict
    .object({
      /** The Docker Engine API socket; podman's Docker-compatible socket works the same. */
      socket: z.string().min(1).default('/var/run/docker.sock'),
    })
    .default({ socket: '/var/run/docker.sock' }),
  /**
   * Per-instance output logs: <logDir>/<serviceId>/<instanceId>/output.log. Default: the FHS place for
   * service logs, outside the container so logs outlive the instance.
   */
  logDir: z.string().min(1).default('/var/log/drove/executor'),
  /**
   * Small executor state that is not in container labels (blacklisting survives a restart). Default: the FHS
   * place for persistent service state.
   */
  dataDir: z.string().min(1).default('/var/lib/drove/executor'),
  /**
   * Keep images after an instance stops. Default true (Drove's default is false): local services restart on
   * the same host with the same image, and images built locally (no registry) could not be pulled back.
   */
  cacheImages: z.boolean().default(true),
  /**
   * User for containers whose spec has no userSpec; absent = the image's user. Numeric ids may be written as numbers
   * (`user: 1000`, as in Drove's sample config; Jackson reads them as text).
   */
  defaultUserSpec: strict.object({ user: idText, group: idText.optional() }).optional(),
  /**
   * nofile ulimit of every container. Drove sets 470000; we leave it unset by default (the engine's default
   * applies) because runc cannot raise it above the Docker daemon's own hard limit, which is often lower
   * (a container start would fail with "error setting rlimit type 7"). Set it where dockerd allows it.
   */
  maxOpenFiles: z.number().int().min(64).optional(),
  /** Credentials for private registries, per registry host, sent with every pull (Drove's dockerAuth; docker-auth.ts). */
  dockerAuth: DockerAuthSchema.optional(),
  options: ExecutorOptionsSchema.default(ExecutorOptionsSchema.parse({})),
  /**
   * Who may read `/metrics` (docs/metrics.md#access): open on a loopback `server.host`; elsewhere only with `bearerToken`
   * (the executor has no users), unless `metrics: open` is written.
   */
  monitoring: MonitoringConfigSchema.default({}),
  /** info: state changes and recoveries are worth a line each; probes are not. */
  logLevel: z.enum(LOG_LEVELS).default('info'),
});
export type ExecutorConfigInput = z.input<typeof ExecutorConfigSchema>;
export type ExecutorConfig = z.infer<typeof ExecutorConfigSchema>;

export class ExecutorConfigError extends Error {}

/** Reads a parsed config; Drove's key names are accepted where drove-ts has the setting (config-drove.ts). */
export function parseExecutorConfig(raw: unknown, source = 'executor config'): ExecutorConfig {
  const result = parseDroveCompatible(ExecutorConfigSchema, raw, EXECUTOR_DROVE_COMPATIBILITY, source);
  if (!result.ok) throw new ExecutorConfigError(result.message);
  return result.data;
}

/** Reads a config file: YAML with `${VAR}` references filled from `env`, then the schema (model/config-file.ts). */
export function loadExecutorConfig(path: string, env: Readonly<Record<string, string | undefined>> = process.env): ExecutorConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ExecutorConfigError(`Cannot read executor config ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseConfigYaml(text, env);
  } catch (e) {
    if (e instanceof ConfigSubstitutionError) throw new ExecutorConfigError(`Invalid executor config ${path}: ${e.message}`);
    throw new ExecutorConfigError(`Executor config ${path} is not valid YAML: ${(e as Error).message}`);
  }
  return parseExecutorConfig(raw, `executor config ${path}`);
}

/** Durations resolved to milliseconds, and the defaults that depend on the host. */
export interface ResolvedExecutorOptions {
  hostname: string;
  heartbeatMs: number;
  leaderRetryInitialMs: number;
  leaderRetryMaxMs: number;
  reportBatchWindowMs: number;
  readinessPollMs: number;
  zombieCheckMs: number;
  containerStatsMs: number;
  recoveryLeaderWaitMs: number;
  stopGraceSeconds: number;
  instanceLogRetentionMs: number;
  instanceLogCleanupMs: number;
}

export function resolveExecutorOptions(config: ExecutorConfig): ResolvedExecutorOptions {
  const o = config.options;
  return {
    hostname: config.server.hostname ?? osHostname(),
    heartbeatMs: durationMs(o.heartbeatInterval),
    leaderRetryInitialMs: durationMs(o.leaderRetryInitial),
    leaderRetryMaxMs: durationMs(o.leaderRetryMax),
    reportBatchWindowMs: durationMs(o.reportBatchWindow),
    readinessPollMs: durationMs(o.readinessPollInterval),
    zombieCheckMs: durationMs(o.zombieCheckInterval),
    containerStatsMs: durationMs(o.containerStatsInterval),
    recoveryLeaderWaitMs: durationMs(o.recoveryLeaderWait),
    stopGraceSeconds: Math.ceil(durationMs(o.containerStopGracePeriod) / 1000),
    instanceLogRetentionMs: durationMs(o.instanceLogRetention),
    instanceLogCleanupMs: durationMs(o.instanceLogCleanupInterval),
  };
}

/** The secret this executor sends: its EXECUTOR secret, else the first one configured. */
export function outgoingSecret(config: ExecutorConfig): string {
  const secrets = config.clusterAuth.secrets;
  return (secrets.find((s) => s.nodeType === 'EXECUTOR') ?? secrets[0]!).secret;
}
