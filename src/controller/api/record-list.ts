import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';

/**
 * Large record lists (`GET /localservices/{id}/instances` and `/instances/old`: 20,000 records at 5,000 executors
 * x 4) without serialising and encoding the world on every read (docs/scale.md#instance-lists).
 *
 * The working set never changes a record in place: a report or a heartbeat replaces it with a new object (its
 * records are frozen). So JSON made of a record object, or of a run of record objects, can never be out of date:
 *
 * - a list is cut into blocks of consecutive records. A block ends before a record whose instance id ends in
 *   `0` (ids end in a random hex digit: 1 in 16), or after MAX_BLOCK records. Cutting by content, not position,
 *   means a record that leaves the list changes only its own block, not every block after it;
 * - each block's bytes (its records' JSON joined by commas, UTF-8) are kept beside the block's first record
 *   object, with the records they were made of. A read re-makes only the blocks in which a record was replaced;
 *   at 5,000 executors heartbeating every 10 s, about 2,000 records a second are, so a read 60 ms after the last
 *   re-makes ~120 blocks of ~1,300 instead of serialising and encoding 20,000 records;
 * - the body is the bytes `JSON.stringify(success(records))` gives (a test compares them over random changes),
 *   sent with its Content-Length, so Drove's clients see no difference. The cached blocks are written as they
 *   are, never copied into one buffer.
 */

/** A run of records and the bytes of their JSON joined by commas. */
interface Block {
  records: readonly object[];
  bytes: Buffer;
}

/** Keyed by the block's first record object: gone with it. */
const blocks = new WeakMap<object, Block>();

/** Records per block at most: bounds what one replaced record costs to re-make when ids end in no `0`. */
export const MAX_BLOCK = 64;

const HEAD = Buffer.from('{"status":"SUCCESS","data":[');
const TAIL = Buffer.from('],"message":"success"}');
const COMMA = Buffer.from(',');

/** A block starts at a record whose instance id ends in `0`. */
function startsBlock(record: object): boolean {
  const id = (record as { instanceId?: unknown }).instanceId;
  return typeof id === 'string' && id.endsWith('0');
}

function sameRecords(held: readonly object[], records: readonly object[], from: number): boolean {
  for (let k = 0; k < held.length; k++) if (held[k] !== records[from + k]) return false;
  return true;
}

function blockBytes(records: readonly object[], from: number, to: number): Buffer {
  const held = blocks.get(records[from]!);
  if (held && held.records.length === to - from && sameRecords(held.records, records, from)) return held.bytes;
  const slice = records.slice(from, to);
  const bytes = Buffer.from(slice.map((r) => JSON.stringify(r)).join(','));
  blocks.set(slice[0]!, { records: slice, bytes });
  return bytes;
}

/** The bytes of `JSON.stringify(success(records))`, in parts: the cached blocks themselves, never copied. */
export function recordListParts(records: readonly object[]): Buffer[] {
  const parts: Buffer[] = [HEAD];
  let from = 0;
  while (from < records.length) {
    let to = from + 1;
    while (to < records.length && to - from < MAX_BLOCK && !startsBlock(records[to]!)) to++;
    if (from > 0) parts.push(COMMA);
    parts.push(blockBytes(records, from, to));
    from = to;
  }
  parts.push(TAIL);
  return parts;
}

/** The success envelope of `records` as one buffer (what a response to it carries). */
export function recordListBody(records: readonly object[]): Buffer {
  return Buffer.concat(recordListParts(records));
}

/**
 * Sends `records` in the success envelope (see the module comment); the caller returns what this returns. The
 * parts go out as the socket drains, with the Content-Length of their sum: copying them into one buffer first
 * was 10 % of the controller's CPU at 5,000 executors.
 */
export function sendRecordList(reply: FastifyReply, records: readonly object[]): FastifyReply {
  const parts = recordListParts(records);
  let length = 0;
  for (const part of parts) length += part.length;
  return reply
    .type('application/json; charset=utf-8')
    .header('content-length', length)
    .send(Readable.from(parts, { objectMode: false }));
}
