import type { FastifyInstance } from 'fastify';
import { ControllerMessageSchema } from '../../model/index.js';
import type { ApiContext } from './context.js';
import { parseBody } from './validation.js';

/**
 * `POST /apis/v1/messages`: executor -> leader messages (docs/design/executor-protocol.md); the reply is a bare
 * MessageResponse.
 */
export async function messageRoutes(app: FastifyInstance, { core }: ApiContext): Promise<void> {
  app.post('/apis/v1/messages', async (request) => {
    const message = parseBody(ControllerMessageSchema, request.body);
    return core.handleControllerMessage(message);
  });
}
