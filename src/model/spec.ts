import { z } from 'zod';
import { HostAccessSchema } from './host-access.js';
import { HOST_PATH_RULE, isHostPath } from './host-paths.js';
import { PlacementPolicySchema, localPolicyOf } from './placement.js';
import { ciEnum, duration, int, requiredString } from './schema-helpers.js';

/**
 * The local-service spec and every nested type, with Drove's bean-validation messages
 * (docs/design/api-compatibility.md#the-spec).
 */

const NAME_PATTERN = /^[a-zA-Z\d\-_]*$/;
const CHARSET_MESSAGE = '- Only characters, numbers, hyphen and underscore is allowed';
/**
 * Drove sets no limit; we do, because the service id becomes part of container names (`<serviceId>-<instanceId>`,
 * which Docker caps), store keys and log paths: a megabyte-long name must be a clear 400, not a failure later.
 */
export const MAX_ID_PART_LENGTH = 100;

/**
 * A service id as the controller derives it, `<name>-<version>` (both NAME_PATTERN): letters, digits, `-` and
 * `_` only, so it can never be `.`, `..` or hold a `/` when it becomes a folder name or a URL segment.
 */
export function isServiceId(id: string): boolean {
  return id.length >= 3 && id.length <= 2 * MAX_ID_PART_LENGTH + 1 && /^[a-zA-Z\d\-_]+$/.test(id);
}

export const HTTP_VERBS = ['GET', 'POST', 'PUT'] as const;
export const PROTOCOLS = ['HTTP', 'HTTPS'] as const;
export const PORT_TYPES = ['HTTP', 'HTTPS', 'TCP', 'UDP'] as const;

export const DockerCoordinatesSchema = z.object({
  type: z.literal('DOCKER').default('DOCKER'),
  url: requiredString('- Specify url for container'),
  dockerPullTimeout: duration('- Specify container fetch (docker pull) timeout'),
});
export type DockerCoordinates = z.infer<typeof DockerCoordinatesSchema>;

export const PortSpecSchema = z.object({
  name: requiredString(
    '- Specify a human readable name for the port. This will be used as key in health-check/readiness checks etc',
  ).regex(NAME_PATTERN, { error: CHARSET_MESSAGE }),
  port: int({
    min: [1, '- Port cannot be negative or 0'],
    max: [65535, '- Port cannot be more than 65K'],
    required: '- Port cannot be negative or 0',
  }),
  type: ciEnum(PORT_TYPES, '- Please specify port type [HTTP/TCP/UDP]'),
});
export type PortSpec = z.infer<typeof PortSpecSchema>;
export type PortType = PortSpec['type'];

export const MountedVolumeSchema = z.object({
  pathInContainer: requiredString('- Provide mount path inside container'),
  // An empty path already has its own message; the path rule is about paths that are there.
  pathOnHost: requiredString('- Provide host directory to mount').refine((p) => p === '' || isHostPath(p), { error: HOST_PATH_RULE }),
  mode: ciEnum(['READ_WRITE', 'READ_ONLY'] as const, '- Specify whether mount is read-only or read-write'),
});
export type MountedVolume = z.infer<typeof MountedVolumeSchema>;

export const HttpCallSpecSchema = z.object({
  protocol: ciEnum(PROTOCOLS, '- Specify protocol (HTTP/HTTPS)'),
  hostname: requiredString('- Specify hostname'),
  port: int({ min: [0, '- Port must be in range 0-65535'], max: [65535, '- Port must be in range 0-65535'] }).optional(),
  path: z.string().optional(),
  verb: ciEnum(HTTP_VERBS).optional(),
  successCodes: z.array(z.number().int()).optional(),
  payload: z.string().optional(),
  connectionTimeout: duration().optional(),
  operationTimeout: duration().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  authHeader: z.string().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  insecure: z.boolean().optional(),
});
export type HttpCallSpec = z.infer<typeof HttpCallSpecSchema>;

const localFilename = requiredString('- Specify the path of the file inside the container');

export const ConfigSpecSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('INLINE'),
    localFilename,
    data: requiredString('- Specify base64 encoded data for the config file').refine(
      (s) => /^[A-Za-z0-9+/]*={0,2}$/.test(s),
      { error: '- Config data must be base64 encoded' },
    ),
  }),
  z.object({
    type: z.literal('EXECUTOR_LOCAL_FILE'),
    localFilename,
    filePathOnHost: z.string().refine(isHostPath, { error: HOST_PATH_RULE }).optional(),
  }),
  z.object({ type: z.literal('CONTROLLER_HTTP_FETCH'), localFilename, http: HttpCallSpecSchema }),
  z.object({ type: z.literal('EXECUTOR_HTTP_FETCH'), localFilename, http: HttpCallSpecSchema }),
]);
export type ConfigSpec = z.infer<typeof ConfigSpecSchema>;

export const LoggingSpecSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('LOCAL'),
    maxSize: requiredString('- Specify max size of logs. Use 10m, 1g etc. Files bigger than this will be rotated').regex(
      /^\d+[kmgKMG]?$/,
      { error: '- Specify max size of logs. Use 10m, 1g etc. Files bigger than this will be rotated' },
    ),
    maxFiles: int({
      min: [1, '- At least one log will be present, so min value is 1'],
      max: [100, '- Maximum 100 log files can be retained'],
      required: '- At least one log will be present, so min value is 1',
    }),
    compress: z.boolean().optional(),
  }),
  z.object({
    type: z.literal('RSYSLOG'),
    server: requiredString('- Rsyslog server url should be passed here'),
    tagPrefix: z.string().optional(),
    tagSuffix: z.string().optional(),
  }),
]);
export type LoggingSpec = z.infer<typeof LoggingSpecSchema>;

export const DEFAULT_LOGGING: LoggingSpec = { type: 'LOCAL', maxSize: '10m', maxFiles: 3, compress: true };

export const ResourceRequirementSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('CPU'), count: int({ min: [1, '- CPU count must be at least 1'], required: '- Specify CPU count' }) }),
  z.object({
    type: z.literal('MEMORY'),
    sizeInMB: int({ min: [1, '- Memory size must be at least 1 MB'], required: '- Specify memory size in MB' }),
  }),
]);
export type ResourceRequirement = z.infer<typeof ResourceRequirementSchema>;


export const HttpCheckModeSchema = z.object({
  type: z.literal('HTTP'),
  protocol: ciEnum(PROTOCOLS, '- Specify protocol (HTTP/HTTPS)'),
  portName: requiredString('- Port name is mandatory'),
  path: requiredString('- Path is mandatory'),
  verb: ciEnum(HTTP_VERBS, '- Specify HTTP verb'),
  successCodes: z.array(z.number().int(), { error: (i) => (i.input === undefined ? '- Specify success codes' : undefined) }).min(1, {
    error: '- Specify success codes',
  }),
  payload: z.string().optional(),
  connectionTimeout: duration().optional(),
  insecure: z.boolean().optional(),
});
export const CmdCheckModeSchema = z.object({
  type: z.literal('CMD'),
  command: requiredString('- Command is mandatory'),
  shellDisabled: z.boolean().optional(),
});
export const CheckModeSpecSchema = z.discriminatedUnion('type', [HttpCheckModeSchema, CmdCheckModeSchema]);
export type CheckModeSpec = z.infer<typeof CheckModeSpecSchema>;
export type HttpCheckMode = z.infer<typeof HttpCheckModeSchema>;
export type CmdCheckMode = z.infer<typeof CmdCheckModeSchema>;

export const CheckSpecSchema = z.object({
  mode: CheckModeSpecSchema,
  timeout: duration('- Specify check timeout'),
  interval: duration('- Specify check interval'),
  attempts: int({
    min: [1, '- Minimum attempts is 1'],
    max: [100, '- Maximum attempts is 100'],
    required: '- Minimum attempts is 1',
  }),
  initialDelay: duration().optional(),
});
export type CheckSpec = z.infer<typeof CheckSpecSchema>;

export const DeviceSpecSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('DIRECT'),
    pathOnHost: requiredString('- Specify device path on host'),
    pathInContainer: z.string().optional(),
    permissions: ciEnum(['READ_ONLY', 'WRITE_ONLY', 'MKNOD_ONLY', 'ALL', 'READ_WRITE'] as const).optional(),
  }),
  z.object({
    type: z.literal('DETAILED'),
    driver: z.string().optional(),
    count: z.number().int().optional(),
    deviceIds: z.array(z.string()).optional(),
    capabilities: z.array(z.array(z.string())).optional(),
    options: z.record(z.string(), z.string()).optional(),
  }),
]);
export type DeviceSpec = z.infer<typeof DeviceSpecSchema>;

export const PreShutdownSpecSchema = z.object({
  hooks: z.array(CheckModeSpecSchema).optional(),
  waitBeforeKill: duration().optional(),
});
export type PreShutdownSpec = z.infer<typeof PreShutdownSpecSchema>;

export const UserSpecSchema = z.object({
  user: requiredString('- Specify user'),
  group: z.string().optional(),
});
export type UserSpec = z.infer<typeof UserSpecSchema>;

export const JOB_TYPES = ['SERVICE', 'COMPUTATION', 'LOCAL_SERVICE'] as const;

export const LocalServiceSpecSchema = z.object({
  name: requiredString('- Service name is mandatory')
    .max(MAX_ID_PART_LENGTH, { error: `- Service name can be at most ${MAX_ID_PART_LENGTH} characters` })
    .regex(NAME_PATTERN, { error: CHARSET_MESSAGE }),
  version: requiredString('- Service version is mandatory')
    .max(MAX_ID_PART_LENGTH, { error: `- Service version can be at most ${MAX_ID_PART_LENGTH} characters` })
    .regex(NAME_PATTERN, { error: CHARSET_MESSAGE }),
  executable: z.object(DockerCoordinatesSchema.shape, {
    error: (i) => (i.input === undefined ? '- Executable details is required' : undefined),
  }),
  exposedPorts: z
    .array(PortSpecSchema, { error: (i) => (i.input === undefined ? '- Port specifications are needed' : undefined) })
    .min(1, { error: '- Port specifications are needed' }),
  volumes: z.array(MountedVolumeSchema).optional(),
  configs: z.array(ConfigSpecSchema).optional(),
  type: ciEnum(JOB_TYPES, '- Specify if job is a computation or a service'),
  logging: LoggingSpecSchema.optional(),
  resources: z
    .array(ResourceRequirementSchema, {
      error: (i) => (i.input === undefined ? '- CPU/Memory requirements must be specified' : undefined),
    })
    .min(1, { error: '- CPU/Memory requirements must be specified' }),
  placementPolicy: PlacementPolicySchema.optional(),
  healthcheck: z.object(CheckSpecSchema.shape, {
    error: (i) => (i.input === undefined ? '- Health check is mandatory' : undefined),
  }),
  readiness: z.object(CheckSpecSchema.shape, {
    error: (i) => (i.input === undefined ? '- Readiness check is mandatory' : undefined),
  }),
  tags: z.record(z.string(), z.string()).optional(),
  env: z.record(z.string(), z.string()).optional(),
  args: z.array(z.string()).max(2048, { error: '- Maximum 2048 arguments are allowed' }).optional(),
  devices: z.array(DeviceSpecSchema).optional(),
  preShutdown: PreShutdownSpecSchema.optional(),
  userSpec: UserSpecSchema.optional(),
  hostAccess: HostAccessSchema.optional(),
});
export type LocalServiceSpec = z.infer<typeof LocalServiceSpecSchema>;

/** CPU cores per instance (entries of one type are summed, as Drove does). */
export function cpuCount(spec: Pick<LocalServiceSpec, 'resources'>): number {
  return spec.resources.reduce((sum, r) => (r.type === 'CPU' ? sum + r.count : sum), 0);
}

export function memoryMb(spec: Pick<LocalServiceSpec, 'resources'>): number {
  return spec.resources.reduce((sum, r) => (r.type === 'MEMORY' ? sum + r.sizeInMB : sum), 0);
}

/** Host level: the LOCAL policy (alone or in its COMPOSITE, docs/design/placement.md#tag-constraints) says so. */
export function isHostLevel(spec: Pick<LocalServiceSpec, 'placementPolicy'>): boolean {
  return localPolicyOf(spec.placementPolicy)?.hostLevel === true;
}

/** The container shares the host's network namespace, so its ports are the host's (docs/host-access.md). */
export function usesHostNetwork(spec: Pick<LocalServiceSpec, 'hostAccess'>): boolean {
  return spec.hostAccess?.network === true;
}

/** What a masked secret reads as. */
export const MASKED = '***';

/**
 * A copy of the spec with secrets masked, for read APIs, whoever reads it. Never mutates the stored spec
 * (docs/design/api-compatibility.md#spec-masking).
 */
export function maskSpec(spec: LocalServiceSpec): LocalServiceSpec {
  const copy = structuredClone(spec);
  for (const config of copy.configs ?? []) {
    if (config.type === 'INLINE') config.data = '';
    if (config.type === 'CONTROLLER_HTTP_FETCH' || config.type === 'EXECUTOR_HTTP_FETCH') {
      if (config.http.username !== undefined) config.http.username = MASKED;
      if (config.http.password !== undefined) config.http.password = MASKED;
      if (config.http.authHeader !== undefined) config.http.authHeader = MASKED;
    }
  }
  return copy;
}

/**
 * `maskSpec`, and also env values and HTTP header values (docs/security.md): what READ_ONLY users and instance tokens
 * see. Env values often are credentials (DB passwords, API keys); names stay visible, and an empty value (the
 * executor's own environment fills it) stays empty, so the spec still says what the container gets.
 */
export function maskSpecForReaders(spec: LocalServiceSpec): LocalServiceSpec {
  const copy = maskSpec(spec);
  if (copy.env) copy.env = Object.fromEntries(Object.entries(copy.env).map(([name, value]) => [name, value === '' ? '' : MASKED]));
  for (const config of copy.configs ?? []) {
    if ((config.type === 'CONTROLLER_HTTP_FETCH' || config.type === 'EXECUTOR_HTTP_FETCH') && config.http.headers) {
      config.http.headers = Object.fromEntries(Object.keys(config.http.headers).map((name) => [name, MASKED]));
    }
  }
  return copy;
}
