import type { FastifyInstance } from 'fastify';
import { NOT_LEADER_MESSAGE } from '../../model/index.js';
import type { ApiContext } from './context.js';

/**
 * Health endpoints for load balancers and supervisors (docs/health.md), the only routes that need no
 * credentials (`public` in routes-access.ts). Named as Kubernetes names its own: `/livez` says the process
 * answers, `/readyz` whether this controller is the leader, so a gateway in front of several controllers sends
 * traffic to the leader only. Drove's `/apis/v1/ping` stays as it is (credentials, 400 on a non-leader).
 */

export const HEALTH_ROUTES: ReadonlySet<string> = new Set(['/livez', '/readyz']);

export interface ControllerReadiness {
  ready: boolean;
  /** The leader's `host:port` when known (this controller's own when it is the leader). */
  leader: string | null;
  reason?: string;
}

export async function healthRoutes(app: FastifyInstance, { core }: ApiContext): Promise<void> {
  app.get('/livez', async () => ({ live: true }));

  app.get('/readyz', async (_request, reply) => {
    const leader = core.leaderAddress() ?? null;
    const body: ControllerReadiness = core.isLeader() ? { ready: true, leader } : { ready: false, leader, reason: NOT_LEADER_MESSAGE };
    // A probe must never see a cached answer: leadership can move at any moment.
    reply.header('cache-control', 'no-store');
    return reply.code(body.ready ? 200 : 503).send(body);
  });
}
