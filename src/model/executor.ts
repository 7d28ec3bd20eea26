import { z } from 'zod';
import { EXECUTOR_STATES } from './states.js';
import { HostAccessSchema } from './host-access.js';
import { isInstanceId } from './ids.js';
import { LocalServiceInstanceInfoSchema, ResourceAllocationSchema } from './instance.js';
import type { PlacementPolicy } from './placement.js';
import {
  CheckSpecSchema,
  ConfigSpecSchema,
  DeviceSpecSchema,
  DockerCoordinatesSchema,
  LoggingSpecSchema,
  MountedVolumeSchema,
  PortSpecSchema,
  PreShutdownSpecSchema,
  UserSpecSchema,
  isServiceId,
} from './spec.js';

/** The controller <-> executor protocol (docs/design/executor-protocol.md): node data, resource snapshots, messages. */

const numaMap = <T extends z.ZodType>(value: T) => z.record(z.string().regex(/^\d+$/), value);

export const ExecutorResourceSnapshotSchema = z.object({
  executorId: z.string().min(1),
  cpus: z.object({
    type: z.literal('CPU'),
    freeCores: numaMap(z.array(z.number().int())),
    usedCores: numaMap(z.array(z.number().int())),
  }),
  memory: z.object({
    type: z.literal('MEMORY'),
    freeMemory: numaMap(z.number().int()),
    usedMemory: numaMap(z.number().int()),
  }),
  layout: z.object({ cores: numaMap(z.array(z.number().int())), memory: numaMap(z.number().int()) }),
});
export type ExecutorResourceSnapshot = z.infer<typeof ExecutorResourceSnapshotSchema>;

export const TRANSPORT_TYPES = ['HTTP', 'HTTPS'] as const;

/**
 * Ids in messages both ways are checked before anything is built from them (a `serviceId` of
 * `../../x` would otherwise reach `join(logDir, serviceId, ...)`); the message is then answered FAILED.
 */
const shown = (input: unknown) => JSON.stringify(input)?.slice(0, 80);
const messageServiceId = z.string().refine(isServiceId, {
  error: (issue) => `must be a local service id (<name>-<version> of letters, digits, - and _), got ${shown(issue.input)}`,
});
const messageInstanceId = z.string().refine(isInstanceId, {
  error: (issue) => `must be an instance id SI-<uuid>, got ${shown(issue.input)}`,
});

/**
 * An instance as an executor reports it (heartbeats and state reports): its ids become store keys, event
 * metadata and log URLs on the leader, so they are held to the same patterns as the ids the leader sends.
 */
const ReportedInstanceInfoSchema = LocalServiceInstanceInfoSchema.extend({
  serviceId: messageServiceId,
  instanceId: messageInstanceId,
});

export const ExecutorNodeDataSchema = z.object({
  type: z.literal('EXECUTOR'),
  hostname: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  transportType: z.enum(TRANSPORT_TYPES),
  updated: z.number().int(),
  state: ExecutorResourceSnapshotSchema,
  instances: z.array(z.unknown()).default([]),
  tasks: z.array(z.unknown()).default([]),
  serviceInstances: z.array(ReportedInstanceInfoSchema),
  tags: z.array(z.string()),
  metadata: z.record(z.string(), z.string()).default({}),
  executorState: z.enum(EXECUTOR_STATES),
});
export type ExecutorNodeData = z.infer<typeof ExecutorNodeDataSchema>;

export const LocalServiceInstanceSpecSchema = z.object({
  serviceId: messageServiceId,
  serviceName: z.string().min(1),
  instanceId: messageInstanceId,
  executable: DockerCoordinatesSchema,
  resources: z.array(ResourceAllocationSchema),
  ports: z.array(PortSpecSchema),
  hostLevelInstance: z.boolean(),
  volumes: z.array(MountedVolumeSchema).optional(),
  configs: z.array(ConfigSpecSchema).optional(),
  healthcheck: CheckSpecSchema,
  readiness: CheckSpecSchema,
  loggingSpec: LoggingSpecSchema.optional(),
  env: z.record(z.string(), z.string()).optional(),
  args: z.array(z.string()).optional(),
  devices: z.array(DeviceSpecSchema).optional(),
  preShutdown: PreShutdownSpecSchema.optional(),
  userSpec: UserSpecSchema.optional(),
  instanceAuthToken: z.string().optional(),
  /** drove-ts extension (docs/host-access.md); Drove's executors ignore it, Drove's controllers never send it. */
  hostAccess: HostAccessSchema.optional(),
});
export type LocalServiceInstanceSpec = z.infer<typeof LocalServiceInstanceSpecSchema>;

export const MessageHeaderSchema = z.object({
  id: z.string().min(1),
  senderType: z.enum(['CONTROLLER', 'EXECUTOR']),
  direction: z.enum(['REQUEST', 'REPLY']),
  replyToId: z.string().optional(),
  messageTime: z.number().int(),
});
export type MessageHeader = z.infer<typeof MessageHeaderSchema>;

export const ExecutorAddressSchema = z.object({
  executorId: z.string().min(1),
  hostname: z.string().min(1),
  port: z.number().int(),
  transportType: z.enum(TRANSPORT_TYPES),
});
export type ExecutorAddress = z.infer<typeof ExecutorAddressSchema>;

/** Messages the controller sends to an executor. */
export const ExecutorMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('START_LOCAL_SERVICE_INSTANCE'),
    header: MessageHeaderSchema,
    address: ExecutorAddressSchema,
    spec: LocalServiceInstanceSpecSchema,
  }),
  z.object({
    type: z.literal('STOP_LOCAL_SERVICE_INSTANCE'),
    header: MessageHeaderSchema,
    address: ExecutorAddressSchema,
    instanceId: messageInstanceId,
  }),
  z.object({ type: z.literal('BLACKLIST_REQUESTED'), header: MessageHeaderSchema, address: ExecutorAddressSchema }),
  z.object({ type: z.literal('BLACKLIST'), header: MessageHeaderSchema, address: ExecutorAddressSchema }),
  z.object({ type: z.literal('UNBLACKLIST'), header: MessageHeaderSchema, address: ExecutorAddressSchema }),
]);
export type ExecutorMessage = z.infer<typeof ExecutorMessageSchema>;

/** Messages an executor sends to the leader. */
export const ControllerMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('LOCAL_SERVICE_INSTANCE_STATE_REPORT'),
    header: MessageHeaderSchema,
    resourceSnapshot: ExecutorResourceSnapshotSchema,
    instanceInfo: ReportedInstanceInfoSchema,
  }),
  z.object({ type: z.literal('EXECUTOR_SNAPSHOT'), header: MessageHeaderSchema, nodeData: ExecutorNodeDataSchema }),
  /**
   * drove-ts extension: several instance reports in one message, applied by the leader in one store
   * transaction (executors batch when many instances change together).
   */
  z.object({
    type: z.literal('LOCAL_SERVICE_INSTANCE_STATE_REPORTS'),
    header: MessageHeaderSchema,
    resourceSnapshot: ExecutorResourceSnapshotSchema,
    instanceInfos: z.array(ReportedInstanceInfoSchema),
  }),
]);
export type ControllerMessage = z.infer<typeof ControllerMessageSchema>;

export const MESSAGE_RESPONSE_STATUSES = ['ACCEPTED', 'FAILED', 'REJECTED', 'HANDLED'] as const;
export type MessageResponseStatus = (typeof MESSAGE_RESPONSE_STATUSES)[number];
export interface MessageResponse {
  header: MessageHeader;
  status: MessageResponseStatus;
  /** drove-ts extension: why a message was not accepted (Drove's executors only log it). */
  message?: string;
}

/** `KnownInstancesData` (docs/design/executor-protocol.md#internal-apis); apps and tasks are always empty here. */
export interface KnownInstancesData {
  appInstanceIds: string[];
  staleAppInstanceIds: string[];
  taskInstanceIds: string[];
  staleTaskInstanceIds: string[];
  localServiceInstanceIds: string[];
  staleLocalServiceInstanceIds: string[];
}

/**
 * `LocalServiceInstanceResources`: what an UNREADY executor must run before it turns ACTIVE
 * (docs/design/placement.md#readiness-gating).
 */
export interface LocalServiceInstanceResources {
  cpus: number;
  memory: number;
  requiredInstances: Record<string, number>;
  /**
   * drove-ts extension (docs/design/placement.md#tag-constraints): the placement policy of every service in `requiredInstances` that has a
   * tag constraint. An executor whose own tags do not satisfy it does not wait for that service's instances, which
   * are never placed there. The executor judges by its own tags, which are newer than any the leader has heard.
   */
  placementPolicies?: Record<string, PlacementPolicy>;
}

export const CLUSTER_AUTH_HEADER = 'Cluster-Authorization';
export const NODE_ID_HEADER = 'NodeId';
