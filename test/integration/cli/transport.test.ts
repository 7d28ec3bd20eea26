import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBinary, runCli } from './harness.js';

/** HTTP timeouts and TLS verification of the `drove` binary. */

let https: HttpsServer;
let silent: NetServer;
const sockets: Socket[] = [];
let httpsUrl: string;
let silentUrl: string;
const home = mkdtempSync(join(tmpdir(), 'drove-cli-tls-'));

beforeAll(async () => {
  await buildBinary();
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-keyout', join(home, 'key.pem'), '-out', join(home, 'cert.pem'),
  ], { stdio: 'ignore' });
  https = createHttpsServer({ key: readFileSync(join(home, 'key.pem')), cert: readFileSync(join(home, 'cert.pem')) }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"SUCCESS","data":"pong","message":"success"}');
  });
  await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
  httpsUrl = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;
  // Accepts connections and never answers: a hung gateway.
  silent = createNetServer((socket) => sockets.push(socket));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
}, 180_000);

afterAll(async () => {
  for (const s of sockets) s.destroy();
  https.close();
  silent.close();
});

describe('transport', () => {
  test('a self-signed certificate is refused unless --insecure', async () => {
    const strict = await runCli(['-e', httpsUrl, 'cluster', 'ping'], { HOME: home });
    expect(strict.code).toBe(4);
    expect(strict.stderr).toMatch(/certificate/i);
    const insecure = await runCli(['-e', httpsUrl, '-i', 'cluster', 'ping'], { HOME: home });
    expect([insecure.code, insecure.stdout]).toEqual([0, 'Cluster ping successful\n']);
  });

  test('--debug traces requests on stderr', async () => {
    const res = await runCli(['-e', httpsUrl, '-i', '-d', 'cluster', 'ping'], { HOME: home });
    expect(res.code).toBe(0);
    expect(res.stderr).toContain(`> GET ${httpsUrl}/apis/v1/ping`);
    expect(res.stderr).toContain(`< 200 GET ${httpsUrl}/apis/v1/ping`);
  });

  test('the executor daemon keeps its required --config next to the executor subcommands', async () => {
    const res = await runCli(['executor'], { HOME: home });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("required option '-c, --config <file>' not specified");
  });

  test('a server that never answers times out with a clear error', async () => {
    const started = Date.now();
    const res = await runCli(['-e', silentUrl, '--http-timeout', '1', 'cluster', 'ping'], { HOME: home });
    expect(res.code).toBe(4);
    expect(res.stderr).toContain('request timed out');
    // Well under the 30 s default, which is what would show if the option were ignored (node start-up is slow on a busy box).
    expect(Date.now() - started).toBeLessThan(25_000);
  });

  test('bad --http-timeout and missing endpoint are usage errors', async () => {
    const bad = await runCli(['-e', silentUrl, '--http-timeout', 'soon', 'cluster', 'ping'], { HOME: home });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--http-timeout must be a positive number of seconds');
    const none = await runCli(['cluster', 'ping'], { HOME: home });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('No cluster endpoint');
  });
});
