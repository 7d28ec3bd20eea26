import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  ClusterOpSpecSchema,
  ControllerMessageSchema,
  CrashLoopSummarySchema,
  LocalServiceInstanceInfoSchema,
  LocalServiceOperationSchema,
  LocalServiceSpecSchema,
  ExecutorNodeDataSchema,
} from '../../model/index.js';
import { ROUTE_ACCESS, rolesOf, ruleOf, type Access } from './routes-access.js';

/**
 * `GET /apis/openapi.json`: an OpenAPI 3.1 document whose request and model schemas are generated from the same
 * zod schemas the API validates with, so the document cannot drift from the behaviour.
 */

const MODELS = {
  LocalServiceSpec: LocalServiceSpecSchema,
  LocalServiceOperation: LocalServiceOperationSchema,
  ClusterOpSpec: ClusterOpSpecSchema,
  LocalServiceInstanceInfo: LocalServiceInstanceInfoSchema,
  ExecutorNodeData: ExecutorNodeDataSchema,
  ControllerMessage: ControllerMessageSchema,
  LocalServiceCrashLoop: CrashLoopSummarySchema,
} as const;

type Operation = {
  summary: string;
  body?: keyof typeof MODELS;
  data?: string;
  params?: string[];
  query?: Array<{ name: string; description: string; array?: boolean }>;
  /** A route that does not answer Drove's envelope: its own success response (schema when it has one) and the statuses it answers. */
  answers?: { contentType: string; description: string; schema?: Record<string, unknown>; statuses?: Record<string, string> };
};

const PATHS: Record<string, Record<'get' | 'post', Operation | undefined>> = {} as never;
function route(method: 'get' | 'post', path: string, op: Operation) {
  (PATHS[path] ??= { get: undefined, post: undefined })[method] = op;
}

route('post', '/apis/v1/localservices/validate/spec', { summary: 'Validate a local service spec', body: 'LocalServiceSpec', data: '{"valid": true}' });
route('post', '/apis/v1/localservices/operations', { summary: 'Submit a local service operation', body: 'LocalServiceOperation', data: '{"serviceId": "<id>"}' });
route('post', '/apis/v1/localservices/operations/{serviceId}/cancel', { summary: 'Cancel the running operation', params: ['serviceId'] });
route('get', '/apis/v1/localservices', { summary: 'List local services (map keyed by service id)', data: 'map of LocalServiceSummary; drove-ts adds `requiredInstances` (instances the service should have on the executors its tag constraint admits) and `crashLoops: LocalServiceCrashLoop[]` when a service has any', query: [{ name: 'from', description: 'offset, >= 0' }, { name: 'size', description: '0..2147483646' }] });
route('get', '/apis/v1/localservices/{serviceId}', { summary: 'Local service summary', params: ['serviceId'], data: 'LocalServiceSummary; drove-ts adds `requiredInstances` (instances the service should have on the executors its tag constraint admits) and `crashLoops: LocalServiceCrashLoop[]` when the service has any' });
route('get', '/apis/v1/localservices/{serviceId}/spec', { summary: 'Local service spec, secrets masked', params: ['serviceId'], data: 'LocalServiceSpec' });
route('get', '/apis/v1/localservices/{serviceId}/instances', { summary: 'Active, fresh instances', params: ['serviceId'], query: [{ name: 'state', description: 'instance state filter', array: true }], data: 'LocalServiceInstanceInfo[]' });
route('get', '/apis/v1/localservices/{serviceId}/instances/old', { summary: 'Instances in non-active states', params: ['serviceId'], data: 'LocalServiceInstanceInfo[]' });
route('get', '/apis/v1/localservices/{serviceId}/instances/{instanceId}', { summary: 'One instance, any state', params: ['serviceId', 'instanceId'], data: 'LocalServiceInstanceInfo' });
route('get', '/apis/v1/ping', { summary: 'Leader probe', data: '"pong"' });
route('get', '/apis/v1/cluster', { summary: 'Cluster summary' });
route('get', '/apis/v1/cluster/dashboard', { summary: 'Dashboard data' });
route('post', '/apis/v1/cluster/maintenance/set', { summary: 'Enter maintenance mode' });
route('post', '/apis/v1/cluster/maintenance/unset', { summary: 'Leave maintenance mode' });
route('get', '/apis/v1/cluster/executors', { summary: 'Executor summaries' });
route('get', '/apis/v1/cluster/executors/{executorId}', { summary: 'Executor node data', params: ['executorId'], data: 'ExecutorNodeData' });
route('post', '/apis/v1/cluster/executors/blacklist', { summary: 'Blacklist executors', query: [{ name: 'id', description: 'executor id', array: true }] });
route('post', '/apis/v1/cluster/executors/unblacklist', { summary: 'Unblacklist executors', query: [{ name: 'id', description: 'executor id', array: true }] });
route('post', '/apis/v1/cluster/executors/{executorId}/blacklist', { summary: 'Blacklist one executor', params: ['executorId'] });
route('post', '/apis/v1/cluster/executors/{executorId}/unblacklist', { summary: 'Unblacklist one executor', params: ['executorId'] });
route('get', '/apis/v1/cluster/events/latest', { summary: 'Events newer than lastSyncTime, newest first', query: [{ name: 'lastSyncTime', description: 'epoch ms' }, { name: 'size', description: 'max events' }] });
route('get', '/apis/v1/cluster/events/summary', { summary: 'Event counts by type', query: [{ name: 'lastSyncTime', description: 'epoch ms' }] });
route('get', '/apis/v1/cluster/events', { summary: 'Deprecated: bare event array', query: [{ name: 'lastSyncTime', description: 'epoch ms' }, { name: 'size', description: 'max events' }] });
route('get', '/apis/v1/cluster/events/stream', {
  summary: 'Events as server-sent events (docs/events.md): id, event type, and the event as the poll API returns it; resumable with the Last-Event-ID header',
  query: [
    { name: 'type', description: 'only events of these types', array: true },
    { name: 'serviceId', description: 'only events of these local services', array: true },
    { name: 'lastEventId', description: 'as the Last-Event-ID header (which wins): resume after this id; 0 = every event held' },
  ],
  answers: {
    contentType: 'text/event-stream',
    description: 'An endless stream: `id`/`event`/`data` messages, `event: lost` where a resume cannot be complete, `:` heartbeats',
    statuses: { '429': 'Too many event streams open' },
  },
});
route('get', '/livez', {
  summary: 'Liveness: the process answers (no credentials)',
  answers: { contentType: 'application/json', description: '{"live": true}' },
});
route('get', '/readyz', {
  summary: 'Readiness: 200 on the leader, 503 elsewhere, with the leader when known (no credentials)',
  answers: {
    contentType: 'application/json',
    description: '{"ready": true, "leader": "host:port"}',
    statuses: { '503': '{"ready": false, "leader": "host:port" | null, "reason": "..."}' },
  },
});
route('get', '/apis/v1/logfiles/localservices/{serviceId}/{instanceId}/list', { summary: 'Log files of an instance (raw JSON)', params: ['serviceId', 'instanceId'] });
route('get', '/apis/v1/logfiles/localservices/{serviceId}/{instanceId}/read/{fileName}', { summary: 'Read a log chunk (raw JSON)', params: ['serviceId', 'instanceId', 'fileName'], query: [{ name: 'offset', description: '-1 = tail start' }, { name: 'length', description: '-1 = 32768' }] });
route('get', '/apis/v1/logfiles/localservices/{serviceId}/{instanceId}/download/{fileName}', { summary: 'Download a log file', params: ['serviceId', 'instanceId', 'fileName'], query: [{ name: 'rename', description: 'true: timestamped file name' }] });
route('get', '/apis/v1/internal/cluster/resources/reserved', { summary: 'Resources executors must reserve for local services, with the placement policies of tag-constrained ones' });
route('get', '/apis/v1/internal/cluster/executors/{executorId}/instances/last', { summary: 'Known instances from the last snapshot', params: ['executorId'] });
route('get', '/apis/v1/internal/cluster/executors/{executorId}/instances/current', { summary: 'Known instances from the current snapshot', params: ['executorId'] });
route('get', '/apis/v1/console/whoami', { summary: 'Web console: the caller, what it may do, the installation banner', data: 'ConsoleWhoAmI (src/model/console.ts)' });
route('get', '/apis/v1/console/fleet', {
  summary: 'Web console: a page of executors with the instance states of each service there, and rollout progress',
  query: [
    { name: 'from', description: 'offset, >= 0' },
    { name: 'size', description: '1..500, default 100' },
    { name: 'text', description: 'executor id, hostname or tag contains this (case-insensitive)' },
    { name: 'state', description: 'executor state' },
    { name: 'sort', description: 'hostname (default), executorId, state, freeCores, freeMemory, instances' },
    { name: 'order', description: 'asc (default) or desc' },
    { name: 'serviceId', description: 'only these services', array: true },
    { name: 'since', description: 'epoch ms: progress counts only instances created since' },
  ],
  data: 'FleetPage (src/model/console.ts)',
});
route('get', '/apis/v1/console/search', { summary: 'Web console: services, executors and instance ids containing q', query: [{ name: 'q', description: 'text, at most 200 characters' }], data: 'ConsoleSearchResult (src/model/console.ts)' });
route('post', '/apis/v1/messages', { summary: 'Executor -> leader message', body: 'ControllerMessage' });
route('get', '/metrics', {
  summary: "This controller's metrics in Prometheus text format (docs/metrics.md); answered by followers too",
  answers: { contentType: 'text/plain; version=0.0.4', description: 'Prometheus text exposition format', schema: { type: 'string' } },
});
route('get', '/apis/v1/discovery/prometheus', {
  summary: 'Healthy instances as Prometheus http_sd_configs target groups; a follower redirects (307) to the leader',
  query: [
    { name: 'service', description: 'local service id (any of them; default every service)', array: true },
    { name: 'tag', description: '<key> or <key>=<value> the service must carry (all of them)', array: true },
    { name: 'port', description: 'only the port of this name (default every named port)' },
  ],
  answers: {
    contentType: 'application/json',
    description: 'http_sd target groups',
    schema: {
      type: 'array',
      items: {
        type: 'object',
        required: ['targets', 'labels'],
        properties: { targets: { type: 'array', items: { type: 'string' } }, labels: { type: 'object', additionalProperties: { type: 'string' } } },
      },
    },
  },
});

export function buildOpenApiDocument(): Record<string, unknown> {
  const schemas: Record<string, unknown> = {
    ApiResponse: {
      type: 'object',
      required: ['status', 'message'],
      properties: { status: { enum: ['SUCCESS', 'FAILED'] }, data: {}, message: { type: 'string' } },
    },
  };
  for (const [name, schema] of Object.entries(MODELS)) {
    const json = z.toJSONSchema(schema as z.ZodType, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    delete json.$schema;
    schemas[name] = json;
  }
  const paths: Record<string, unknown> = {};
  for (const [path, methods] of Object.entries(PATHS)) {
    const item: Record<string, unknown> = {};
    for (const method of ['get', 'post'] as const) {
      const op = methods[method];
      if (!op) continue;
      const access = accessOf(method, path);
      item[method] = {
        summary: op.summary,
        description: `Roles: ${rolesOf(access)}.${op.data ? ` Success data: ${op.data}.` : ''}`,
        security:
          access === 'public'
            ? []
            : access === 'cluster'
              ? [{ clusterSecret: [] }]
              : access === 'metrics'
                ? [{}, { bearer: [] }, { basic: [] }]
                : [{ basic: [] }],
        parameters: [
          ...(op.params ?? []).map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
          ...(op.query ?? []).map((q) => ({
            name: q.name,
            in: 'query',
            description: q.description,
            schema: q.array ? { type: 'array', items: { type: 'string' } } : { type: 'string' },
            ...(q.array ? { style: 'form', explode: true } : {}),
          })),
        ],
        ...(op.body
          ? { requestBody: { required: true, content: { 'application/json': { schema: { $ref: `#/components/schemas/${op.body}` } } } } }
          : {}),
        responses: op.answers && access === 'public'
          ? {
              '200': ownAnswer(op.answers),
              ...describe(op.answers.statuses),
            }
          : {
              '200': op.answers
                ? ownAnswer(op.answers)
                : { description: 'Drove envelope', content: { 'application/json': { schema: { $ref: '#/components/schemas/ApiResponse' } } } },
              '400': { description: 'Validation failure, or this controller is not the leader' },
              '401': { description: 'Credentials are required' },
              '403': { description: 'Role not allowed' },
              ...describe(op.answers?.statuses),
            },
      };
    }
    paths[path] = item;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'drove-ts controller API', version: '1', description: 'Drove-compatible local services API' },
    paths,
    components: {
      schemas,
      securitySchemes: {
        basic: { type: 'http', scheme: 'basic' },
        clusterSecret: { type: 'apiKey', in: 'header', name: 'Cluster-Authorization' },
        bearer: { type: 'http', scheme: 'bearer', description: 'monitoring.bearerToken (GET /metrics only)' },
      },
    },
  };
}

/** The 200 of a route that answers something else than Drove's envelope. */
function ownAnswer(answers: NonNullable<Operation['answers']>): { description: string; content: Record<string, unknown> } {
  return { description: answers.description, content: { [answers.contentType]: answers.schema ? { schema: answers.schema } : {} } };
}

function describe(statuses: Record<string, string> | undefined): Record<string, { description: string }> {
  return Object.fromEntries(Object.entries(statuses ?? {}).map(([status, description]) => [status, { description }]));
}

/** The route table's rule for a documented path (`{id}` there, `:id` in the table): one source of who may call what. */
function accessOf(method: 'get' | 'post', path: string): Access {
  const rule = ruleOf(ROUTE_ACCESS, method.toUpperCase(), path.replace(/\{(\w+)\}/g, ':$1'));
  if (!rule) throw new Error(`openapi.ts documents ${method} ${path}, which the route table does not know`);
  return rule.access;
}

export async function openApiRoutes(app: FastifyInstance): Promise<void> {
  const document = buildOpenApiDocument();
  app.get('/apis/openapi.json', async () => document);
}
