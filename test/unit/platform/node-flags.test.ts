import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../../src/node-flags.js';

const root = join(import.meta.dirname, '../../..');
const shebang = readFileSync(join(root, 'src/main.ts'), 'utf8').split('\n')[0]!;

describe('the V8 flags of drove processes (src/node-flags.ts)', () => {
  it('are the ones the binary shebang carries', () => {
    expect(shebang).toBe(`#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`);
  });

  // The kernel hands everything after the interpreter to it as one argument; `env -S` splits it.
  it('reach node when the shebang line is run as the kernel runs it', () => {
    const [interpreter, rest] = [shebang.slice(2).split(' ')[0]!, shebang.slice(2).split(' ').slice(1).join(' ')];
    const run = spawnSync(interpreter, [rest, '-e', 'process.stdout.write(JSON.stringify(process.execArgv))'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    // execArgv ends with -e and the program.
    expect((JSON.parse(run.stdout) as string[]).slice(0, -2)).toEqual([...NODE_FLAGS]);
  });

  it('let the young generation grow past its 16 MiB default under allocation', () => {
    const program = `
      let keep = [];
      for (let i = 0; i < 3e6; i++) { keep.push({ a: i, b: [i] }); if (keep.length > 200000) keep = []; }
      const young = require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
      process.stdout.write(String(young.space_size / 2 ** 20));`;
    const mib = (flags: readonly string[]) => Number(spawnSync(process.execPath, [...flags, '-e', program], { encoding: 'utf8' }).stdout);
    expect(mib([])).toBeLessThanOrEqual(32);
    expect(mib(NODE_FLAGS)).toBeGreaterThan(32);
  });
});
