import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';

/**
 * Large record lists (`GET /localservices/{id}/instances` and `/instances/old`: 20,000 records at 5,000 executors
 * x 4) without re-serialising the world on every read (docs/scale.md#instance-lists).
 *
 * - Each record's JSON is made once per record object and kept beside it (a WeakMap, gone with the record). The
 *   working set never changes a record in place: a report or a heartbeat replaces it with a new object, so a
 *   cached text can never be out of date, and a read re-serialises only the records that changed since the last
 *   one (at 5,000 executors heartbeating every 10 s: ~2,000 a second, against 20,000 per read before).
 * - The body is the bytes `JSON.stringify(success(records))` gives, so Drove's clients see no difference.
 * - Lists over `STREAM_FROM` records go out in chunks of `CHUNK` as the socket drains (chunked transfer encoding),
 *   so a 12 MB body never holds the event loop (and heartbeats) for its whole length. The list of records is
 *   the request's moment: a chunk written later shows the same (immutable) records.
 */

const fragments = new WeakMap<object, string>();

/** Lists up to this many records go out as one string, with a Content-Length. */
export const STREAM_FROM = 1000;
/** Records per chunk of a streamed list (~300 KB of JSON). */
export const CHUNK = 500;

const HEAD = '{"status":"SUCCESS","data":[';
const TAIL = '],"message":"success"}';

/** `JSON.stringify(record)`, made once per record object. */
export function recordJson(record: object): string {
  let json = fragments.get(record);
  if (json === undefined) {
    json = JSON.stringify(record);
    fragments.set(record, json);
  }
  return json;
}

function joined(records: readonly object[], from: number, to: number): string {
  const parts: string[] = new Array<string>(to - from);
  for (let i = from; i < to; i++) parts[i - from] = recordJson(records[i]!);
  return parts.join(',');
}

/** The success envelope of `records` as one string (`JSON.stringify(success(records))`). */
export function recordListBody(records: readonly object[]): string {
  return HEAD + joined(records, 0, records.length) + TAIL;
}

function* chunks(records: readonly object[]): Generator<string> {
  yield HEAD;
  for (let from = 0; from < records.length; from += CHUNK) {
    const to = Math.min(records.length, from + CHUNK);
    yield (from > 0 ? ',' : '') + joined(records, from, to);
  }
  yield TAIL;
}

/**
 * Sends `records` in the success envelope (see the module comment); the caller returns what this returns. The
 * array is the caller's to give away: it must not change it afterwards (the queries build a fresh one per read).
 */
export function sendRecordList(reply: FastifyReply, records: readonly object[]): FastifyReply {
  reply.type('application/json; charset=utf-8');
  if (records.length <= STREAM_FROM) return reply.send(recordListBody(records));
  return reply.send(Readable.from(chunks(records), { objectMode: false }));
}
