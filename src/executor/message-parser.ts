import type { ExecutorMessage, MessageHeader, MessageResponse } from '../model/executor.js';
import { ExecutorMessageSchema } from '../model/executor.js';
import { dropNulls, issueMessages } from '../model/schema-helpers.js';

/**
 * Parsing of `POST /apis/v1/messages` bodies: a malformed message is answered FAILED with the reasons (zod
 * issues naming the fields), never an exception.
 */

export type ParsedMessage = { ok: true; message: ExecutorMessage } | { ok: false; response: MessageResponse };

export function parseExecutorMessage(raw: unknown, now: number): ParsedMessage {
  const cleaned = dropNulls(raw);
  const result = ExecutorMessageSchema.safeParse(cleaned);
  if (result.success) return { ok: true, message: result.data };
  return {
    ok: false,
    response: {
      header: bestEffortHeader(cleaned, now),
      status: 'FAILED',
      message: `Invalid message: ${issueMessages(result.error).join('; ')}`,
    },
  };
}

/** The request's header echoed as far as it can be read, so the sender can still match the answer. */
export function bestEffortHeader(raw: unknown, now: number): MessageHeader {
  const header = (raw && typeof raw === 'object' ? (raw as { header?: unknown }).header : undefined) as
    | Partial<Record<keyof MessageHeader, unknown>>
    | undefined;
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const replyToId = text(header?.replyToId);
  return {
    id: text(header?.id) ?? '',
    senderType: header?.senderType === 'EXECUTOR' ? 'EXECUTOR' : 'CONTROLLER',
    direction: header?.direction === 'REPLY' ? 'REPLY' : 'REQUEST',
    ...(replyToId ? { replyToId } : {}),
    messageTime: typeof header?.messageTime === 'number' ? header.messageTime : now,
  };
}

export function respond(header: MessageHeader, status: MessageResponse['status'], message?: string): MessageResponse {
  return message === undefined ? { header, status } : { header, status, message };
}
