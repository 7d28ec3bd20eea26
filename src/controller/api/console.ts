import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  EXECUTOR_STATES,
  FLEET_SORT_KEYS,
  issueMessages,
  success,
  type ConsoleWhoAmI,
  type FleetQuery,
} from '../../model/index.js';
import type { Authenticator } from './auth.js';
import type { ApiContext } from './context.js';
import { commandValidationError } from './errors.js';

/**
 * `/apis/v1/console/...`: reads the web console needs and Drove's API does not offer (docs/console.md). Drove's
 * routes stay as they are; these answer with the same envelopes and the same rules (read access, leader only).
 */

export interface ConsoleApiContext extends ApiContext {
  authenticator: Pick<Authenticator, 'permits' | 'userAuthEnabled'>;
  version: string;
}

/** One page of the grid: enough rows to fill a tall screen, few enough to render at once. */
const MAX_FLEET_PAGE = 500;
/** Hits of each kind in one search answer: a menu, not a report. */
const SEARCH_LIMIT = 20;

const text = z.string().max(200);
const repeated = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : [v]));
const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const FleetQuerySchema = z.object({
  from: integer(0, Number.MAX_SAFE_INTEGER).default(0),
  size: integer(1, MAX_FLEET_PAGE).default(100),
  text: text.optional(),
  state: z.enum(EXECUTOR_STATES).optional(),
  sort: z.enum(FLEET_SORT_KEYS).default('hostname'),
  order: z.enum(['asc', 'desc']).default('asc'),
  serviceId: repeated.optional(),
  since: integer(0, Number.MAX_SAFE_INTEGER).optional(),
});

const SearchQuerySchema = z.object({ q: text.default('') });

function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.output<S> {
  const result = schema.safeParse(query);
  if (result.success) return result.data;
  throw commandValidationError(issueMessages(result.error).map((message) => `query param ${message}`));
}

export async function consoleRoutes(app: FastifyInstance, { core, config, authenticator, version }: ConsoleApiContext): Promise<void> {
  app.get('/apis/v1/console/whoami', async (request) => {
    const principal = request.principal!;
    const answer: ConsoleWhoAmI = {
      name: principal.name,
      role: principal.role,
      authEnabled: authenticator.userAuthEnabled,
      permissions: {
        write: authenticator.permits(principal, 'write'),
        maintenance: authenticator.permits(principal, 'maintenance'),
        logs: authenticator.permits(principal, 'logs'),
      },
      view: config.view,
      version,
    };
    return success(answer);
  });

  app.get('/apis/v1/console/fleet', async (request) => {
    const { serviceId, ...rest } = parseQuery(FleetQuerySchema, request.query);
    const query: FleetQuery = { ...rest, ...(serviceId ? { serviceIds: serviceId } : {}) };
    return success(core.fleet(query));
  });

  app.get('/apis/v1/console/search', async (request) => {
    const { q } = parseQuery(SearchQuerySchema, request.query);
    return success(core.search(q, SEARCH_LIMIT));
  });
}
