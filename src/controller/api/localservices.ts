import type { FastifyInstance, FastifyReply } from 'fastify';
import {
  LOCAL_SERVICE_INSTANCE_STATES,
  LocalServiceOperationSchema,
  LocalServiceSpecSchema,
  MAINTENANCE_MESSAGE,
  failure,
  maskSpecForReaders,
  success,
  type LocalServiceInstanceState,
  type LocalServiceSummary,
} from '../../model/index.js';
import { hasRole } from './auth.js';
import type { ApiContext } from './context.js';
import { commandValidationError, failedError } from './errors.js';
import { sendRecordList } from './record-list.js';
import { parseBody } from './validation.js';

/** `/apis/v1/localservices/...` (docs/design/api-compatibility.md#rest-endpoints). */

/** Drove's `size` bound: Integer.MAX_VALUE - 1. */
const MAX_PAGE_SIZE = 2_147_483_646;

interface ServiceParams {
  serviceId: string;
}

export async function localServiceRoutes(app: FastifyInstance, { core }: ApiContext): Promise<void> {
  const guardMaintenance = () => {
    if (core.inMaintenanceWindow()) throw commandValidationError([MAINTENANCE_MESSAGE]);
  };

  app.post('/apis/v1/localservices/validate/spec', async (request) => {
    const spec = parseBody(LocalServiceSpecSchema, request.body);
    guardMaintenance();
    const errors = core.validateSpec(spec);
    if (errors.length > 0) throw commandValidationError(errors);
    return success({ valid: true });
  });

  app.post('/apis/v1/localservices/operations', async (request) => {
    const operation = parseBody(LocalServiceOperationSchema, request.body);
    guardMaintenance();
    const result = await core.submitOperation(operation, { requestId: request.id });
    if (!result.ok) throw commandValidationError(result.errors);
    return success({ serviceId: result.serviceId });
  });

  app.post<{ Params: ServiceParams }>(
    '/apis/v1/localservices/operations/:serviceId/cancel',
    async (request) => {
      if (!core.cancelOperation(request.params.serviceId)) {
        throw failedError(400, 'Current operation could not be cancelled');
      }
      // Drove omits `data` here; the Python CLI prints the envelope's message because of it.
      return success();
    },
  );

  app.get<{ Querystring: { from?: string; size?: string } }>('/apis/v1/localservices', async (request) => {
    const errors: string[] = [];
    const from = intQuery(request.query.from, 'from', 0, 0, Number.MAX_SAFE_INTEGER, errors);
    const size = intQuery(request.query.size, 'size', MAX_PAGE_SIZE, 0, MAX_PAGE_SIZE, errors);
    if (errors.length > 0) throw commandValidationError(errors);
    const services = core.listServices(from, size);
    return success(Object.fromEntries(Object.entries(services).map(([id, summary]) => [id, inDroveOrder(summary)])));
  });

  app.get<{ Params: ServiceParams }>('/apis/v1/localservices/:serviceId', async (request, reply) => {
    const summary = core.serviceSummary(request.params.serviceId);
    return summary ? success(inDroveOrder(summary)) : notFound(reply, request.params.serviceId);
  });

  app.get<{ Params: ServiceParams }>('/apis/v1/localservices/:serviceId/spec', async (request, reply) => {
    const spec = core.serviceSpec(request.params.serviceId);
    if (!spec) return notFound(reply, request.params.serviceId);
    // Env and header values are for those who may change the service (docs/security.md).
    return success(hasRole(request.principal, 'write') ? spec : maskSpecForReaders(spec));
  });

  app.get<{ Params: ServiceParams; Querystring: { state?: string | string[] } }>(
    '/apis/v1/localservices/:serviceId/instances',
    async (request, reply) => {
      const states = parseStates(request.query.state);
      return sendRecordList(reply, core.serviceInstances(request.params.serviceId, states));
    },
  );

  // Registered as a static route, so fastify's router prefers it over `/instances/:instanceId`, as Drove's does.
  app.get<{ Params: ServiceParams }>('/apis/v1/localservices/:serviceId/instances/old', async (request, reply) =>
    sendRecordList(reply, core.oldServiceInstances(request.params.serviceId)),
  );

  app.get<{ Params: ServiceParams & { instanceId: string } }>(
    '/apis/v1/localservices/:serviceId/instances/:instanceId',
    async (request) => {
      const { serviceId, instanceId } = request.params;
      const instance = core.serviceInstance(serviceId, instanceId);
      return instance ? success(instance) : failure(`No such local service instance ${serviceId}/${instanceId}`);
    },
  );
}

/**
 * `LocalServiceSummary` with Drove's key order (Java field order; `state` omitted when absent), which the
 * Python CLI's `summary` dump and `--json` outputs show as is. drove-ts's extensions, which Drove's clients ignore,
 * come after Drove's keys: `requiredInstances` (docs/design/placement.md#tag-constraints), then `crashLoops` when
 * there is one (docs/design/crash-loop-backoff.md).
 */
export function inDroveOrder(s: LocalServiceSummary): LocalServiceSummary {
  return {
    id: s.id,
    name: s.name,
    instancesPerHost: s.instancesPerHost,
    healthyInstances: s.healthyInstances,
    totalCPUs: s.totalCPUs,
    totalMemory: s.totalMemory,
    tags: s.tags,
    activationState: s.activationState,
    ...(s.state !== undefined ? { state: s.state } : {}),
    created: s.created,
    updated: s.updated,
    ...(s.requiredInstances !== undefined ? { requiredInstances: s.requiredInstances } : {}),
    ...(s.crashLoops ? { crashLoops: s.crashLoops } : {}),
  };
}

function notFound(reply: FastifyReply, serviceId: string) {
  reply.code(200);
  return failure(`Local service ${serviceId} not found`);
}

/** Parses an integer query parameter, collecting Dropwizard-style messages naming the parameter. */
export function intQuery(
  raw: string | string[] | undefined,
  name: string,
  fallback: number,
  min: number,
  max: number,
  errors: string[],
): number {
  const text = Array.isArray(raw) ? raw[raw.length - 1] : raw;
  if (text === undefined || text === '') return fallback;
  if (!/^-?\d+$/.test(text.trim())) {
    errors.push(`query param ${name} must be an integer, got "${text.slice(0, 40)}"`);
    return fallback;
  }
  const value = Number(text.trim());
  if (value < min) errors.push(`query param ${name} must be greater than or equal to ${min}`);
  else if (value > max) errors.push(`query param ${name} must be less than or equal to ${max}`);
  return value;
}

function parseStates(raw: string | string[] | undefined): LocalServiceInstanceState[] | undefined {
  if (raw === undefined) return undefined;
  const values = Array.isArray(raw) ? raw : [raw];
  const known = new Set<string>(LOCAL_SERVICE_INSTANCE_STATES);
  const bad = values.filter((v) => !known.has(v));
  if (bad.length > 0) {
    throw commandValidationError(
      bad.map((v) => `query param state "${v.slice(0, 40)}" is not a local service instance state; expected one of ${LOCAL_SERVICE_INSTANCE_STATES.join(', ')}`),
    );
  }
  return values as LocalServiceInstanceState[];
}
