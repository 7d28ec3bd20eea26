import type { FastifyInstance } from 'fastify';
import type { ExecutorState } from '../model/states.js';

/**
 * The executor's health endpoints (docs/health.md), the only routes it serves without the CONTROLLER secret
 * (`public` in routes-access.ts): `/livez` says the process answers, `/readyz` whether it can do its job, that is
 * whether a leader accepted its last node data and its container engine answers.
 */

export interface ExecutorReadiness {
  ready: boolean;
  /** The leader that accepted the last heartbeat, null when the last one reached none. */
  leader: string | null;
  docker: { reachable: boolean; error?: string };
  executorState: ExecutorState;
}

export const EXECUTOR_HEALTH_ROUTES = ['/livez', '/readyz'] as const;

/** `readiness` is undefined while the executor is still starting (recovery first): it is not ready then. */
export function registerHealthRoutes(app: FastifyInstance, readiness: () => Promise<ExecutorReadiness> | undefined): void {
  app.get('/livez', async () => ({ live: true }));
  app.get('/readyz', async (_request, reply) => {
    const state = readiness();
    const body = state ? await state : { ready: false, reason: 'Executor is starting' };
    reply.header('cache-control', 'no-store');
    return reply.code(body.ready ? 200 : 503).send(body);
  });
}
