import type { FastifyInstance } from 'fastify';
import { failure } from '../../model/index.js';

/**
 * Drove serves its console's page views under `/apis/ui/...`, and a controller that is not the leader sends
 * browsers there to the leader (303, decided by the route table's `onFollower` rule). drove-ts has no console
 * pages yet: the route exists so that the redirect is decided on a matched route like every other decision,
 * and the leader answers 404.
 */
export async function uiRoutes(app: FastifyInstance): Promise<void> {
  app.get('/apis/ui/*', async (_request, reply) => reply.code(404).send(failure('No console page here: drove-ts serves no web console yet')));
}

/** The page a follower redirects to on the leader: the path below `/apis/ui`, each segment encoded again. */
export function consolePagePath(params: unknown): string {
  const page = (params as { '*'?: string } | undefined)?.['*'] ?? '';
  return `/${page.split('/').map(encodeURIComponent).join('/')}`;
}
