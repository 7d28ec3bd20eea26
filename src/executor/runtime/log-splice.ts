import type { LogStreamName } from './runtime.js';

/**
 * Joining what Docker's log store holds of a running container to what an attach made meanwhile delivers, so
 * that the copy a re-adopting executor makes neither misses nor repeats a line. The attach subscribes before
 * dockerd answers it, so it has everything broadcast from some instant `sub` on; the store has what its log driver
 * wrote by the time it is read, stamped when the driver took it (a non-blocking driver takes it from a ring buffer,
 * so later than it was broadcast). The store is read once the driver has caught up; what it holds from `sub` on is
 * then a tail of it and also the head of the attach's output: that overlap is found by content and sent once.
 */

/** A message of Docker's log store read with `timestamps=true`. */
export interface StoredMessage {
  stream: LogStreamName;
  /** When the log driver stamped it, epoch milliseconds. */
  atMs: number;
  payload: Buffer;
}

/**
 * `docker logs` output read with timestamps: multiplexed frames (an 8-byte header: stream type, 3 zero bytes,
 * payload length big-endian; type 2 is stderr) whose payload is "<RFC 3339 time with nanoseconds> <message>".
 */
export function storedMessages(buffer: Buffer): StoredMessage[] {
  const messages: StoredMessage[] = [];
  for (let at = 0; at + 8 <= buffer.length; ) {
    const length = buffer.readUInt32BE(at + 4);
    const end = Math.min(buffer.length, at + 8 + length);
    const frame = buffer.subarray(at + 8, end);
    const space = frame.indexOf(0x20);
    const atMs = space > 0 ? Date.parse(frame.subarray(0, space).toString('latin1')) : Number.NaN;
    // A frame without a readable time (not expected from dockerd) is kept whole and never taken as overlap.
    messages.push({
      stream: buffer[at] === 2 ? 'stderr' : 'stdout',
      atMs: Number.isNaN(atMs) ? Number.NEGATIVE_INFINITY : atMs,
      payload: Number.isNaN(atMs) ? frame : frame.subarray(space + 1),
    });
    at = end;
  }
  return messages;
}

/**
 * For each stream, how many leading bytes of the attach's output (`live`, all of it received so far) repeat the end
 * of the store read. Only messages stamped at or after `attachRequestedMs` can be in both (the attach subscribed
 * after it was asked for); the longest run of them, whole messages ending at the store's last, that the attach's
 * output starts with is the overlap. Identical lines written in the instant of the attach cannot be told apart:
 * the longest reading wins, which repeats none of them and may take one for a repeat.
 */
export function overlapBytes(
  stored: readonly StoredMessage[],
  live: Readonly<Record<LogStreamName, Buffer>>,
  attachRequestedMs: number,
): Record<LogStreamName, number> {
  return {
    stdout: streamOverlap(stored, 'stdout', live.stdout, attachRequestedMs),
    stderr: streamOverlap(stored, 'stderr', live.stderr, attachRequestedMs),
  };
}

function streamOverlap(stored: readonly StoredMessage[], stream: LogStreamName, live: Buffer, fromMs: number): number {
  const candidates: Buffer[] = [];
  for (let i = stored.length - 1; i >= 0; i--) {
    const message = stored[i]!;
    if (message.stream !== stream) continue;
    if (message.atMs < fromMs) break;
    candidates.push(message.payload);
  }
  candidates.reverse();
  let total = candidates.reduce((sum, payload) => sum + payload.length, 0);
  for (let first = 0; first < candidates.length; first++) {
    if (total <= live.length && startsWith(live, candidates, first)) return total;
    total -= candidates[first]!.length;
  }
  return 0;
}

/** Whether `live` starts with the messages from index `first` on, end to end. */
function startsWith(live: Buffer, messages: readonly Buffer[], first: number): boolean {
  let offset = 0;
  for (let i = first; i < messages.length; i++) {
    const payload = messages[i]!;
    if (!live.subarray(offset, offset + payload.length).equals(payload)) return false;
    offset += payload.length;
  }
  return true;
}
