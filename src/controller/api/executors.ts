import type { FastifyInstance } from 'fastify';
import { failure, success } from '../../model/index.js';
import type { ApiContext } from './context.js';
import { commandValidationError } from './errors.js';

/**
 * `/apis/v1/cluster/executors...`: listing, node data, blacklisting (docs/design/placement.md#blacklisted-executors).
 */
export async function executorRoutes(app: FastifyInstance, { core }: ApiContext): Promise<void> {
  app.get('/apis/v1/cluster/executors', async () => success(core.executorSummaries()));

  app.get<{ Params: { executorId: string } }>('/apis/v1/cluster/executors/:executorId', async (request) => {
    const data = core.executorNodeData(request.params.executorId);
    return data ? success(data) : failure(`No executor found with id: ${request.params.executorId}`);
  });

  // The bulk forms are static routes, so they win over `/:executorId/blacklist` only for the literal path.
  app.post<{ Querystring: { id?: string | string[] } }>('/apis/v1/cluster/executors/blacklist', async (request) =>
    success(await core.blacklist(idsFromQuery(request.query.id))),
  );
  app.post<{ Querystring: { id?: string | string[] } }>(
    '/apis/v1/cluster/executors/unblacklist',
    async (request) => success(await core.unblacklist(idsFromQuery(request.query.id))),
  );
  app.post<{ Params: { executorId: string } }>('/apis/v1/cluster/executors/:executorId/blacklist', async (request) =>
    success(await core.blacklist([request.params.executorId])),
  );
  app.post<{ Params: { executorId: string } }>(
    '/apis/v1/cluster/executors/:executorId/unblacklist',
    async (request) => success(await core.unblacklist([request.params.executorId])),
  );
}

function idsFromQuery(raw: string | string[] | undefined): string[] {
  const ids = (raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]).filter((id) => id.trim() !== '');
  if (ids.length === 0) throw commandValidationError(['query param id must name at least one executor (?id=<executorId>)']);
  return [...new Set(ids)];
}
