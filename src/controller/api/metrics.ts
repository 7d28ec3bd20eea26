import type { FastifyInstance } from 'fastify';
import type { ControllerMetrics } from '../metrics/metrics.js';
import type { DiscoveryFilter } from '../queries/discovery.js';
import type { ApiContext } from './context.js';
import { commandValidationError } from './errors.js';

/**
 * `GET /metrics` (Prometheus text format, this controller's own: every controller answers, the leader adds the
 * cluster's state) and `GET /apis/v1/discovery/prometheus` (Prometheus `http_sd_configs`: the healthy instances of
 * local services as scrape targets). Who may call them: the route table (routes-access.ts); docs/metrics.md.
 */
export async function metricsRoutes(app: FastifyInstance, { core, metrics }: ApiContext & { metrics: ControllerMetrics }): Promise<void> {
  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.render(core.isLeader() ? core.metricsSnapshot() : undefined);
    return reply.type(metrics.contentType).send(text);
  });

  app.get<{ Querystring: Record<string, string | string[] | undefined> }>('/apis/v1/discovery/prometheus', async (request, reply) => {
    const targets = core.discoveryTargets(discoveryFilter(request.query));
    return reply.type('application/json').send(targets);
  });
}

const QUERY_PARAMS = ['service', 'tag', 'port'];
const MAX_PARAM_LENGTH = 256;

/**
 * `service` (repeatable: any of them), `tag` (repeatable: all of them; `<key>` or `<key>=<value>`), `port` (one
 * port name). No parameter: every local service, every named port. An unknown parameter is refused rather than
 * ignored: a misspelt filter (`services=`) would otherwise list every service.
 */
export function discoveryFilter(query: Record<string, string | string[] | undefined>): DiscoveryFilter {
  const errors: string[] = [];
  for (const name of Object.keys(query)) {
    if (!QUERY_PARAMS.includes(name)) errors.push(`query param ${name.slice(0, 40)} is not known; expected ${QUERY_PARAMS.join(', ')}`);
  }
  const values = (name: string) => {
    const raw = query[name];
    const list = raw === undefined ? [] : [raw].flat();
    for (const value of list) {
      if (value === '' || value.length > MAX_PARAM_LENGTH) errors.push(`query param ${name} must be 1 to ${MAX_PARAM_LENGTH} characters`);
    }
    return list;
  };
  const services = values('service');
  const tags = values('tag').map((text) => {
    const equals = text.indexOf('=');
    if (equals === 0) errors.push(`query param tag "${text.slice(0, 40)}" must be <key> or <key>=<value>`);
    return equals < 0 ? { key: text } : { key: text.slice(0, equals), value: text.slice(equals + 1) };
  });
  const ports = values('port');
  if (ports.length > 1) errors.push('query param port may be given once');
  if (errors.length > 0) throw commandValidationError(errors);
  return { services, tags, ...(ports[0] !== undefined ? { port: ports[0] } : {}) };
}
