import { randomUUID } from 'node:crypto';

/**
 * Request ids connect the log lines of one change across processes: the controller's API gives every request
 * one (its caller's `X-Request-Id` when that is safe to log, else a fresh one), answers it in the same header,
 * and sends it with every executor message the request causes (docs/request-ids.md).
 */

export const REQUEST_ID_HEADER = 'X-Request-Id';

/**
 * What an incoming id may look like: letters, digits and `._:=+/-`, at most 128 characters, starting with a
 * letter or digit. Enough for UUIDs, W3C trace ids and the ids proxies generate (AWS `Root=1-...` without its
 * `;`), and nothing that could break a log line (no spaces, quotes, control characters or newlines).
 */
const SAFE_REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:=+/-]{0,127}$/;

/** The id when it is safe to log and pass on, else undefined. */
export function safeRequestId(value: unknown): string | undefined {
  return typeof value === 'string' && SAFE_REQUEST_ID.test(value) ? value : undefined;
}

export function newRequestId(): string {
  return randomUUID();
}
