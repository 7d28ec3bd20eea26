import type { FastifyInstance } from 'fastify';
import { success } from '../../model/index.js';
import type { ApiContext } from './context.js';
import { commandValidationError } from './errors.js';
import { intQuery } from './localservices.js';

/** Poll-based event APIs (docs/design/api-compatibility.md#events). */

const DEFAULT_EVENT_PAGE = 1024;
const MAX_INT = 2_147_483_647;

type EventQuery = { Querystring: { lastSyncTime?: string; size?: string } };

export async function eventRoutes(app: FastifyInstance, { core }: ApiContext): Promise<void> {
  const parse = (query: EventQuery['Querystring'], withSize: boolean) => {
    const errors: string[] = [];
    const lastSyncTime = intQuery(query.lastSyncTime, 'lastSyncTime', 0, 0, Number.MAX_SAFE_INTEGER, errors);
    const size = withSize ? intQuery(query.size, 'size', DEFAULT_EVENT_PAGE, 0, MAX_INT, errors) : 0;
    if (errors.length > 0) throw commandValidationError(errors);
    return { lastSyncTime, size };
  };

  app.get<EventQuery>('/apis/v1/cluster/events/latest', async (request) => {
    const { lastSyncTime, size } = parse(request.query, true);
    return success(core.latestEvents(lastSyncTime, size));
  });

  app.get<EventQuery>('/apis/v1/cluster/events/summary', async (request) => {
    const { lastSyncTime } = parse(request.query, false);
    return success(core.eventsSummary(lastSyncTime));
  });

  // Deprecated in Drove but still what its Python CLI calls: a bare array with the same selection.
  app.get<EventQuery>('/apis/v1/cluster/events', async (request) => {
    const { lastSyncTime, size } = parse(request.query, true);
    return success(core.latestEvents(lastSyncTime, size).events);
  });
}
