import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import type Docker from 'dockerode';
import { freePort } from './etcd-cluster.js';

/**
 * A real Docker registry (Debian's docker-registry package, the CNCF distribution registry) started by the test on
 * loopback with htpasswd authentication. Plain HTTP: dockerd treats 127.0.0.0/8 registries as insecure registries
 * by default, so it pulls from one without TLS, and sends the credentials over it. A test that needs it fails
 * loudly when the binary is missing (`apt-get install docker-registry`); it never skips.
 */

export interface TestRegistry {
  /** host:port, as image references name it. */
  host: string;
  username: string;
  password: string;
  /** Tags a local image into this registry and pushes it with the registry's credentials; returns the reference. */
  push(docker: Docker, localImage: string, repository: string): Promise<string>;
  close(): Promise<void>;
}

/** Bcrypt cost of the htpasswd line: the lowest the registry takes, so each login costs milliseconds, not seconds. */
const HTPASSWD_COST = 5;
/** Measured: the registry answers 110-120 ms after spawn on the shared 2-core test machine; 20 s leaves room for a cold disk. */
const START_TIMEOUT_MS = 20_000;

export async function startRegistry(username = 'puller', password = `pw-${Math.random().toString(36).slice(2)}`): Promise<TestRegistry> {
  const root = mkdtempSync(join(tmpdir(), 'drove-registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  writeFileSync(join(root, 'htpasswd'), `${username}:${bcrypt.hashSync(password, HTPASSWD_COST)}\n`);
  writeFileSync(
    join(root, 'config.yml'),
    [
      'version: 0.1',
      'log: {level: warn}',
      `storage: {filesystem: {rootdirectory: ${join(root, 'data')}}}`,
      `http: {addr: "${host}"}`,
      `auth: {htpasswd: {realm: drove-test, path: ${join(root, 'htpasswd')}}}`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', join(root, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = `${stderr}${chunk.toString('utf8')}`.slice(-4000)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (e) => reject(new Error(`cannot start docker-registry (apt-get install docker-registry): ${e.message}`)));
    });
    await waitUntilAnswering(`http://${host}/v2/`, () => stderr);
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    host,
    username,
    password,
    async push(docker, localImage, repository) {
      const reference = `${host}/${repository}`;
      const [repo, tag] = reference.split(/:(?=[^:/]+$)/) as [string, string];
      await docker.getImage(localImage).tag({ repo, tag });
      const stream = await docker.getImage(reference).push({ authconfig: { username, password, serveraddress: host } });
      const output = await new Promise<Array<{ error?: string }>>((resolve, reject) =>
        docker.modem.followProgress(stream, (error: Error | null, result: Array<{ error?: string }>) => (error ? reject(error) : resolve(result))),
      );
      const failed = output.find((o) => o.error);
      if (failed) throw new Error(`push of ${reference} failed: ${failed.error}`);
      return reference;
    },
    close: stop,
  };
}

/** The registry answers /v2/ with 401 (it wants the credentials) once it listens. */
async function waitUntilAnswering(url: string, stderr: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (res.status === 401) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`docker-registry did not answer ${url} within ${START_TIMEOUT_MS} ms: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
