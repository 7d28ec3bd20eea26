import { describe, expect, test } from 'vitest';
import { fit, formatElapsed, progressDisplay, type WaitView } from '../../../src/cli/wait/display.js';
import type { Failure, Progress } from '../../../src/cli/wait/goal.js';
import { terminalOf } from '../../../src/cli/terminal.js';

/** The --wait display: redrawn in place on a terminal, one line per change in a pipe (src/cli/wait/display.ts). */

const ESC = String.fromCharCode(27);
const stripColour = (text: string) => text.replace(new RegExp(`${ESC}\\[[0-9;]*m`, 'g'), '');

function sink() {
  const chunks: string[] = [];
  return { out: { write: (text: string) => void chunks.push(text) }, chunks, text: () => chunks.join('') };
}

const progress = (over: Partial<Progress> = {}): Progress => ({
  state: 'ADJUSTING_INSTANCES',
  activation: 'ACTIVE',
  hosts: { done: 1, total: 3, waitingOn: ['h2', 'h3'] },
  healthy: { count: 2, desired: 6 },
  failures: [],
  ...over,
});

const view = (elapsedMs: number, p: Progress): WaitView => ({ serviceId: 'NODE_EXPORTER-1', operation: 'activate', elapsedMs, progress: p });

const failure: Failure = { instanceId: 'SI-1', host: 'h2', state: 'START_FAILED', reason: 'No such image:\n drove-ts/nope:1', started: true };

describe('in a pipe', () => {
  const pipe = terminalOf({ isTTY: false, columns: 0 }, {});

  test('one line per change: elapsed time alone is no change, each failure is printed once', () => {
    const { out, text } = sink();
    const display = progressDisplay(out, pipe);
    display.show(view(0, progress()));
    display.show(view(1_000, progress()));
    display.show(view(2_000, progress({ failures: [failure] })));
    display.show(view(3_000, progress({ failures: [failure] })));
    display.show(view(65_000, progress({ state: 'ACTIVE', hosts: { done: 3, total: 3, waitingOn: [] }, healthy: { count: 6, desired: 6 }, failures: [failure] })));
    expect(text()).toBe(
      [
        '[    0s] NODE_EXPORTER-1 ADJUSTING_INSTANCES, hosts 1/3, healthy 2/6',
        '[    2s] failed: SI-1 on h2: START_FAILED: No such image: drove-ts/nope:1',
        '[ 1m05s] NODE_EXPORTER-1 ACTIVE, hosts 3/3, healthy 6/6',
        '',
      ].join('\n'),
    );
  });
});

describe('on a terminal', () => {
  test('each frame redraws the last one in place: cursor up over its lines, clear, draw', () => {
    const { out, chunks } = sink();
    const display = progressDisplay(out, terminalOf({ isTTY: true, columns: 120 }, { NO_COLOR: '1' }));
    display.show(view(0, progress()));
    display.show(view(1_000, progress({ failures: [failure] })));
    expect(chunks[0]).toBe(
      ['NODE_EXPORTER-1 activate: ADJUSTING_INSTANCES  0s', '  hosts      1/3 done  waiting on h2, h3', '  instances  2/6 healthy', ''].join('\n'),
    );
    expect(chunks[1]).toBe(
      '\x1b[3A\r\x1b[J' +
        [
          'NODE_EXPORTER-1 activate: ADJUSTING_INSTANCES  1s',
          '  hosts      1/3 done  waiting on h2, h3',
          '  instances  2/6 healthy',
          '  failed     SI-1 on h2: START_FAILED: No such image: drove-ts/nope:1',
          '',
        ].join('\n'),
    );
    display.show(view(2_000, progress()));
    expect(chunks[2]!.startsWith('\x1b[4A\r\x1b[J')).toBe(true);
  });

  test('colour unless NO_COLOR; lines cut to the width, colour sequences not counted', () => {
    const wide = sink();
    progressDisplay(wide.out, terminalOf({ isTTY: true, columns: 120 }, {})).show(view(0, progress()));
    expect(wide.chunks[0]).toContain('\x1b[33mADJUSTING_INSTANCES\x1b[39m');
    const narrow = sink();
    progressDisplay(narrow.out, terminalOf({ isTTY: true, columns: 30 }, {})).show(view(0, progress()));
    const first = narrow.chunks[0]!.split('\n')[0]!;
    expect(stripColour(first)).toBe('NODE_EXPORTER-1 activate: ADJ');
    expect(fit('\x1b[31mabcdefghijkl\x1b[39m', 11)).toBe('\x1b[31mabcdefghij\x1b[39m');
  });

  test('a dumb terminal or NO_COLOR gets no colour; a pipe never does', () => {
    expect(terminalOf({ isTTY: true, columns: 80 }, { TERM: 'dumb' }).colors.red('x')).toBe('x');
    expect(terminalOf({ isTTY: true, columns: 80 }, { NO_COLOR: 'yes' }).colors.red('x')).toBe('x');
    expect(terminalOf({ isTTY: true, columns: 80 }, { NO_COLOR: '' }).colors.red('x')).toBe('\x1b[31mx\x1b[39m');
    expect(terminalOf({ isTTY: false, columns: 80 }, {}).colors.red('x')).toBe('x');
  });
});

test('elapsed time reads as seconds, then minutes', () => {
  expect([formatElapsed(999), formatElapsed(59_999), formatElapsed(60_000), formatElapsed(3_725_000)]).toEqual(['0s', '59s', '1m00s', '62m05s']);
});
