import { z } from 'zod';
import { ciEnum, duration, int, requiredString } from './schema-helpers.js';
import { LocalServiceSpecSchema } from './spec.js';
import { serviceIdOf } from './ids.js';

/** Local-service operations as accepted on `POST /apis/v1/localservices/operations` (docs/design/operations.md). */

export const ClusterOpSpecSchema = z.object({
  timeout: duration('- Specify operation timeout'),
  parallelism: int({
    min: [1, '- Parallelism must be between 1 and 512'],
    max: [512, '- Parallelism must be between 1 and 512'],
    required: '- Parallelism must be between 1 and 512',
  }),
  failureStrategy: ciEnum(['STOP', 'ROLLBACK'] as const, '- Specify failure strategy'),
});
export type ClusterOpSpec = z.infer<typeof ClusterOpSpecSchema>;

export const LOCAL_SERVICE_OPERATION_TYPES = [
  'CREATE',
  'ACTIVATE',
  'DEACTIVATE',
  'RESTART',
  'ADJUST_INSTANCES',
  'DEPLOY_TEST_INSTANCE',
  'REPLACE_INSTANCES',
  'STOP_INSTANCES',
  'UPDATE_INSTANCE_COUNT',
  'DESTROY',
] as const;
export type LocalServiceOperationType = (typeof LOCAL_SERVICE_OPERATION_TYPES)[number];

const serviceId = requiredString('- Service id is mandatory');
const instancesPerHost = int({
  min: [1, '- Instances per host must be between 1 and 256'],
  max: [256, '- Instances per host must be between 1 and 256'],
  required: '- Instances per host must be between 1 and 256',
});
/** Drove's REPLACE/STOP take a set; duplicates collapse. */
const instanceIdSet = z.array(z.string()).transform((ids) => [...new Set(ids)]);

/** Every op that takes an op spec accepts both spellings; `opSpec` wins (docs/design/operations.md#op-spec). */
const opSpecFields = {
  opSpec: ClusterOpSpecSchema.optional(),
  clusterOpSpec: ClusterOpSpecSchema.optional(),
};

const simple = <T extends string>(type: T) => z.object({ type: z.literal(type), serviceId });

const RawOperationSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('CREATE'), spec: LocalServiceSpecSchema, instancesPerHost }),
  simple('ACTIVATE'),
  simple('DEACTIVATE'),
  simple('STOP'),
  simple('DEPLOY_TEST_INSTANCE'),
  simple('DESTROY'),
  z.object({ type: z.literal('UPDATE_INSTANCE_COUNT'), serviceId, instancesPerHost }),
  z.object({ type: z.literal('ADJUST_INSTANCES'), serviceId, ...opSpecFields }),
  z.object({ type: z.literal('RESTART'), serviceId, stopFirst: z.boolean().default(false), ...opSpecFields }),
  z.object({
    type: z.literal('REPLACE_INSTANCES'),
    serviceId,
    instanceIds: instanceIdSet.default([]),
    stopFirst: z.boolean().default(false),
    ...opSpecFields,
  }),
  z.object({
    type: z.literal('STOP_INSTANCES'),
    serviceId,
    instanceIds: z
      .array(z.string(), { error: (i) => (i.input === undefined ? '- Instance ids are mandatory' : undefined) })
      .min(1, { error: '- Instance ids are mandatory' })
      .transform((ids) => [...new Set(ids)]),
    ...opSpecFields,
  }),
]);

export type CreateOperation = { type: 'CREATE'; spec: z.infer<typeof LocalServiceSpecSchema>; instancesPerHost: number };
export type LocalServiceOperation =
  | CreateOperation
  | { type: 'ACTIVATE' | 'DEACTIVATE' | 'DEPLOY_TEST_INSTANCE' | 'DESTROY'; serviceId: string }
  | { type: 'UPDATE_INSTANCE_COUNT'; serviceId: string; instancesPerHost: number }
  | { type: 'ADJUST_INSTANCES'; serviceId: string; opSpec?: ClusterOpSpec }
  | { type: 'RESTART'; serviceId: string; stopFirst: boolean; opSpec?: ClusterOpSpec }
  | { type: 'REPLACE_INSTANCES'; serviceId: string; instanceIds: string[]; stopFirst: boolean; opSpec?: ClusterOpSpec }
  | { type: 'STOP_INSTANCES'; serviceId: string; instanceIds: string[]; opSpec?: ClusterOpSpec };

/** Parses and normalises: `STOP` becomes DEACTIVATE, `clusterOpSpec` folds into `opSpec`. */
export const LocalServiceOperationSchema = RawOperationSchema.transform((raw): LocalServiceOperation => {
  switch (raw.type) {
    case 'STOP':
      return { type: 'DEACTIVATE', serviceId: raw.serviceId };
    case 'ADJUST_INSTANCES':
      return { type: raw.type, serviceId: raw.serviceId, ...withOpSpec(raw) };
    case 'RESTART':
      return { type: raw.type, serviceId: raw.serviceId, stopFirst: raw.stopFirst, ...withOpSpec(raw) };
    case 'REPLACE_INSTANCES':
      return {
        type: raw.type,
        serviceId: raw.serviceId,
        instanceIds: raw.instanceIds,
        stopFirst: raw.stopFirst,
        ...withOpSpec(raw),
      };
    case 'STOP_INSTANCES':
      return { type: raw.type, serviceId: raw.serviceId, instanceIds: raw.instanceIds, ...withOpSpec(raw) };
    default:
      return raw;
  }
});

function withOpSpec(raw: { opSpec?: ClusterOpSpec; clusterOpSpec?: ClusterOpSpec }): { opSpec?: ClusterOpSpec } {
  const spec = raw.opSpec ?? raw.clusterOpSpec;
  return spec ? { opSpec: spec } : {};
}

export function operationServiceId(op: LocalServiceOperation): string {
  return op.type === 'CREATE' ? serviceIdOf(op.spec) : op.serviceId;
}

