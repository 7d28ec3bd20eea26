import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitUntil } from '../../support/wait.js';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'crash-controller.ts');

function run(args: string[]): { child: ChildProcess; line: (prefix: string, timeoutMs: number) => Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const line = (prefix: string, timeoutMs: number) =>
    waitUntil(
      `a line starting ${prefix}`,
      () => {
        const found = out.split('\n').find((l) => l.startsWith(prefix));
        if (found) return found.slice(prefix.length).trim();
        if (child.exitCode !== null) throw new Error(`fixture exited ${child.exitCode} before ${prefix}:\n${err}\n${out}`);
        return undefined;
      },
      { timeoutMs, intervalMs: 25, stopOnError: true, detail: () => `${err}\n${out}` },
    );
  return { child, line };
}

describe('controller crash recovery (real SQLite, SIGKILL)', () => {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function crashAndResume(variant: string[]) {
    const dir = mkdtempSync(join(tmpdir(), 'drove-crash-'));
    dirs.push(dir);
    const db = join(dir, 'drove.db');
    const fleet = join(dir, 'fleet.json');

    const first = run(['start', db, fleet]);
    children.push(first.child);
    const before = JSON.parse(await first.line('READY_TO_KILL', 60_000)) as Array<[string, string]>;
    expect(before.filter(([, s]) => s === 'HEALTHY')).toHaveLength(4);
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));

    const second = run(['resume', db, fleet, ...variant]);
    children.push(second.child);
    const result = JSON.parse(await second.line('RESULT', 60_000)) as {
      state: string;
      controller: Array<{ instanceId: string; executorId: string; state: string }>;
      fleet: Array<{ instanceId: string; executorId: string; state: string }>;
      starts: number;
    };
    expect(result.state).toBe('ACTIVE');
    expect(result.controller).toHaveLength(6);
    const perExecutor = new Map<string, number>();
    for (const i of result.fleet) perExecutor.set(i.executorId, (perExecutor.get(i.executorId) ?? 0) + 1);
    expect([...perExecutor.values()]).toEqual([2, 2, 2]);
    // No duplicates and no orphans: what runs on the executors is exactly what the controller knows.
    expect(new Set(result.fleet.map((i) => i.instanceId))).toEqual(new Set(result.controller.map((i) => i.instanceId)));
    return result;
  }

  it('a controller killed mid-ADJUST converges to ACTIVE with exactly the desired instances after restart', async () => {
    const result = await crashAndResume([]);
    // The two interrupted starts finished on the executor; nothing had to be started again.
    expect(result.starts).toBe(0);
  }, 150_000);

  it('after a crash, starts that failed meanwhile are redone by the reconciler, exactly once each', async () => {
    const result = await crashAndResume(['failed']);
    expect(result.starts).toBe(2);
  }, 150_000);
});
