import { describe, expect, it } from 'vitest';
import type { DroveClient } from '../../../src/cli/client.js';
import type { Interrupt } from '../../../src/cli/commands/lsinstances.js';
import { tailLog } from '../../../src/cli/log-tail.js';

/**
 * `drove lsinstances tail` against an in-memory log directory that rotates as the executor does (output.log
 * renamed to output.log-<n>, n increasing, a new output.log started), at chosen moments between the tail's calls.
 */

const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `line ${from + i}\n`).join('');

class LogDir {
  files = new Map<string, string>([['output.log', '']]);
  private next = 1;
  /** Runs before each call is answered (what the executor did meanwhile). */
  beforeAnswer: (path: string) => void = () => undefined;

  append(text: string): void {
    this.files.set('output.log', this.files.get('output.log')! + text);
  }

  rotate(): void {
    this.files.set(`output.log-${this.next++}`, this.files.get('output.log')!);
    this.files.set('output.log', '');
  }

  async getRaw<T>(path: string): Promise<T> {
    this.beforeAnswer(path);
    if (path.endsWith('/list')) return { files: [...this.files.keys()] } as T;
    const [, name, at] = /\/read\/([^?]+)\?offset=(-?\d+)$/.exec(path)!;
    const content = Buffer.from(this.files.get(decodeURIComponent(name!)) ?? '');
    const offset = Number(at);
    if (offset === -1) return { data: '', offset: content.length } as T;
    return { data: content.subarray(offset, offset + 64).toString(), offset } as T;
  }
}

async function tail(dir: LogDir, until: (printed: string) => boolean): Promise<string> {
  let printed = '';
  let idle = 0;
  const stop: Interrupt = {
    stopped: false,
    signal: new AbortController().signal,
    async sleep() {
      // Idle: the test's goal is met, or nothing more is coming.
      if (until(printed) || ++idle > 20) stop.stopped = true;
    },
  };
  const options = { base: '/logs', file: 'output.log', skipBytes: 1 << 30, write: (text: string) => void (printed += text), note: () => undefined };
  await tailLog(dir as unknown as DroveClient, options, stop);
  return printed;
}

describe('drove lsinstances tail across rotations', () => {
  it('a rotation between two looks: the rest of the old file, then the new one from its start', async () => {
    const dir = new LogDir();
    dir.append(lines(0, 10));
    let rotated = false;
    const printed = await tail(dir, (p) => {
      // Idle at the end of the file: more lines, a rotation, a new file, before the tail looks again.
      if (!rotated && p === lines(0, 10)) {
        rotated = true;
        dir.append(lines(10, 20));
        dir.rotate();
        dir.append(lines(20, 40));
      }
      return p.includes('line 39\n');
    });
    expect(printed).toBe(lines(0, 40));
  });

  it('a rotation between the look at the file list and the read: what that read returned is not printed from the wrong file', async () => {
    const dir = new LogDir();
    dir.append(lines(0, 10));
    const end = Buffer.byteLength(lines(0, 10));
    let rotated = false;
    dir.beforeAnswer = (path) => {
      // The tail reads output.log where its last read ended; the executor rotated just before that read, and the
      // new file is already longer than that offset.
      if (!rotated && path.endsWith(`/read/output.log?offset=${end}`)) {
        rotated = true;
        dir.append(lines(10, 20));
        dir.rotate();
        dir.append(lines(20, 60));
      }
    };
    const printed = await tail(dir, (p) => p.includes('line 59\n'));
    expect(printed).toBe(lines(0, 60));
  });

  it('a rotation between the look at the size and the look at the file list: the old file is not printed again', async () => {
    const dir = new LogDir();
    dir.append(lines(0, 10));
    let sizeLooks = 0;
    dir.beforeAnswer = (path) => {
      // The second size look (the first is where the tail starts) comes while the tail is idle at the end: the
      // executor rotated just before answering it, and the new file is shorter than the offset.
      if (path.endsWith('/read/output.log?offset=-1') && ++sizeLooks === 2) {
        dir.append(lines(10, 20));
        dir.rotate();
        dir.append(lines(20, 25));
      }
    };
    const printed = await tail(dir, (p) => p.includes('line 24\n'));
    expect(printed).toBe(lines(0, 25));
  });
});
