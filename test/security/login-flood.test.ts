import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import bcrypt from 'bcryptjs';
import { pino } from 'pino';
import { Agent, Client, request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Authenticator } from '../../src/controller/api/auth.js';
import { parseControllerConfig } from '../../src/controller/config.js';
import { startControllerServer, type RunningController } from '../../src/controller/server.js';
import { executorMessages } from '../support/api-harness.js';

/**
 * Finding: a flood of wrong passwords starved the cluster. Every failed login ran bcrypt (bcryptjs: ~100 ms of
 * CPU in 100 ms slices on the event loop), failures were never limited, so executor heartbeats waited behind
 * them; unknown users were answered at once (no hash), which told a guesser which user names exist.
 * Now: per-address limit on credential checks, bcrypt on worker threads, unknown users checked against a dummy
 * hash. A real controller (startControllerServer, SQLite), the guesser in another process.
 */

const EXECUTOR_SECRET = 'flood-executor-secret';
const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};
const median = (values: number[]) => percentile(values, 50);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** cost 10: the usual bcrypt cost (htpasswd -B uses 5, most libraries 10); ~100 ms per check in bcryptjs. */
const ADMIN_PASSWORD = 'correct horse battery staple';
const adminHash = bcrypt.hashSync(ADMIN_PASSWORD, 10);
const opsHash = bcrypt.hashSync('ops-password', 10);

async function startCryptController(): Promise<{ controller: RunningController; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'drove-flood-'));
  const config = parseControllerConfig({
    server: { host: '127.0.0.1', port: 0, hostname: 'localhost' },
    store: { type: 'sqlite', path: join(dir, 'drove.db') },
    clusterAuth: {
      secrets: [
        { nodeType: 'CONTROLLER', secret: 'flood-controller-secret' },
        { nodeType: 'EXECUTOR', secret: EXECUTOR_SECRET },
      ],
    },
    userAuth: {
      enabled: true,
      encoding: 'CRYPT',
      users: [
        { username: 'admin', password: adminHash, role: 'EXTERNAL_ROOT' },
        { username: 'ops', password: opsHash, role: 'EXTERNAL_READ_ONLY' },
      ],
    },
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

/** An executor's heartbeats (EXECUTOR_SNAPSHOT with the cluster secret) over one keep-alive connection. */
class Heartbeats {
  private readonly client: Client;
  private sent = 0;
  readonly failures: string[] = [];

  constructor(url: string) {
    // An executor heartbeats every 20 s: one not answered within that is as good as lost.
    this.client = new Client(url, { headersTimeout: 20_000 });
  }

  /**
   * Sends heartbeats back to back (10 ms apart) until `until` resolves and at least `min` were sent, or until
   * `deadlineMs` has passed; returns the latencies.
   */
  async during(until: Promise<unknown>, min: number, deadlineMs = 60_000): Promise<number[]> {
    let done = false;
    void until.finally(() => (done = true));
    const deadline = performance.now() + deadlineMs;
    const latencies: number[] = [];
    while ((!done || latencies.length < min) && performance.now() < deadline) {
      const message = executorMessages(Date.now(), [], 'E1')[0]!;
      message.header.id = `hb-${++this.sent}`;
      const start = performance.now();
      try {
        const res = await this.client.request({
          path: '/apis/v1/messages',
          method: 'POST',
          headers: { 'content-type': 'application/json', 'cluster-authorization': EXECUTOR_SECRET, nodeid: 'ex1.local' },
          body: JSON.stringify(message),
        });
        const body = (await res.body.json()) as { status?: string };
        if (res.statusCode !== 200 || body.status !== 'ACCEPTED') this.failures.push(`${res.statusCode} ${JSON.stringify(body)}`);
      } catch (error) {
        this.failures.push((error as Error).message);
      }
      latencies.push(performance.now() - start);
      await sleep(10);
    }
    return latencies;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

function flood(url: string, requests: number, connections: number): { result: Promise<{ statuses: Record<string, number>; ms: number }>; kill(): void } {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'login-flood.mjs'), url, String(requests), String(connections)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  const result = new Promise<{ statuses: Record<string, number>; ms: number }>((resolve, reject) => {
    child.on('exit', (code, signal) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (line) resolve(JSON.parse(line.slice('RESULT '.length)));
      else reject(new Error(`flood process ended (${code ?? signal}) without a result`));
    });
  });
  return { result, kill: () => child.kill('SIGKILL') };
}

describe('a flood of wrong passwords does not starve executor heartbeats', () => {
  let running: Awaited<ReturnType<typeof startCryptController>>;
  beforeAll(async () => {
    running = await startCryptController();
  });
  afterAll(async () => running?.close());

  test('2,000 wrong-password requests: heartbeats are all accepted, within their normal latency', { timeout: 240_000 }, async () => {
    const heartbeats = new Heartbeats(running.controller.url);
    try {
      await heartbeats.during(sleep(300), 20); // warm-up: JIT, the executor's first registration
      const quiet = await heartbeats.during(sleep(2_000), 100);
      const guesser = flood(running.controller.url, 2_000, 64);
      // Heartbeats are measured while the flood runs, for at most 30 s: without the fix the flood keeps the event
      // loop busy for minutes.
      const loaded = await heartbeats.during(Promise.race([guesser.result, sleep(30_000)]), 20, 40_000);
      // The guesser itself may take longer: its ~1,970 refusals come at once, but its 30 admitted checks run one
      // after another on the single bcrypt thread, ~0.1 s each on an idle core and up to ~1 s each on this
      // 2-core machine under heavy load (27 s for all 30 measured with three busy loops beside the suite). Its
      // answers are what is asserted, not its speed: wait for them up to 4x that.
      const { statuses, ms } = await Promise.race([
        guesser.result,
        sleep(120_000).then(() => ({ statuses: { unfinished: 1 } as Record<string, number>, ms: -1 })),
      ]);
      guesser.kill();
      const figures = {
        quiet: { n: quiet.length, p50: +median(quiet).toFixed(1), p99: +percentile(quiet, 99).toFixed(1) },
        flood: { n: loaded.length, p50: +median(loaded).toFixed(1), p99: +percentile(loaded, 99).toFixed(1) },
        guesser: { statuses, ms },
      };
      console.log(`heartbeat latency (ms) without and with a 2,000-request password flood: ${JSON.stringify(figures)}`);

      expect(heartbeats.failures).toEqual([]);
      // The guesser is refused: a few 401s (the checks its address is allowed), then 429s; never served, never a 5xx.
      expect(Object.keys(statuses).sort()).toEqual(['401', '429']);
      expect(statuses['401']).toBeLessThanOrEqual(30);
      expect(statuses['429']).toBe(2_000 - statuses['401']!);
      // "Normal latency", measured on this shared 2-core machine (four other test runs beside it), 8 runs:
      // quiet p99 5-31 ms, p50 ~1 ms; during the flood p50 ~1 ms and p99 70-318 ms with the fix (the event
      // loop answers ~1,000 refusals a second for the first seconds, the bcrypt thread holds the other core),
      // and p99 15,172 ms without it, where heartbeats also time out. 1 s sits 3x above the worst run with the
      // fix and 15x below the run without it, and is 20x inside the executor's 20 s heartbeat interval.
      expect(figures.flood.p99).toBeLessThan(1_000);
    } finally {
      await heartbeats.close();
    }
  });
});

describe('failed logins are limited per source address', () => {
  let running: Awaited<ReturnType<typeof startCryptController>>;
  const from = (address: string) => new Agent({ localAddress: address });
  beforeAll(async () => {
    running = await startCryptController();
  });
  afterAll(async () => running?.close());

  test('after 30 checks an address gets 429 with Retry-After, right password or wrong; logged-in users, other addresses and cluster nodes go on', async () => {
    const url = `${running.controller.url}/apis/v1/cluster`;
    const guesser = from('127.0.0.3');
    const neighbour = from('127.0.0.4');
    const get = async (dispatcher: Agent, headers: Record<string, string>) => {
      const res = await request(url, { dispatcher, headers });
      const body = await res.body.text();
      return { status: res.statusCode, headers: res.headers, body };
    };
    try {
      // An operator logged in before the attack: answered from the cache of verified logins, never counted.
      expect((await get(guesser, basic('admin', ADMIN_PASSWORD))).status).toBe(200);
      const statuses: number[] = [];
      for (let i = 0; i < 29; i++) statuses.push((await get(guesser, basic('admin', `guess-${i}`))).status);
      expect(statuses.every((s) => s === 401)).toBe(true);
      const limited = await get(guesser, basic('admin', 'guess-29'));
      expect(limited.status).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(JSON.parse(limited.body)).toMatchObject({ status: 'FAILED', message: expect.stringContaining('Too many login attempts from 127.0.0.3') });
      // A right password that is not cached yet is refused too: answering it would still let the guesser go on.
      expect((await get(guesser, basic('ops', 'ops-password'))).status).toBe(429);
      expect((await get(guesser, basic('admin', ADMIN_PASSWORD))).status).toBe(200);
      expect((await get(guesser, { 'cluster-authorization': EXECUTOR_SECRET })).status).toBe(200);
      expect((await get(neighbour, basic('admin', 'wrong'))).status).toBe(401);
      expect((await get(neighbour, basic('ops', 'ops-password'))).status).toBe(200);
    } finally {
      await guesser.close();
      await neighbour.close();
    }
  });
});

describe('password checks', () => {
  const users = [{ username: 'admin', password: adminHash, role: 'EXTERNAL_ROOT' as const }];
  const newAuthenticator = () => new Authenticator({ enabled: true, encoding: 'CRYPT', users }, { secrets: [] }, false);

  test('an unknown user takes as long as a wrong password (compared against a dummy hash)', async () => {
    const auth = newAuthenticator();
    const time = async (user: string, password: string) => {
      const start = performance.now();
      await expect(auth.authenticate(basic(user, password))).rejects.toMatchObject({ statusCode: 401 });
      return performance.now() - start;
    };
    try {
      await time('admin', 'warm-up');
      const wrong: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 5; i++) {
        wrong.push(await time('admin', `wrong-${i}`));
        unknown.push(await time(`nobody-${i}`, `wrong-${i}`));
      }
      console.log(`median ms: wrong password ${median(wrong).toFixed(1)}, unknown user ${median(unknown).toFixed(1)}`);
      // Without the dummy hash an unknown user is answered in 0.3 ms against 172 ms (measured); with it the two
      // medians were within 0.64-1.4x of each other across runs on this loaded machine.
      expect(median(unknown)).toBeGreaterThan(0.25 * median(wrong));
      expect(auth.passwordVerifications).toBe(11);
    } finally {
      await auth.close();
    }
  });

  test('bcrypt runs off the event loop: during eight concurrent checks the median event-loop delay stays under 40 ms', async () => {
    const auth = newAuthenticator();
    try {
      await expect(auth.authenticate(basic('admin', 'warm-up'))).rejects.toMatchObject({ statusCode: 401 });
      const delay = monitorEventLoopDelay({ resolution: 10 });
      delay.enable();
      const checks = Array.from({ length: 8 }, (_, i) => auth.authenticate(basic('admin', `wrong-${i}`)).catch(() => undefined));
      await Promise.all(checks);
      delay.disable();
      const p50 = delay.percentile(50) / 1e6;
      console.log(`event loop delay during 8 bcrypt checks (ms): p50 ${p50.toFixed(1)}, max ${(delay.max / 1e6).toFixed(1)}`);
      // bcryptjs on the event loop blocks it in slices of up to 100 ms, so half the samples wait ~100 ms
      // (measured p50 100-116 ms); on worker threads the loop only waits for messages (measured p50 below 15 ms;
      // the max, 8-35 ms here, is scheduling noise of the loaded machine, so it is not what is asserted).
      expect(p50).toBeLessThan(40);
      expect(auth.passwordVerifications).toBe(9);
    } finally {
      await auth.close();
    }
  });
});
