import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Client } from 'undici';
import { parseControllerConfig, type UserAuthConfig } from '../../src/controller/config.js';
import { startControllerServer, type RunningController } from '../../src/controller/server.js';
import { executorMessages } from './api-harness.js';
import { findRepoRoot } from './repo-root.js';

/**
 * A password flood against a real controller with bcrypt (CRYPT) users, shared by test/security/login-flood.test.ts
 * (what must hold) and bench/login-flood.ts (how fast heartbeats are answered meanwhile), so it imports nothing
 * from vitest: the controller (SQLite), an executor's heartbeats, and the guesser in another process.
 */

export const FLOOD_EXECUTOR_SECRET = 'flood-executor-secret';

export async function startCryptController(users: UserAuthConfig['users']): Promise<{ controller: RunningController; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'drove-flood-'));
  const config = parseControllerConfig({
    server: { host: '127.0.0.1', port: 0, hostname: 'localhost' },
    store: { type: 'sqlite', path: join(dir, 'drove.db') },
    clusterAuth: {
      secrets: [
        { nodeType: 'CONTROLLER', secret: 'flood-controller-secret' },
        { nodeType: 'EXECUTOR', secret: FLOOD_EXECUTOR_SECRET },
      ],
    },
    userAuth: { enabled: true, encoding: 'CRYPT', users },
    logLevel: 'silent',
  });
  const controller = await startControllerServer(config, { logger: pino({ level: 'silent' }) });
  return {
    controller,
    async close() {
      await controller.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Heartbeat {
  /** From the request's start to the end of its answer, in ms. */
  latencyMs: number;
  /** What `during`'s `until` had done by the time the answer came. */
  untilSettled: boolean;
}

/** An executor's heartbeats (EXECUTOR_SNAPSHOT with the cluster secret) over one keep-alive connection. */
export class Heartbeats {
  private readonly client: Client;
  private sent = 0;
  /** Every heartbeat not answered 200 ACCEPTED: its status and body, or the error. */
  readonly failures: string[] = [];

  constructor(url: string) {
    this.client = new Client(url);
  }

  /**
   * Sends heartbeats one after another (10 ms apart) until `until` settles and at least `min` were sent, or until
   * `deadlineMs` has passed.
   */
  async during(until: Promise<unknown>, min: number, deadlineMs = 60_000): Promise<Heartbeat[]> {
    let settled = false;
    void until.finally(() => (settled = true)).catch(() => undefined);
    const deadline = performance.now() + deadlineMs;
    const answered: Heartbeat[] = [];
    while ((!settled || answered.length < min) && performance.now() < deadline) {
      const message = executorMessages(Date.now(), [], 'E1')[0]!;
      message.header.id = `hb-${++this.sent}`;
      const start = performance.now();
      try {
        const res = await this.client.request({
          path: '/apis/v1/messages',
          method: 'POST',
          headers: { 'content-type': 'application/json', 'cluster-authorization': FLOOD_EXECUTOR_SECRET, nodeid: 'ex1.local' },
          body: JSON.stringify(message),
        });
        const body = (await res.body.json()) as { status?: string };
        if (res.statusCode !== 200 || body.status !== 'ACCEPTED') this.failures.push(`${res.statusCode} ${JSON.stringify(body)}`);
      } catch (error) {
        this.failures.push((error as Error).message);
      }
      answered.push({ latencyMs: performance.now() - start, untilSettled: settled });
      await sleep(10);
    }
    return answered;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

export interface FloodResult {
  /** How many answers had each HTTP status (or `error <message>`). */
  statuses: Record<string, number>;
  ms: number;
}

/**
 * Starts the guesser (test/support/login-flood-guesser.mjs) in its own process, so that its work does not run on
 * the event loop of the controller under test: `requests` wrong passwords for user admin over `connections`
 * keep-alive connections; it sends no more once more than `stopAfterUnauthorized` were answered 401.
 */
export function flood(
  url: string,
  requests: number,
  connections: number,
  stopAfterUnauthorized?: number,
): { result: Promise<FloodResult>; kill(): void } {
  const script = join(findRepoRoot(), 'test', 'support', 'login-flood-guesser.mjs');
  const args = [script, url, String(requests), String(connections), ...(stopAfterUnauthorized === undefined ? [] : [String(stopAfterUnauthorized)])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk) => (out += String(chunk)));
  const result = new Promise<FloodResult>((resolve, reject) => {
    child.on('exit', (code, signal) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (line) resolve(JSON.parse(line.slice('RESULT '.length)) as FloodResult);
      else reject(new Error(`flood process ended (${code ?? signal}) without a result`));
    });
  });
  return { result, kill: () => child.kill('SIGKILL') };
}

export function basicAuth(user: string, password: string): { authorization: string } {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
