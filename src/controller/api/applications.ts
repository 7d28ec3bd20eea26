import type { FastifyInstance } from 'fastify';
import { failure, success } from '../../model/index.js';

/**
 * drove-ts runs local services only, but Drove's Python CLI calls a few application paths (e.g.
 * `lsinstances replace/kill --wait` polls `/apis/v1/applications/{id}/instances`, `cluster endpoints` reads
 * `/apis/v1/endpoints`). They answer as a Drove cluster without applications does
 * (docs/design/api-compatibility.md#applications-and-tasks).
 */
export async function applicationRoutes(app: FastifyInstance): Promise<void> {
  app.get('/apis/v1/applications', async () => success({}));
  app.get('/apis/v1/applications/:appId/instances', async () => success([]));
  app.get('/apis/v1/applications/:appId/instances/old', async () => success([]));
  app.get<{ Params: { appId: string } }>('/apis/v1/applications/:appId', async (request) =>
    failure(`App ${request.params.appId} not found`),
  );
  app.get('/apis/v1/endpoints', async () => success([]));
  app.get('/apis/v1/tasks', async () => success([]));
}
