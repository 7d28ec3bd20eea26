import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAIN, buildBinary } from './harness.js';

/**
 * Operator commands start the same binary as the programs, so they must not load the programs' code: the
 * controller's (fastify, the engine, SQLite and etcd clients) doubled every command's start-up CPU, which a shell
 * completion pays on each Tab (docs/cli.md#start-up). The daemons load it when they run.
 */
const RECORDER = fileURLToPath(new URL('./fixtures/record-loads.mjs', import.meta.url));
const PROGRAM_CODE = /\/dist\/src\/(controller|executor)\/server\.js$|\/node_modules\/(fastify|dockerode|better-sqlite3|etcd3)\//;

let dir: string;

beforeAll(async () => {
  await buildBinary();
  dir = mkdtempSync(join(tmpdir(), 'drove-start-up-'));
}, 300_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number | null; stderr: string; loaded: string[] }> {
  const loadedFile = join(dir, `loaded-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(loadedFile, '');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', RECORDER, MAIN, ...args], {
      env: { ...process.env, DROVE_TEST_LOADED: loadedFile, HOME: dir },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stderr, loaded: readFileSync(loadedFile, 'utf8').split('\n').filter(Boolean) }));
  });
}

describe('drove start-up', () => {
  it.each([
    [['--help'], 0],
    [['--print-completion', 'bash'], 0],
    [['__complete', '--', 'localservices', ''], 0],
    [['-e', 'http://127.0.0.1:9', '-u', 'admin', '-p', 'admin', 'localservices', 'list'], 4], // unreachable
  ])('%j loads none of the programs\' code', async (args, code) => {
    const result = await run(args);
    expect(result.code).toBe(code);
    expect(result.loaded.some((url) => url.endsWith('/dist/src/cli/index.js'))).toBe(true);
    expect(result.loaded.filter((url) => PROGRAM_CODE.test(url))).toEqual([]);
  });

  it('the programs still load theirs when they run', async () => {
    const missing = join(dir, 'missing.yml');
    const controller = await run(['controller', '--config', missing]);
    expect(controller.code).not.toBe(0);
    expect(controller.stderr).toContain(missing);
    const executor = await run(['executor', '--config', missing]);
    expect(executor.code).not.toBe(0);
    expect(executor.stderr).toContain(missing);
    const dev = await run(['dev', '--log-level', 'loud', '--data-dir', join(dir, 'dev')]);
    expect(dev.code).not.toBe(0);
    expect(dev.stderr).toContain('--log-level must be one of');
    expect(controller.loaded.some((url) => url.endsWith('/dist/src/controller/config.js'))).toBe(true);
  });
});
