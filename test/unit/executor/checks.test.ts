import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_EXCERPT, ProbeChecker, commandLine, runPreShutdownHooks } from '../../../src/executor/checks.js';
import type { HttpCheckMode } from '../../../src/model/spec.js';
import { ManualClock } from '../../../src/model/clock.js';
import { FakeRuntime, ScriptedChecker } from './fakes.js';

let server: ReturnType<typeof createServer>;
let port = 0;
const bodies: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      bodies.push(`${req.method} ${body}`);
      if (req.url === '/ok') return res.end('ok');
      if (req.url === '/created') {
        res.statusCode = 201;
        return res.end();
      }
      if (req.url === '/redirect') {
        res.statusCode = 302;
        res.setHeader('location', '/ok');
        return res.end();
      }
      if (req.url === '/big500') {
        res.statusCode = 500;
        return res.end('x'.repeat(MAX_BODY_EXCERPT * 3));
      }
      if (req.url === '/reset') return req.socket.destroy();
      if (req.url === '/slow') return setTimeout(() => res.end('late'), 1500);
      res.statusCode = 500;
      res.end('broken');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const mode = (path: string, extra: Partial<HttpCheckMode> = {}): HttpCheckMode => ({
  type: 'HTTP', protocol: 'HTTP', portName: 'main', path, verb: 'GET', successCodes: [200], ...extra,
});
const target = () => ({ ports: { main: { containerPort: 8000, hostPort: port, portType: 'HTTP' as const } } });

describe('HTTP probes', () => {
  const checker = new ProbeChecker(new FakeRuntime(), '127.0.0.1');

  it('is healthy on a success code and unhealthy otherwise, with at most 8 KiB of body', async () => {
    expect(await checker.check(mode('/ok'), target(), 1000)).toEqual({ healthy: true, message: '' });
    expect((await checker.check(mode('/created'), target(), 1000)).healthy).toBe(false);
    expect((await checker.check(mode('/created', { successCodes: [200, 201] }), target(), 1000)).healthy).toBe(true);
    const big = await checker.check(mode('/big500'), target(), 1000);
    expect(big.healthy).toBe(false);
    expect(big.message).toContain('Received status 500');
    expect(big.message.length).toBeLessThan(MAX_BODY_EXCERPT + 200);
  });

  it('does not follow redirects', async () => {
    const r = await checker.check(mode('/redirect'), target(), 1000);
    expect(r.healthy).toBe(false);
    expect(r.message).toContain('Received status 302');
  });

  it('sends the payload with the verb', async () => {
    await checker.check(mode('/ok', { verb: 'POST', payload: '{"a":1}' }), target(), 1000);
    expect(bodies.at(-1)).toBe('POST {"a":1}');
  });

  it('turns connection resets, refusals, timeouts and unknown ports into unhealthy results', async () => {
    const reset = await checker.check(mode('/reset'), target(), 1000);
    expect(reset.healthy).toBe(false);
    expect(reset.message).not.toBe('');
    const slow = await checker.check(mode('/slow'), target(), 200);
    expect(slow.healthy).toBe(false);
    const refused = await checker.check(mode('/ok'), { ports: { main: { containerPort: 1, hostPort: 1, portType: 'HTTP' } } }, 500);
    expect(refused.healthy).toBe(false);
    expect((await checker.check(mode('/ok', { portName: 'other' }), target(), 500)).message).toBe('No port named other on this instance');
  });
});

describe('HTTPS probes', () => {
  const checker = new ProbeChecker(new FakeRuntime(), '127.0.0.1');
  let tls: ReturnType<typeof createHttpsServer>;
  let tlsPort = 0;

  beforeAll(async () => {
    // A self-signed certificate made for this run, as an instance serving HTTPS with its own certificate has.
    const dir = mkdtempSync(join(tmpdir(), 'drove-checks-tls-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'pipe' });
      tls = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
        res.statusCode = req.url === '/ok' ? 200 : 503;
        res.end(req.url === '/ok' ? 'ok' : 'down');
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
    tlsPort = (tls.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => tls.close(() => r())));

  const tlsTarget = () => ({ ports: { main: { containerPort: 8443, hostPort: tlsPort, portType: 'HTTPS' as const } } });

  it('with insecure: true accepts a self-signed certificate and judges the status code', async () => {
    expect(await checker.check(mode('/ok', { protocol: 'HTTPS', insecure: true }), tlsTarget(), 2000)).toEqual({ healthy: true, message: '' });
    const down = await checker.check(mode('/down', { protocol: 'HTTPS', insecure: true }), tlsTarget(), 2000);
    expect(down).toEqual({ healthy: false, message: `Received status 503 from https://127.0.0.1:${tlsPort}/down. Response: down` });
  });

  it('verifies the certificate unless insecure is set', async () => {
    for (const insecure of [false, undefined]) {
      const strict = await checker.check(mode('/ok', { protocol: 'HTTPS', ...(insecure === undefined ? {} : { insecure }) }), tlsTarget(), 2000);
      expect(strict.healthy).toBe(false);
      expect(strict.message).toMatch(/self[- ]signed certificate/i);
    }
  });
});

describe('CMD probes', () => {
  it('runs sh -c, or the split command when the shell is disabled, and reports exit code and output', async () => {
    expect(commandLine({ type: 'CMD', command: 'test -f /x' })).toEqual(['sh', '-c', 'test -f /x']);
    expect(commandLine({ type: 'CMD', command: 'test -f /x', shellDisabled: true })).toEqual(['test', '-f', '/x']);
    const runtime = new FakeRuntime();
    runtime.exec = async () => ({ exitCode: 3, output: 'nope', truncated: false });
    const r = await new ProbeChecker(runtime).check({ type: 'CMD', command: 'false' }, { containerId: 'c', ports: {} }, 1000);
    expect(r).toEqual({ healthy: false, message: 'Command exited with exit code: 3. Output: nope' });
  });
});

describe('pre-shutdown hooks', () => {
  it('retries a failing HTTP hook every 3 s, at most 5 attempts, and CMD hooks always use the shell', async () => {
    const clock = new ManualClock();
    const checker = new ScriptedChecker();
    checker.script('/prestop', false);
    checker.script('echo bye', true);
    const hooks = [
      { type: 'HTTP' as const, protocol: 'HTTP' as const, portName: 'main', path: '/prestop', verb: 'GET' as const, successCodes: [200] },
      { type: 'CMD' as const, command: 'echo bye', shellDisabled: true },
    ];
    const run = runPreShutdownHooks(hooks, { containerId: 'c', ports: target().ports }, checker, clock);
    for (let i = 0; i < 20; i++) await clock.advance(1000);
    const outcomes = await run;
    expect(outcomes.map((o) => [o.ok, o.attempts])).toEqual([[false, 5], [true, 1]]);
    expect(checker.calls[5]!.mode).toEqual({ type: 'CMD', command: 'echo bye', shellDisabled: false });
  });

  it('stops retrying once a hook succeeds and skips hooks naming unknown ports', async () => {
    const clock = new ManualClock();
    const checker = new ScriptedChecker();
    checker.script('/prestop', false, true);
    const hook = { type: 'HTTP' as const, protocol: 'HTTP' as const, portName: 'main', path: '/prestop', verb: 'GET' as const, successCodes: [200] };
    const run = runPreShutdownHooks([hook, { ...hook, portName: 'nope' }], target(), checker, clock);
    await clock.advance(3000);
    const outcomes = await run;
    expect(outcomes.map((o) => [o.ok, o.attempts])).toEqual([[true, 2], [false, 0]]);
  });
});
