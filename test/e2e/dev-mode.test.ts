import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { mainJs } from '../../scripts/prepare.mjs';
import { DroveProcess, ensureBinaryBuilt, scratchDir } from '../support/e2e-cluster.js';
import { DroveApi, healthy } from '../support/drove-api.js';
import { ensureTestImage, TEST_IMAGE } from '../support/images.js';
import { createNetnsCluster, type NetnsCluster, type NetnsHost } from '../support/netns.js';
import { fastSpec } from '../support/specs.js';
import { waitUntil } from '../support/wait.js';

/**
 * `drove dev` (what `npm start` runs): one process with a controller and an executor. It runs inside a namespace
 * host with that host's dockerd, so its executor never meets containers of other tests on the main daemon.
 */

const SERVICE = 'NODE_EXPORTER-1';

describe('drove dev', () => {
  let net: NetnsCluster;
  let host: NetnsHost;
  let dataDir: string;
  let dev: DroveProcess | undefined;
  const started: DroveProcess[] = [];

  const startDev = (args: string[]): DroveProcess => {
    const logFile = join(dataDir, `..`, `dev-${started.length}.log`);
    const child = host.spawnInside(process.execPath, [mainJs, 'dev', '--data-dir', dataDir, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DOCKER_HOST: host.dockerHost },
    });
    const proc = new DroveProcess(`dev-${started.length}`, child, logFile);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    proc.output = () => output;
    started.push(proc);
    return proc;
  };

  const waitForBanner = (proc: DroveProcess) =>
    waitUntil('the dev banner', () => {
      if (!proc.running) throw new Error(`drove dev exited (${proc.exitCode}): ${proc.output()}`);
      return proc.output().includes('Ctrl-C stops the cluster') || undefined;
    });

  const api = () => new DroveApi(`http://${host.address}:7000`, { username: 'admin', password: 'admin' });

  beforeAll(async () => {
    ensureTestImage();
    await ensureBinaryBuilt();
    net = await createNetnsCluster({ hosts: 1, images: [TEST_IMAGE] });
    host = net.hosts[0]!;
    dataDir = join(scratchDir('drove-dev-'), 'data');
  });

  afterEach((context) => {
    if (context.task.result?.state === 'fail') for (const p of started) process.stderr.write(`----- ${p.name}\n${p.output()}\n`);
  });

  afterAll(async () => {
    for (const p of started) await p.stop();
    await net?.close();
  });

  it('starts a cluster, prints the API URL, the credentials and a first command', async () => {
    dev = startDev(['--host', host.address, '--port', '7000', '--executor-port', '7001']);
    await waitForBanner(dev);
    const banner = dev.output();
    expect(banner).toContain(`http://${host.address}:7000/apis/v1`);
    expect(banner).toContain('admin/admin (read-write), guest/guest (read-only)');
    expect(banner).toContain('localservices create examples/node-agent.json');
    // The generated secrets live in the data directory, readable by the owner only.
    const state = JSON.parse(readFileSync(join(dataDir, 'cluster.json'), 'utf8')) as Record<string, unknown>;
    expect(state).toMatchObject({ port: 7000, executorPort: 7001, host: host.address });
    expect(String(state.controllerSecret)).toMatch(/^[0-9a-f]{48}$/);
    expect(statSync(join(dataDir, 'cluster.json')).mode & 0o777).toBe(0o600);
  });

  it('has admin (read-write) and guest (read-only) users', async () => {
    const guest = new DroveApi(`http://${host.address}:7000`, { username: 'guest', password: 'guest' });
    try {
      expect((await guest.call('GET', '/apis/v1/localservices')).statusCode).toBe(200);
      const write = await guest.operation({ type: 'CREATE', spec: fastSpec('node-agent.json'), instancesPerHost: 1 });
      expect(write.statusCode).toBe(403);
      const wrong = await request(`http://${host.address}:7000/apis/v1/localservices`, {
        headers: { authorization: `Basic ${Buffer.from('admin:wrong').toString('base64')}` },
      });
      await wrong.body.dump();
      expect(wrong.statusCode).toBe(401);
    } finally {
      await guest.close();
    }
  });

  it('runs a local service on its executor', async () => {
    const client = api();
    try {
      await client.accepted({ type: 'CREATE', spec: fastSpec('node-agent.json'), instancesPerHost: 1 });
      await client.waitForService(SERVICE, 'INACTIVE');
      await client.accepted({ type: 'ACTIVATE', serviceId: SERVICE });
      await client.waitForService(SERVICE, 'ACTIVE', (s) => s.healthyInstances === 1);
    } finally {
      await client.close();
    }
  });

  it('stops cleanly on SIGTERM and leaves the containers running', async () => {
    const before = (await host.docker(['ps', '--format', '{{.Names}}'])).split('\n').filter((n) => n.startsWith(`${SERVICE}-SI-`));
    expect(before).toHaveLength(1);
    await dev!.stop();
    expect(dev!.exitCode).toBe(0);
    expect(dev!.output()).toContain('stopped');
    const after = (await host.docker(['ps', '--format', '{{.Names}}'])).split('\n').filter((n) => n.startsWith(`${SERVICE}-SI-`));
    expect(after).toEqual(before);
  });

  it('resumes the same cluster on the same data directory, re-adopting the running instance', async () => {
    const container = (await host.docker(['ps', '--format', '{{.Names}}'])).split('\n').find((n) => n.startsWith(`${SERVICE}-SI-`))!;
    const startedAt = (await host.docker(['inspect', '-f', '{{.State.StartedAt}}', container])).trim();
    // No flags: host and ports are remembered in the data directory.
    dev = startDev([]);
    await waitForBanner(dev);
    const client = api();
    try {
      const summary = await client.waitForService(SERVICE, 'ACTIVE', (s) => s.healthyInstances === 1);
      expect(summary.activationState).toBe('ACTIVE');
      const list = await client.instances(SERVICE);
      expect(healthy(list).map((i) => `${SERVICE}-${i.instanceId}`)).toEqual([container]);
      // Nothing was started or stopped on the way: the same container, never restarted, and no extra instance.
      expect(await client.oldInstances(SERVICE)).toEqual([]);
      expect((await host.docker(['inspect', '-f', '{{.State.StartedAt}}', container])).trim()).toBe(startedAt);
      expect((await host.docker(['ps', '-a', '--format', '{{.Names}}'])).split('\n').filter(Boolean)).toEqual([container]);
    } finally {
      await client.close();
    }
  });

  it('rejects a bad flag with a message naming it', async () => {
    const bad = startDev(['--port', 'seventy']);
    await waitUntil('the bad start to exit', () => (!bad.running ? true : undefined));
    expect(bad.exitCode).not.toBe(0);
    expect(bad.output()).toContain("--port must be a port number between 1 and 65535, got 'seventy'");
  });
});
