import { describe, expect, it } from 'vitest';
import { overlapBytes, storedMessages, type StoredMessage } from '../../../src/executor/runtime/log-splice.js';
import type { LogStreamName } from '../../../src/executor/runtime/runtime.js';

/** One frame of `docker logs` output read with timestamps, as dockerd writes it. */
function frame(stream: LogStreamName, time: string, text: string): Buffer {
  const payload = Buffer.from(`${time} ${text}`);
  const header = Buffer.alloc(8);
  header[0] = stream === 'stderr' ? 2 : 1;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

const T0 = Date.parse('2026-12-03T06:00:00Z');
const at = (ms: number) => new Date(T0 + ms).toISOString().replace('Z', '123456Z');
const message = (stream: LogStreamName, ms: number, text: string): StoredMessage => ({ stream, atMs: T0 + ms, payload: Buffer.from(text) });
const live = (stdout: string, stderr = '') => ({ stdout: Buffer.from(stdout), stderr: Buffer.from(stderr) });

describe('docker logs with timestamps', () => {
  it('reads each frame as its stream, its time in milliseconds and its message without the time', () => {
    const buffer = Buffer.concat([frame('stdout', at(0), 'one\n'), frame('stderr', at(5), 'two\n'), frame('stdout', '2026-12-03T06:00:01Z', 'three\n')]);
    const messages = storedMessages(buffer);
    expect(messages.map((m) => [m.stream, m.atMs - T0, m.payload.toString()])).toEqual([
      ['stdout', 0, 'one\n'],
      ['stderr', 5, 'two\n'],
      ['stdout', 1_000, 'three\n'],
    ]);
  });

  it('keeps a frame without a time whole and never takes it for a repeat', () => {
    const [m] = storedMessages(frame('stdout', 'not-a-time', 'x\n'));
    expect(m!.payload.toString()).toBe('not-a-time x\n');
    expect(m!.atMs).toBe(Number.NEGATIVE_INFINITY);
    expect(overlapBytes([m!], live('not-a-time x\n'), T0)).toEqual({ stdout: 0, stderr: 0 });
  });
});

describe('the overlap of the log store and an attach', () => {
  it('is the run of stored messages at the end that the attach output starts with, per stream', () => {
    const stored = [
      message('stdout', -500, 'a\n'),
      message('stdout', 10, 'b\n'),
      message('stderr', 12, 'E1\n'),
      message('stdout', 20, 'c\n'),
    ];
    // The attach subscribed between a and b on stdout, before E1 on stderr; d came after the store was read.
    expect(overlapBytes(stored, live('b\nc\nd\n', 'E1\nE2\n'), T0)).toEqual({ stdout: 4, stderr: 3 });
  });

  it('is nothing when the attach started after the store\'s last message', () => {
    const stored = [message('stdout', 10, 'a\n'), message('stdout', 20, 'b\n')];
    expect(overlapBytes(stored, live('c\n'), T0)).toEqual({ stdout: 0, stderr: 0 });
    expect(overlapBytes(stored, live(''), T0)).toEqual({ stdout: 0, stderr: 0 });
  });

  it('never counts messages stamped before the attach was asked for, even when the text matches', () => {
    // "a" was logged before the attach was requested, so the attach's "a" is a new line with the same text.
    const stored = [message('stdout', -1, 'a\n')];
    expect(overlapBytes(stored, live('a\n'), T0)).toEqual({ stdout: 0, stderr: 0 });
  });

  it('needs the attach to hold the whole run: a partial match is no overlap', () => {
    const stored = [message('stdout', 10, 'a\n'), message('stdout', 20, 'b\n')];
    // Only "b" matches as a whole run ending at the store's last message.
    expect(overlapBytes(stored, live('b\nc\n'), T0)).toEqual({ stdout: 2, stderr: 0 });
    // The attach's output ends inside the run: the run is not taken.
    expect(overlapBytes(stored, live('a\n'), T0)).toEqual({ stdout: 0, stderr: 0 });
  });

  it('takes whole messages only, never part of one', () => {
    const stored = [message('stdout', 10, 'long line\n')];
    expect(overlapBytes(stored, live('line\n'), T0)).toEqual({ stdout: 0, stderr: 0 });
  });

  it('takes the longest reading of identical lines, which repeats none', () => {
    const stored = [message('stdout', 10, 'tick\n'), message('stdout', 20, 'tick\n')];
    expect(overlapBytes(stored, live('tick\ntick\ntock\n'), T0)).toEqual({ stdout: 10, stderr: 0 });
  });

  it('finds the run at the end of a long window of candidates', () => {
    const stored = Array.from({ length: 10_000 }, (_, i) => message('stdout', i / 10, `line ${i}\n`));
    const attach = stored.slice(9_000).map((m) => m.payload.toString()).join('');
    expect(overlapBytes(stored, live(attach), T0).stdout).toBe(Buffer.byteLength(attach));
  });
});
