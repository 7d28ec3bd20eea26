import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { mainJs } from '../../../scripts/prepare.mjs';
import { ensureBinaryBuilt } from '../../support/e2e-cluster.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The real `drove` binary: dist/src/main.js, rebuilt when any source is newer (the e2e tests' shared, locked
 * build). A private copy compiled by these tests once went stale silently: tsc stopped emitting into it and the
 * tests kept running an old binary.
 */
export const MAIN = mainJs;

export async function buildBinary(): Promise<void> {
  await ensureBinaryBuilt();
  if (!existsSync(MAIN)) throw new Error(`build did not produce ${MAIN}`);
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, TZ: 'UTC', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** Starts a command that runs until interrupted; resolves once its stdout matches `ready`. */
export function startCli(args: string[], env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; output: () => string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, TZ: 'UTC', ...env } });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no match for ${ready} in: ${out}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) {
        clearTimeout(timer);
        resolvePromise({ child, output: () => out });
      }
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  });
}

export function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((r) => (child.exitCode !== null ? r(child.exitCode) : child.on('close', (code) => r(code))));
}

export interface ControllerProcess {
  url: string;
  dir: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export const EXECUTOR_SECRET = 'executor-secret';

export async function startControllerProcess(): Promise<ControllerProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'drove-cli-'));
  const config = join(dir, 'controller.yml');
  writeFileSync(
    config,
    [
      'server: { host: 127.0.0.1, port: 0, hostname: 127.0.0.1 }',
      `store: { type: sqlite, path: ${join(dir, 'drove.db')} }`,
      `clusterAuth: { secrets: [ { nodeType: EXECUTOR, secret: ${EXECUTOR_SECRET} }, { nodeType: CONTROLLER, secret: controller-secret } ] }`,
      'userAuth:',
      '  enabled: true',
      '  encoding: PLAIN',
      '  users:',
      '    - { username: admin, password: admin, role: EXTERNAL_READ_WRITE }',
      '    - { username: guest, password: guest, role: EXTERNAL_READ_ONLY }',
      '    - { username: root, password: root, role: EXTERNAL_ROOT }',
      'options: { maintenanceGracePeriod: "1 second", reconcileInterval: "1 second" }',
      'logLevel: warn',
    ].join('\n'),
  );
  const { child, output } = await startCli(['controller', '--config', config], {}, /listening on (http:\/\/\S+)/);
  const url = /listening on (http:\/\/\S+)/.exec(output())![1]!;
  return {
    url,
    dir,
    child,
    async stop() {
      child.kill('SIGTERM');
      await exited(child);
    },
  };
}

/** Starts a long-running command without waiting for output. */
export function spawnCli(args: string[], env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, TZ: 'UTC', ...env } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}
