import type { ExecutorAddress, ExecutorMessage, MessageResponse } from '../../model/index.js';

/**
 * Sends controller -> executor messages (docs/design/executor-protocol.md). The real implementation posts to the
 * executor's `/apis/v1/messages` over HTTP(S) with the cluster secret; cluster components depend only on this seam.
 * Implementations resolve with the executor's response (a non-200 or an unreachable executor is a `FAILED` response,
 * not a rejection) so callers decide on `status` alone.
 */
export interface ExecutorMessenger {
  send(address: ExecutorAddress, message: ExecutorMessage, context?: MessageContext): Promise<MessageResponse>;
}

/** What goes with a message besides its body. */
export interface MessageContext {
  /** The request that caused the message, sent as `X-Request-Id` (docs/request-ids.md). */
  requestId?: string;
}
