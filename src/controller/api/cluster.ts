import type { FastifyInstance } from 'fastify';
import { success } from '../../model/index.js';
import type { ApiContext } from './context.js';
import { inDroveOrder } from './localservices.js';

/** `/apis/v1/ping`, `/apis/v1/cluster`, dashboard and maintenance (docs/design/api-compatibility.md#rest-endpoints). */
export async function clusterRoutes(app: FastifyInstance, { core }: ApiContext): Promise<void> {
  app.get('/apis/v1/ping', async () => success('pong'));

  app.get('/apis/v1/cluster', async () => success(core.clusterSummary()));

  app.get('/apis/v1/cluster/dashboard', async () => {
    const dashboard = core.dashboard();
    return success({
      ...dashboard,
      serviceStats: { ...dashboard.serviceStats, topServices: dashboard.serviceStats.topServices.map(inDroveOrder) },
    });
  });

  app.post('/apis/v1/cluster/maintenance/set', async () =>
    success(await core.setMaintenance(true)),
  );

  app.post('/apis/v1/cluster/maintenance/unset', async () =>
    success(await core.setMaintenance(false)),
  );
}
