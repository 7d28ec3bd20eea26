import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from './wait.js';

/**
 * Real etcd members on loopback, started by the test itself (the `etcd` binary from Debian's etcd-server).
 * A test that needs etcd fails loudly when the binary is missing; it never skips.
 */

export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  process?: ChildProcess;
}

export interface EtcdCluster {
  members: EtcdMember[];
  endpoints: string[];
  stop(member: EtcdMember): Promise<void>;
  start(member: EtcdMember): Promise<void>;
  close(): Promise<void>;
}

/** Ports already handed out by this process: the OS may offer a just-released port again at once. */
const handedOut = new Set<number>();

/** A free loopback port never returned before in this process (so that the members of one cluster never collide). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await anyFreePort();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** One member's command line; `extra` adds flags (TLS and the like). */
export function etcdArgs(member: EtcdMember, initialCluster: string, token: string, extra: string[] = []): string[] {
  return [
    '--name', member.name,
    '--data-dir', member.dataDir,
    '--listen-client-urls', member.clientUrl,
    '--advertise-client-urls', member.clientUrl,
    '--listen-peer-urls', member.peerUrl,
    '--initial-advertise-peer-urls', member.peerUrl,
    '--initial-cluster', initialCluster,
    '--initial-cluster-token', token,
    '--initial-cluster-state', 'new',
    // Fast elections on loopback keep failover tests short.
    '--heartbeat-interval', '50',
    '--election-timeout', '500',
    ...extra,
  ];
}

export async function startEtcdCluster(size = 1): Promise<EtcdCluster> {
  const root = mkdtempSync(join(tmpdir(), 'drove-etcd-'));
  const members: EtcdMember[] = [];
  for (let i = 0; i < size; i++) {
    const name = `m${i}`;
    members.push({
      name,
      clientUrl: `http://127.0.0.1:${await freePort()}`,
      peerUrl: `http://127.0.0.1:${await freePort()}`,
      dataDir: join(root, name),
    });
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const token = `drove-test-${process.pid}-${Date.now()}`;

  const start = async (member: EtcdMember) => {
    const child = spawn('etcd', etcdArgs(member, initialCluster, token), { stdio: 'ignore' });
    member.process = child;
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (e) => reject(new Error(`cannot start etcd (apt-get install etcd-server): ${e.message}`)));
    });
  };

  try {
    await Promise.all(members.map(start));
    await waitHealthy(members.map((m) => m.clientUrl));
  } catch (error) {
    // A cluster that did not come up must not leave its members running.
    for (const m of members) if (m.process && m.process.exitCode === null && m.process.signalCode === null) m.process.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
    throw error;
  }

  return {
    members,
    endpoints: members.map((m) => m.clientUrl),
    start: async (member) => {
      await start(member);
      await waitHealthy([member.clientUrl]);
    },
    stop: async (member) => {
      const child = member.process;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
    close: async () => {
      await Promise.all(
        members.map(async (m) => {
          const child = m.process;
          if (!child || child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGKILL');
          await exited;
        }),
      );
      rmSync(root, { recursive: true, force: true });
    },
  };
}

async function waitHealthy(urls: string[], timeoutMs = 20_000): Promise<void> {
  await waitUntil(
    `etcd at ${urls.join(', ')} to be healthy`,
    async () => {
      for (const url of urls) {
        const body = (await (await fetch(`${url}/health`)).json()) as { health?: string };
        if (body.health !== 'true') return false;
      }
      return true;
    },
    { timeoutMs, intervalMs: 100 },
  );
}
