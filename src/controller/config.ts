import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { INSTALLATION_CRITICALITIES, LOG_LEVELS, capabilityName, duration, durationMs, hostDirList, strict } from '../model/index.js';
import { parseDroveCompatible } from '../model/config-compat.js';
import { ConfigSubstitutionError, parseConfigYaml } from '../model/config-file.js';
import { MonitoringConfigSchema } from '../model/monitoring.js';
import { ClusterTlsSchema, ServerTlsSchema } from '../model/tls.js';
import { CONTROLLER_DROVE_COMPATIBILITY } from './config-drove.js';
import type { CrashLoopPolicy } from '../model/crash-loop.js';

/**
 * Controller configuration (YAML, `drove controller --config controller.yml`). Section and option names follow
 * Drove's AppConfig (docs/drove-config.md#controller) so an operator's existing `options:` block works as it is.
 * Every object is a `strict.object`: an unknown key is a start-up error naming it.
 */

export const ControllerOptionsSchema = strict.object({
  /**
   * Op timeout of operations that carry no op spec, the reconciler's own among them (Drove: 300 s): room for a
   * node agent's pull and checks; a start whose spec needs longer is given that anyway (engine/jobs/timeouts.ts).
   */
  clusterOpTimeout: duration().default('300 seconds'),
  /**
   * Parallelism of such operations; values below 1 become 1. Drove's default 1: one instance at a time, the most
   * cautious rollout (a bad image stops at the first host); Drove's docs suggest about 8 for faster recovery.
   */
  clusterOpParallelism: z.number().int().max(512).default(1),
  /** Job retries after the first attempt (Drove: 2, so up to 3 attempts): a passing hiccup gets two more chances. */
  jobRetryCount: z.number().int().min(0).max(32).default(2),
  /** Pause between job attempts (Drove: 1 s): long enough for a report to land, short next to the op timeout. */
  jobRetryInterval: duration().default('1 second'),
  /**
   * Drove polls instance records every 3 s while a job waits; we wake jobs on each state report instead and
   * keep this only as the safety-net re-check period.
   */
  instanceStateCheckRetryInterval: duration().default('3 seconds'),
  /**
   * INACTIVE services untouched this long are auto-destroyed. Off unless set (Drove: 7 days): an operator who
   * deactivated a service for a while should not find it gone (docs/design/reconciliation.md#stale-data-cleaner).
   */
  staleServiceAge: duration().optional(),
  /** Instance history older than this is deleted (Drove: 7 days): a crash can be looked into after a long weekend. */
  staleInstanceAge: duration().default('7 days'),
  /** History records kept per service (Drove: 100; 0 keeps none): a crash loop shows, the store stays bounded. */
  maxStaleInstancesCount: z.number().int().min(0).max(4096).default(100),
  /** Period of the stale data cleaner (Drove: 1 hour): the ages it enforces are days; hourly is precise and cheap. */
  staleCheckInterval: duration().default('1 hour'),
  /** Events are kept in the leader's memory this long (Drove: 60 minutes): pollers away a while still catch up. */
  maxEventsStorageDuration: duration().default('60 minutes'),
  /** An executor silent this long is removed and its instances marked LOST (Drove: 45 s, two missed heartbeats). */
  staleExecutorAge: duration().default('45 seconds'),
  /** An instance record not refreshed this long is excluded and swept to LOST (Drove: 60 s, hard-coded). */
  instanceStaleAge: duration().default('60 seconds'),
  /** Reconciler safety-net period (Drove: 5 s); triggers wake it sooner. */
  reconcileInterval: duration().default('5 seconds'),
  /** Maintenance grace after any maintenance change: 2 x the 20 s executor refresh (Drove: 40 s). */
  maintenanceGracePeriod: duration().default('40 seconds'),
  /** Host directories volumes may mount (and below them); empty = any directory, as in Drove. */
  allowedMountDirs: hostDirList().default([]),
  /**
   * Host directories EXECUTOR_LOCAL_FILE configs may read from (and below them). Empty = none: the executor runs
   * as root and would copy any host file (/etc/shadow, keys) into a container for anyone allowed to create a
   * service, so this drove-ts option is off until the operator names the directories (docs/security.md).
   */
  allowedLocalFileDirs: hostDirList().default([]),
  /** Refuse specs with `args`. Off, as in Drove: a node agent's flags (node_exporter's) are its args. */
  disableCmdlArgs: z.boolean().default(false),
  /** Allow `devices` in specs. Off, as in Drove: a device hands a container a piece of the host's hardware. */
  enableRawDeviceAccess: z.boolean().default(false),
  /**
   * Host namespaces and privileges (spec `hostAccess`, docs/host-access.md), each off until the operator turns
   * it on: a container on the host network can reach every local-only service of the host and bind its ports; in
   * the host PID namespace it sees (and with enough capabilities signals) every process; a privileged container
   * is root on the host. Whoever may create a service gets what these allow, on every executor.
   */
  enableHostNetwork: z.boolean().default(false),
  enableHostPid: z.boolean().default(false),
  enablePrivilegedContainers: z.boolean().default(false),
  /** Capabilities `hostAccess.addCapabilities` may name (CAP_ prefix optional; ALL = any). Empty = none. */
  allowedCapabilities: z.array(capabilityName()).default([]),
  /**
   * Instance logs for every authenticated caller (maintenance users, instance tokens, cluster nodes). Off, as in
   * Drove: a service's output may hold what it should not show to everyone who can read the cluster's state.
   */
  disableReadAuth: z.boolean().default(false),
  /** Methods whose every request gets an audit line (Drove's): the ones that change something; reads would flood. */
  auditedHttpMethods: z.array(z.string()).default(['POST', 'PUT']),
  /**
   * CONTROLLER_HTTP_FETCH may reach loopback, link-local (cloud metadata included) and unspecified addresses.
   * Off: anyone who may create a service could otherwise read the controller host's own services and the
   * metadata service's credentials through a config file. For a config server on the controller's host only.
   */
  allowConfigFetchFromLocalAddresses: z.boolean().default(false),
  /**
   * Crash-loop backoff per (service, executor), docs/design/crash-loop-backoff.md. The figures are Kubernetes' for a
   * crash-looping container, which operators know: `initial` 10 s is long enough that a container that exits at
   * once no longer restarts several times a second (registry pulls, log churn, events), short enough that a
   * passing problem costs little; `max` 5 min bounds how long a fixed host waits for its next attempt; `resetAfter`
   * 10 min healthy is when a replacement has proven itself, so a crash after that starts a new loop at no delay.
   */
  crashLoopBackoff: strict
    .object({
      initial: duration().default('10 seconds'),
      max: duration().default('5 minutes'),
      resetAfter: duration().default('10 minutes'),
    })
    .refine((b) => durationMs(b.max) >= durationMs(b.initial), { error: 'max must not be shorter than initial', path: ['max'] })
    .refine((b) => durationMs(b.initial) > 0 && durationMs(b.resetAfter) > 0, { error: 'initial and resetAfter must be longer than 0' })
    .default({ initial: '10 seconds', max: '5 minutes', resetAfter: '10 minutes' }),
});
export type ControllerOptions = z.infer<typeof ControllerOptionsSchema>;

export const ROLES = ['EXTERNAL_ROOT', 'EXTERNAL_READ_WRITE', 'EXTERNAL_READ_ONLY', 'EXTERNAL_MAINTENANCE'] as const;
export type UserRole = (typeof ROLES)[number];

export const UserAuthSchema = strict.object({
  /** A `userAuth` section turns logins on; `enabled: false` written out is the explicit way to run without them. */
  enabled: z.boolean().default(true),
  /** PLAIN: Drove's default, so its config files read the same; CRYPT (bcrypt) keeps passwords out of the file. */
  encoding: z.enum(['PLAIN', 'CRYPT']).default('PLAIN'),
  /** Drove's cache setting, accepted and not used: the cache of verified logins is fixed (docs/security.md). */
  cachingPolicy: z.string().optional(),
  /** None: every login fails, the safe reading of a section that names no user. */
  users: z
    .array(strict.object({ username: z.string().min(1), password: z.string().min(1), role: z.enum(ROLES) }))
    .default([]),
});
export type UserAuthConfig = z.infer<typeof UserAuthSchema>;

export const ClusterAuthSchema = strict.object({
  /**
   * No built-in secret (docs/security.md#the-secrets): without one no cluster call authenticates, so no executor can
   * join, while the API still answers operators.
   */
  secrets: z
    .array(strict.object({ nodeType: z.enum(['CONTROLLER', 'EXECUTOR']), secret: z.string().min(1) }))
    .default([]),
});
export type ClusterAuthConfig = z.infer<typeof ClusterAuthSchema>;

export const SqliteStoreSchema = strict.object({ type: z.literal('sqlite'), path: z.string().min(1) });
export const EtcdStoreSchema = strict.object({
  type: z.literal('etcd'),
  endpoints: z.array(z.string().min(1)).min(1),
  /** Key prefix: Drove's ZooKeeper namespace, so keys read like its paths; clusters sharing an etcd need their own. */
  namespace: z.string().default('/drove/'),
  username: z.string().optional(),
  password: z.string().optional(),
  tls: strict
    .object({ caFile: z.string().optional(), certFile: z.string().optional(), keyFile: z.string().optional() })
    .optional(),
  /** Leader lease TTL in seconds: failover takes about this long after a leader dies. */
  leaseTtlSeconds: z.number().int().min(1).max(60).default(3),
});

/**
 * Drove's `view:` section: the installation banner and the custom links of the web console. Links must be http(s)
 * URLs: the console renders them as anchors, and a `javascript:` URL there would run in every operator's session.
 */
export const ViewOptionsSchema = strict.object({
  installation: strict
    .object({
      label: z.string().max(50),
      criticality: z.enum(INSTALLATION_CRITICALITIES),
    })
    .default({ label: 'local', criticality: 'DEVELOPMENT' }),
  links: z
    .record(
      z.string().min(1).max(50),
      z.string().refine((url) => /^https?:\/\/[^\s]+$/i.test(url) && URL.canParse(url), 'must be an http:// or https:// URL'),
    )
    .default({}),
});
export type ViewOptions = z.infer<typeof ViewOptionsSchema>;

export const ControllerConfigSchema = strict.object({
  server: strict
    .object({
      /** Every interface: executors and operators come from other hosts (without userAuth only loopback is allowed). */
      host: z.string().default('0.0.0.0'),
      /** Drove's application port, so executor and CLI configs written for Drove point at the right place. */
      port: z.number().int().min(0).max(65535).default(10000),
      /** Name other nodes use to reach this controller (defaults to the OS hostname). */
      hostname: z.string().optional(),
      /** Certificate and key: the API serves HTTPS only (docs/security.md, "TLS"). */
      tls: ServerTlsSchema.optional(),
    })
    .default({ host: '0.0.0.0', port: 10000 }),
  /** SQLite in the working directory: one controller, no external service, the simplest cluster that works. */
  store: z.discriminatedUnion('type', [SqliteStoreSchema, EtcdStoreSchema]).default({ type: 'sqlite', path: 'drove.db' }),
  clusterAuth: ClusterAuthSchema.default({ secrets: [] }),
  /** How messages and log reads to executors verify their HTTPS; verified unless `insecure: true`. */
  clusterTls: ClusterTlsSchema.optional(),
  /**
   * HMAC secret of instance tokens. No default (docs/security.md): absent, a SQLite controller generates one on
   * first start and keeps it beside its store (instance-secret.ts); an etcd store requires it (every controller
   * must share it).
   */
  instanceAuth: strict.object({
    secret: z.string().min(1).optional(),
    /**
     * Instance tokens expire this long after issue (`exp`). A token is only renewed when its instance is started
     * again, and node agents run for months, so the default is long: 365 days bounds how long a copied token
     * of a still-running instance stays usable; tokens of instances that are no longer running are refused at
     * once whatever their age (auth.ts).
     */
    tokenLifetime: duration().default('365 days'),
  }).default({ tokenLifetime: '365 days' }),
  /**
   * Absent: authentication disabled, every caller is root (Drove's behaviour), allowed only on a loopback
   * server.host; elsewhere only `enabled: false` written out turns it off (safe-defaults.ts).
   */
  userAuth: UserAuthSchema.optional(),
  options: ControllerOptionsSchema.default(ControllerOptionsSchema.parse({})),
  /** Drove's default when absent: an installation labelled "local", DEVELOPMENT, no links. */
  view: ViewOptionsSchema.default(ViewOptionsSchema.parse({})),
  /** Who may read `/metrics` (docs/metrics.md#access): open on a loopback `server.host`, else credentials or a bearer token. */
  monitoring: MonitoringConfigSchema.default({}),
  /** info: operations, state changes and leadership are worth a line each; per-request detail is not. */
  logLevel: z.enum(LOG_LEVELS).default('info'),
}).superRefine((config, context) => {
  if (config.store.type === 'etcd' && !config.instanceAuth.secret) {
    context.addIssue({
      code: 'custom',
      path: ['instanceAuth', 'secret'],
      message: 'is required with an etcd store: every controller signs and verifies instance tokens with it, so all must be given the same value',
    });
  }
});
export type ControllerConfig = z.infer<typeof ControllerConfigSchema>;

export class ConfigError extends Error {}

/** Reads a parsed config; Drove's key names are accepted where drove-ts has the setting (config-drove.ts). */
export function parseControllerConfig(raw: unknown, source = 'controller config'): ControllerConfig {
  const result = parseDroveCompatible(ControllerConfigSchema, raw, CONTROLLER_DROVE_COMPATIBILITY, source);
  if (!result.ok) throw new ConfigError(result.message);
  return result.data;
}

/** Reads a config file: YAML with `${VAR}` references filled from `env`, then the schema (model/config-file.ts). */
export function loadControllerConfig(path: string, env: Readonly<Record<string, string | undefined>> = process.env): ControllerConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`Cannot read controller config ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseConfigYaml(text, env);
  } catch (e) {
    if (e instanceof ConfigSubstitutionError) throw new ConfigError(`Invalid controller config ${path}: ${e.message}`);
    throw new ConfigError(`Controller config ${path} is not valid YAML: ${(e as Error).message}`);
  }
  return parseControllerConfig(raw, `controller config ${path}`);
}

/** Options with durations resolved to milliseconds, the form the engine uses. */
export interface ResolvedOptions {
  raw: ControllerOptions;
  clusterOpTimeoutMs: number;
  jobRetryIntervalMs: number;
  instanceStateCheckRetryIntervalMs: number;
  staleServiceAgeMs: number | undefined;
  staleInstanceAgeMs: number;
  staleCheckIntervalMs: number;
  maxEventsStorageMs: number;
  staleExecutorAgeMs: number;
  instanceStaleAgeMs: number;
  reconcileIntervalMs: number;
  maintenanceGraceMs: number;
  crashLoopBackoff: CrashLoopPolicy;
}

export function resolveOptions(options: ControllerOptions): ResolvedOptions {
  return {
    raw: options,
    clusterOpTimeoutMs: durationMs(options.clusterOpTimeout),
    jobRetryIntervalMs: durationMs(options.jobRetryInterval),
    instanceStateCheckRetryIntervalMs: durationMs(options.instanceStateCheckRetryInterval),
    staleServiceAgeMs: options.staleServiceAge ? durationMs(options.staleServiceAge) : undefined,
    staleInstanceAgeMs: durationMs(options.staleInstanceAge),
    staleCheckIntervalMs: durationMs(options.staleCheckInterval),
    maxEventsStorageMs: durationMs(options.maxEventsStorageDuration),
    staleExecutorAgeMs: durationMs(options.staleExecutorAge),
    instanceStaleAgeMs: durationMs(options.instanceStaleAge),
    reconcileIntervalMs: durationMs(options.reconcileInterval),
    maintenanceGraceMs: durationMs(options.maintenanceGracePeriod),
    crashLoopBackoff: {
      initialMs: durationMs(options.crashLoopBackoff.initial),
      maxMs: durationMs(options.crashLoopBackoff.max),
      resetAfterMs: durationMs(options.crashLoopBackoff.resetAfter),
    },
  };
}
