import type { FastifyInstance } from 'fastify';
import { failure, success, type KnownInstancesData } from '../../model/index.js';
import type { ApiContext } from './context.js';

/**
 * Internal cluster APIs for executors (docs/design/executor-protocol.md#internal-apis), role DROVE_CLUSTER_NODE only.
 */
export async function internalRoutes(app: FastifyInstance, { core }: ApiContext): Promise<void> {
  app.get('/apis/v1/internal/cluster/resources/reserved', async () => success(core.reservedResources()));

  // No last-known snapshot means "nothing known": the executor then re-registers every container it finds.
  app.get<{ Params: { executorId: string } }>(
    '/apis/v1/internal/cluster/executors/:executorId/instances/last',
    async (request) => success(core.knownInstances(request.params.executorId, 'last') ?? emptyKnownInstances()),
  );

  app.get<{ Params: { executorId: string } }>(
    '/apis/v1/internal/cluster/executors/:executorId/instances/current',
    async (request) => {
      const data = core.knownInstances(request.params.executorId, 'current');
      return data ? success(data) : failure(`No data found for executor ${request.params.executorId}`);
    },
  );
}

function emptyKnownInstances(): KnownInstancesData {
  return {
    appInstanceIds: [],
    staleAppInstanceIds: [],
    taskInstanceIds: [],
    staleTaskInstanceIds: [],
    localServiceInstanceIds: [],
    staleLocalServiceInstanceIds: [],
  };
}
