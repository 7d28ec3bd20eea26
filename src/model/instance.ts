import { z } from 'zod';
import { HostAccessSchema } from './host-access.js';
import { LOCAL_SERVICE_INSTANCE_STATES } from './states.js';
import { PORT_TYPES } from './spec.js';

/**
 * Instance records as executors report them and the controller stores and serves them
 * (docs/design/api-compatibility.md#records-and-summaries).
 */

const numaMap = <T extends z.ZodType>(value: T) => z.record(z.string().regex(/^\d+$/), value);

export const ResourceAllocationSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('CPU'), cores: numaMap(z.array(z.number().int())) }),
  z.object({ type: z.literal('MEMORY'), memoryInMB: numaMap(z.number().int()) }),
]);
export type ResourceAllocation = z.infer<typeof ResourceAllocationSchema>;
export type CpuAllocation = Extract<ResourceAllocation, { type: 'CPU' }>;
export type MemoryAllocation = Extract<ResourceAllocation, { type: 'MEMORY' }>;

export const InstancePortSchema = z.object({
  containerPort: z.number().int(),
  hostPort: z.number().int(),
  portType: z.enum(PORT_TYPES),
});
export type InstancePort = z.infer<typeof InstancePortSchema>;

export const LocalInstanceInfoSchema = z.object({
  hostname: z.string(),
  ports: z.record(z.string(), InstancePortSchema),
});
export type LocalInstanceInfo = z.infer<typeof LocalInstanceInfoSchema>;

export const LocalServiceInstanceInfoSchema = z.object({
  serviceId: z.string().min(1),
  serviceName: z.string(),
  instanceId: z.string().min(1),
  executorId: z.string().min(1),
  localInfo: LocalInstanceInfoSchema.optional(),
  resources: z.array(ResourceAllocationSchema),
  state: z.enum(LOCAL_SERVICE_INSTANCE_STATES),
  metadata: z.record(z.string(), z.string()),
  errorMessage: z.string().default(''),
  created: z.number().int(),
  updated: z.number().int(),
  /**
   * drove-ts extension: the host namespaces and privileges the executor gave the container (docs/host-access.md).
   * Absent when none, so Drove's clients see Drove's record.
   */
  hostAccess: HostAccessSchema.optional().describe('drove-ts extension: host namespaces and privileges applied to the container; absent when none'),
});
export type LocalServiceInstanceInfo = z.infer<typeof LocalServiceInstanceInfoSchema>;

/**
 * Error messages whose meaning both sides rely on. The staleness sweep marks instances of a vanished executor
 * LOST with the first (the host is gone, not the instance broken); an executor whose image pull a stop request
 * interrupted writes the second (the controller asked for it). Neither is an instance failing.
 */
export const INSTANCE_LOST_MESSAGE = 'Instance lost';
export const PULL_INTERRUPTED_MESSAGE = 'Pull operation interrupted';

/**
 * `"name:port:type,..."` with lowercase type, as event metadata prints ports
 * (docs/design/api-compatibility.md#events).
 */
export function portsText(ports: Record<string, { port: number; type: string }>): string {
  return Object.entries(ports)
    .map(([name, p]) => `${name}:${p.port}:${p.type.toLowerCase()}`)
    .join(',');
}
