import { NOT_LEADER_MESSAGE } from '../../../src/model/index.js';
import { SOAK_CREDENTIALS } from './cluster.js';
import { SOAK_TIMINGS } from './timings.js';

/**
 * The soak's HTTP client of the Drove API: Basic auth, a deadline on every call (a paused controller must not
 * hold the soak up), and no exceptions: a network failure or timeout is status 0.
 */

export interface Reply<T = unknown> {
  /** HTTP status; 0 when the controller did not answer (refused, reset, timed out). */
  status: number;
  body: { status?: string; data?: T; message?: string };
  /** The network error when status is 0. */
  error?: string;
}

const authorization = `Basic ${Buffer.from(`${SOAK_CREDENTIALS.username}:${SOAK_CREDENTIALS.password}`).toString('base64')}`;

export async function call<T = unknown>(
  base: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  timeoutMs: number = SOAK_TIMINGS.requestTimeoutMs,
): Promise<Reply<T>> {
  try {
    const response = await fetch(`${base}${path}`, {
      method,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
      headers: { authorization, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    let parsed: Reply<T>['body'];
    try {
      parsed = text ? (JSON.parse(text) as Reply<T>['body']) : {};
    } catch {
      parsed = { message: text.slice(0, 500) };
    }
    return { status: response.status, body: parsed };
  } catch (error) {
    const e = error as Error & { cause?: { code?: string } };
    return { status: 0, body: {}, error: e.cause?.code ?? e.name ?? e.message };
  }
}


export function isNotLeader(reply: Reply): boolean {
  return reply.status === 400 && reply.body.message === NOT_LEADER_MESSAGE;
}
