import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { EtcdLeaderElector } from '../../../src/controller/leadership/etcd.js';
import { startEtcdCluster, type EtcdCluster } from '../../support/etcd-cluster.js';
import { timeUntil } from '../../support/wait.js';

interface Node {
  client: Etcd3;
  elector: EtcdLeaderElector;
  log: string[];
  /** The elector's own log lines, with times, shown when a test fails. */
  trace: string[];
}

describe('etcd leader election (3-member etcd on loopback)', () => {
  let cluster: EtcdCluster | undefined;
  const nodes: Node[] = [];

  afterEach(async () => {
    for (const node of nodes.splice(0)) {
      await node.elector.stop().catch(() => undefined);
      node.client.close();
    }
    await cluster?.close();
    cluster = undefined;
  });

  async function node(address: string, ns: string): Promise<Node> {
    const client = new Etcd3({ hosts: cluster!.endpoints });
    const log: string[] = [];
    const trace: string[] = [];
    const note = (line: string) => trace.push(`${new Date().toISOString()} ${line}`);
    const elector = new EtcdLeaderElector({
      client,
      namespace: ns,
      address,
      ttlSeconds: 2,
      logger: { info: note, warn: note },
    });
    await elector.start({
      onAcquired: async () => {
        log.push('acquired');
      },
      onLost: async () => {
        log.push('lost');
      },
    });
    const n = { client, elector, log, trace };
    nodes.push(n);
    return n;
  }

  it('elects exactly one leader, everyone knows its address, and a new one takes over when it is killed', async () => {
    cluster = await startEtcdCluster(3);
    // The first candidate is a separate process, so that it can die for real (SIGKILL, no resignation).
    const fixture = fileURLToPath(new URL('./fixtures/elector.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, cluster.endpoints.join(','), '/e1/', 'dead:1'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += String(chunk)));
    try {
      await timeUntil('the child process to lead', () => output.includes('acquired'), { timeoutMs: 15_000, intervalMs: 20 });
      const a = await node('a:1', '/e1/');
      const b = await node('b:1', '/e1/');
      const all = [a, b];
      await timeUntil('everyone to see the leader', () => all.every((n) => n.elector.leaderAddress() === 'dead:1'), { timeoutMs: 5_000, intervalMs: 20 });
      expect(all.some((n) => n.elector.isLeader())).toBe(false);

      child.kill('SIGKILL');
      // Correctness, not speed (bench:failover measures that): the lease expires and exactly one successor leads.
      await timeUntil('a new leader', () => all.filter((n) => n.elector.isLeader()).length === 1, { timeoutMs: 15_000, intervalMs: 20 });
      const leader = all.find((n) => n.elector.isLeader())!;
      const address = leader === a ? 'a:1' : 'b:1';
      await timeUntil('everyone to see the new leader', () => all.every((n) => n.elector.leaderAddress() === address), { timeoutMs: 5_000, intervalMs: 20 });
      expect(leader.elector.fence()).toBeDefined();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('steps the leader down when etcd quorum is lost, and elects again when it returns', async () => {
    cluster = await startEtcdCluster(3);
    const a = await node('a:1', '/e2/');
    await timeUntil('leadership', () => a.elector.isLeader(), { timeoutMs: 5_000, intervalMs: 20 });
    await cluster.stop(cluster.members[1]!);
    await cluster.stop(cluster.members[2]!);
    // Two-thirds of the 2 s ttl without a keep-alive, plus one check period.
    await timeUntil('step down without quorum', () => !a.elector.isLeader(), { timeoutMs: 5_000, intervalMs: 20 });
    expect(a.elector.fence()).toBeUndefined();
    // isLeader() answers no at once; onLost follows from the election loop (the very call above may have been the
    // one that noticed the overdue keep-alive).
    await timeUntil('the leader-only parts to be stopped', () => a.log.length === 2, { timeoutMs: 1_000, intervalMs: 20 });
    expect(a.log).toEqual(['acquired', 'lost']);
    await cluster.start(cluster.members[1]!);
    await cluster.start(cluster.members[2]!);
    // Generous: restarted members must elect a raft leader and the client's broken-host breaker must half-open,
    // which takes a while on a loaded 2-core machine. What matters is that leadership comes back by itself.
    await timeUntil('leadership after quorum returns', () => a.elector.isLeader(), { timeoutMs: 60_000, intervalMs: 20 }).catch((error: Error) => {
      throw new Error(`${error.message}\nelector trace:\n${a.trace.join('\n')}`);
    });
    expect(a.log).toEqual(['acquired', 'lost', 'acquired']);
  });
});
