import { createServer, type Server } from 'node:http';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createNetnsCluster, processesUnder, type NetnsCluster } from '../support/netns.js';
import { ensureTestImage, TEST_IMAGE } from '../support/images.js';
import { waitUntil } from '../support/wait.js';

/** The multi-host harness itself: three hosts, each its own namespace, address and dockerd. */
describe('network namespace hosts', () => {
  let cluster: NetnsCluster;
  const fixedPort = 8000;

  beforeAll(async () => {
    ensureTestImage();
    cluster = await createNetnsCluster({ hosts: 3, images: [TEST_IMAGE] });
  });

  afterAll(async () => {
    await cluster?.close();
  });

  it('runs a container on the same fixed port on every host and reaches each at its own address', async () => {
    for (const host of cluster.hosts) {
      await host.docker([
        'run', '-d', '--name', `harness-${host.index}`, '-p', `${fixedPort}:8000`,
        '-e', `HOST_MARK=${host.name}`, TEST_IMAGE,
      ]);
    }
    expect(new Set(cluster.hosts.map((h) => h.address)).size).toBe(3);
    for (const host of cluster.hosts) {
      const env = await waitUntil(`httpd on ${host.address}:${fixedPort}`, async () => {
        const response = await request(`http://${host.address}:${fixedPort}/cgi-bin/env`);
        const text = await response.body.text();
        return response.statusCode === 200 ? text : undefined;
      });
      // Each address is answered by the container of that host's own dockerd.
      expect(env).toContain(`HOST_MARK=${host.name}`);
      const ps = await host.docker(['ps', '--format', '{{.Names}}']);
      expect(ps.trim().split('\n')).toEqual([`harness-${host.index}`]);
    }
    // The main daemon does not see the hosts' containers.
    const mainPs = execFileSync('docker', ['ps', '-a', '--format', '{{.Names}}'], { encoding: 'utf8' });
    expect(mainPs).not.toMatch(/harness-\d/);
  });

  it('gives each host its own hostname: a container on the host network gets it, and the host network is the host\'s', async () => {
    for (const host of cluster.hosts) {
      const out = await host.docker(['run', '--rm', '--network', 'host', TEST_IMAGE, 'sh', '-c', 'hostname; ip -o -4 addr show eth0']);
      const [hostname, addresses] = out.trim().split('\n');
      expect(hostname).toBe(host.hostname);
      expect(host.hostname).toBe(host.name);
      expect(addresses).toContain(`${host.address}/24`);
    }
    // The machine itself keeps its hostname.
    expect(execFileSync('hostname', { encoding: 'utf8' }).trim()).not.toMatch(/^dt\d+h\d+$/);
  });

  it('lets a process inside a host reach a server listening on the gateway address', async () => {
    const server: Server = createServer((_req, res) => res.end('from-gateway'));
    await new Promise<void>((resolve) => server.listen(0, cluster.gateway, resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const host = cluster.hosts[1]!;
      const child = host.spawnInside(process.execPath, [
        '-e',
        `fetch('http://${cluster.gateway}:${port}/').then(r => r.text()).then(t => { process.stdout.write(t); })`,
      ]);
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code).toBe(0);
      expect(out).toBe('from-gateway');
    } finally {
      server.close();
    }
  });

  it('runs a command inside a host: an iptables rule there cuts that host off the gateway only', async () => {
    const server: Server = createServer((_req, res) => res.end('from-gateway'));
    await new Promise<void>((resolve) => server.listen(0, cluster.gateway, resolve));
    const port = (server.address() as { port: number }).port;
    const reach = async (index: number) => {
      const child = cluster.hosts[index]!.spawnInside(process.execPath, [
        '-e',
        `fetch('http://${cluster.gateway}:${port}/', { signal: AbortSignal.timeout(1500) }).then(() => process.exit(0), () => process.exit(3))`,
      ]);
      return new Promise<number | null>((resolve) => child.on('exit', resolve));
    };
    const rule = ['OUTPUT', '-d', cluster.gateway, '-j', 'DROP'];
    const host = cluster.hosts[0]!;
    try {
      expect(await host.runInside('ip', ['-o', '-4', 'addr', 'show', 'eth0'])).toContain(host.address);
      await host.runInside('iptables', ['-w', '-I', ...rule]);
      expect(await reach(0)).toBe(3);
      expect(await reach(1)).toBe(0);
      await host.runInside('iptables', ['-w', '-D', ...rule]);
      expect(await reach(0)).toBe(0);
    } finally {
      await host.runInside('iptables', ['-w', '-D', ...rule]).catch(() => '');
      server.close();
    }
  });

  it('restarts a host dockerd: its containers do not survive, the daemon answers again on the same socket', async () => {
    const host = cluster.hosts[2]!;
    await host.docker(['run', '-d', '--name', 'restart-victim', TEST_IMAGE]);
    await host.restartDockerd();
    const state = await host.docker(['inspect', '--format', '{{.State.Running}}', 'restart-victim']);
    expect(state.trim()).toBe('false');
    expect(await host.docker(['images', '--format', '{{.Repository}}:{{.Tag}}'])).toContain(TEST_IMAGE);
    await host.docker(['rm', '-f', 'restart-victim']);
  });

  it('adds a host later and removes a destroyed host completely, stray processes of its dockerd included', async () => {
    const fourth = await cluster.addHost();
    expect(fourth.index).toBe(3);
    expect(await fourth.docker(['images', '--format', '{{.Repository}}:{{.Tag}}'])).toContain(TEST_IMAGE);
    // What a dockerd stopped mid-start can leave behind: a process holding the host's state directory.
    const stray = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', join(fourth.dir, 'exec', 'stray-shim')], { stdio: 'ignore' });
    try {
      await waitUntil('the stray process to run', () => processesUnder(fourth.dir).includes(stray.pid!));
      await fourth.destroy();
      expect(processesUnder(fourth.dir)).toEqual([]);
      expect(stray.exitCode !== null || stray.signalCode !== null || !processesUnder(fourth.dir).includes(stray.pid!)).toBe(true);
    } finally {
      stray.kill('SIGKILL');
    }
    const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    expect(namespaces).not.toContain(fourth.name);
  });

  it('leaves nothing behind and keeps the main docker0 after close', async () => {
    const names = cluster.hosts.map((h) => h.name);
    await cluster.close();
    const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    for (const name of names) expect(namespaces).not.toContain(name);
    const links = execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' });
    expect(links).not.toContain(`dtbr${cluster.slot}:`);
    expect(links).toContain('docker0');
  });
});
