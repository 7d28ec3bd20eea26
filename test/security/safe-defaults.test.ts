import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { parseControllerConfig } from '../../src/controller/config.js';
import { instanceAuthToken } from '../../src/controller/engine/jobs/instance-token.js';
import { secretFileOf } from '../../src/controller/instance-secret.js';
import { isLoopback } from '../../src/model/listen-address.js';
import { startControllerServer, type RunningController } from '../../src/controller/server.js';
import { CONTROLLER_SECRET, CLUSTER_SECRET } from '../support/controller-config.js';

/**
 * Findings: a controller without a `userAuth` section ran with authentication off on every interface (the
 * default host is 0.0.0.0), so anyone reaching the port was EXTERNAL_ROOT; instance tokens were signed with
 * the well-known 'DEFAULT_SECRET' unless the operator thought of setting one.
 */

const clusterAuth = {
  secrets: [
    { nodeType: 'CONTROLLER', secret: CONTROLLER_SECRET },
    { nodeType: 'EXECUTOR', secret: CLUSTER_SECRET },
  ],
};
const users = { enabled: true, encoding: 'PLAIN', users: [{ username: 'admin', password: 'admin', role: 'EXTERNAL_READ_WRITE' }] };

let running: RunningController | undefined;
let dir = '';
afterEach(async () => {
  await running?.close();
  running = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function capture() {
  const lines: Array<{ level: number; msg: string }> = [];
  const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(String(chunk))), done()) }));
  return { logger, warnings: () => lines.filter((l) => l.level === 40).map((l) => l.msg) };
}

function config(overrides: Record<string, unknown>) {
  dir = mkdtempSync(join(tmpdir(), 'safe-defaults-'));
  return parseControllerConfig({ store: { type: 'sqlite', path: join(dir, 'drove.db') }, clusterAuth, logLevel: 'silent', ...overrides });
}

describe('no userAuth section', () => {
  it.each(['0.0.0.0', '::', '10.1.2.3'])('on %s: the controller refuses to start, naming userAuth and the address', async (host) => {
    const { logger } = capture();
    await expect(startControllerServer(config({ server: { host, port: 0 } }), { logger })).rejects.toThrow(
      `Refusing to start: the controller config has no userAuth section and server.host ${host} is not a loopback address, ` +
        'so anyone who can reach port 0 would be EXTERNAL_ROOT. Configure userAuth users, listen on 127.0.0.1, or write ' +
        'userAuth.enabled: false to run without authentication on purpose.',
    );
  });

  it('on loopback it starts, warning at every start that authentication is off', async () => {
    const { logger, warnings } = capture();
    const cfg = config({ server: { host: '127.0.0.1', port: 0 } });
    running = await startControllerServer(cfg, { logger });
    await running.close();
    running = await startControllerServer(cfg, { logger });
    const expected =
      'No userAuth section: authentication is off and every caller is EXTERNAL_ROOT; allowed because server.host 127.0.0.1 is a loopback address (only this machine can connect)';
    expect(warnings()).toEqual([expected, expected]);
    expect((await fetch(`${running.url}/apis/v1/localservices`)).status).toBe(200);
  });

  it('loopback means 127.0.0.0/8, ::1 and localhost; any other name or address is not', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1']) expect(isLoopback(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '192.168.1.5', 'controller.example.com', '128.0.0.1', '::2']) expect(isLoopback(host), host).toBe(false);
  });
});

describe('userAuth.enabled: false written out', () => {
  it('starts on a non-loopback address and warns at every start', async () => {
    const { logger, warnings } = capture();
    const cfg = config({ server: { host: '0.0.0.0', port: 0 }, userAuth: { enabled: false } });
    running = await startControllerServer(cfg, { logger });
    await running.close();
    running = await startControllerServer(cfg, { logger });
    const expected = 'userAuth.enabled is false: authentication is off and every caller is EXTERNAL_ROOT (server.host 0.0.0.0)';
    expect(warnings()).toEqual([expected, expected]);
  });

  it('with users configured there is nothing to warn about', async () => {
    const { logger, warnings } = capture();
    running = await startControllerServer(config({ server: { host: '0.0.0.0', port: 0 }, userAuth: users }), { logger });
    expect(warnings()).toEqual([]);
    expect((await fetch(`${running.url}/apis/v1/localservices`)).status).toBe(401);
  });
});

describe('the instance token secret has no built-in default', () => {
  it("a token signed with Drove's old default secret is refused", async () => {
    running = await startControllerServer(config({ server: { host: '127.0.0.1', port: 0 }, userAuth: users }), { logger: pino({ level: 'silent' }) });
    const forged = instanceAuthToken('DEFAULT_SECRET', { serviceId: 'S-1', instanceId: 'SI-1', executorId: 'E1' }, Date.now(), 60_000);
    const response = await fetch(`${running.url}/apis/v1/localservices`, { headers: { 'App-Instance-Authorization': forged } });
    expect(response.status).toBe(401);
  });

  it('absent from the config, it is generated on first start, kept beside the SQLite store and reused after a restart', async () => {
    const cfg = config({ server: { host: '127.0.0.1', port: 0 }, userAuth: users });
    expect(cfg.instanceAuth.secret).toBeUndefined();
    const { logger } = capture();
    running = await startControllerServer(cfg, { logger });
    const file = secretFileOf(join(dir, 'drove.db'));
    const first = JSON.parse(readFileSync(file, 'utf8')) as { instanceAuthSecret: string };
    expect(first.instanceAuthSecret).toMatch(/^[0-9a-f]{64}$/);
    await running.close();
    running = await startControllerServer(cfg, { logger });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(first);
  });

  it('an etcd store (several controllers) requires it in the config', () => {
    expect(() => parseControllerConfig({ store: { type: 'etcd', endpoints: ['http://127.0.0.1:2379'] } })).toThrow(
      'Invalid controller config: instanceAuth.secret is required with an etcd store: every controller signs and verifies instance tokens with it, so all must be given the same value',
    );
    expect(parseControllerConfig({ store: { type: 'etcd', endpoints: ['http://127.0.0.1:2379'] }, instanceAuth: { secret: 's3cret' } }).instanceAuth.secret).toBe('s3cret');
  });
});
