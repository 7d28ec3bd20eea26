import { BrokenCircuitError } from 'cockatiel';
import { afterEach, describe, expect, it } from 'vitest';
import { Harness, STEP_DOWN_MS, type TestNode } from './harness.js';

/**
 * The election loop against each etcd fault, injected deterministically through the fake etcd on a fake clock
 * (TTL 3 s: a term ends 2 s after its last answered keep-alive was sent; every etcd call is bounded by 2 s).
 */
describe('etcd election loop: faults', () => {
  let h: Harness;

  afterEach(async () => {
    await h.stopAll();
    expect(h.bugs).toEqual([]);
  });

  const fenceKey = (n: TestNode) => n.elector.fence()?.key;

  it('leads alone: a lease, a candidate key, the fence, its own address', async () => {
    h = new Harness();
    const a = await h.started('a');
    await h.until('a leads', () => a.elector.isLeader(), 100);
    expect(a.elector.state()).toBe('LEADER');
    expect(a.handled).toEqual(['acquired']);
    const [leaseId] = a.client.granted;
    expect(a.elector.fence()).toEqual({ key: `election/${leaseId}`, createRevision: h.etcd.candidates()[0]!.createRevision });
    expect(a.elector.leaderAddress()).toBe('a:1');
    // Keep-alives keep it leading, with the same lease.
    await h.run(30_000, () => expect(a.elector.isLeader()).toBe(true));
    expect(a.client.granted).toEqual([leaseId]);
  });

  it('a lease grant that hangs is abandoned at its deadline and a fresh lease is granted', async () => {
    h = new Harness();
    const a = h.node('a');
    a.client.plan.grant.push('hang');
    await h.start(a);
    await h.run(STEP_DOWN_MS - 20, () => expect(a.elector.state()).toBe('CAMPAIGNING'));
    expect(a.client.calls.grant).toBe(1);
    await h.until('a leads on a second lease', () => a.elector.isLeader(), 1_500);
    expect(a.client.calls.grant).toBe(2);
    expect(fenceKey(a)).toBe(`election/${a.client.granted[0]}`);
  });

  it('a keep-alive stream that fails ends the term: the leader steps down and leads again on a fresh lease', async () => {
    h = new Harness();
    const a = await h.started('a');
    await h.until('a leads', () => a.elector.isLeader(), 100);
    const first = a.elector.fence()!;
    a.client.keepAlive = 'lost';
    await h.until('a steps down', () => !a.elector.isLeader(), 1_100);
    a.client.keepAlive = 'ok';
    await h.until('a leads again', () => a.elector.isLeader(), 1_500);
    expect(a.handled).toEqual(['acquired', 'lost', 'acquired']);
    const second = a.elector.fence()!;
    expect(second.key).not.toBe(first.key);
    expect(Number(second.createRevision)).toBeGreaterThan(Number(first.createRevision));
    // The failed term's lease was revoked, not left to expire.
    expect(h.etcd.lease(first.key.slice('election/'.length))).toBeUndefined();
  });

  it('keep-alives that stop being answered: never leads without a fresh one, and settles once they come back', async () => {
    h = new Harness();
    const a = await h.started('a');
    await h.until('a leads', () => a.elector.isLeader(), 100);
    a.client.keepAlive = 'silent';
    // Whatever terms the loop tries meanwhile, it only says "leader" while etcd renewed its lease less than 2 s ago.
    await h.run(20_000, () => {
      if (!a.elector.isLeader()) return;
      const lease = h.etcd.lease(fenceKey(a)!.slice('election/'.length))!;
      expect(h.clock.now() - lease.lastRenewal).toBeLessThan(STEP_DOWN_MS);
    });
    expect(a.handled.filter((x) => x === 'lost').length).toBeGreaterThan(0);
    a.client.keepAlive = 'ok';
    // A term granted while keep-alives went unanswered may still end once; after that, leadership holds.
    await h.run(3_000);
    await h.until('a leads', () => a.elector.isLeader(), 1_500);
    const grants = a.client.calls.grant;
    await h.run(20_000, () => expect(a.elector.isLeader()).toBe(true));
    expect(a.client.calls.grant).toBe(grants);
  });

  it('a campaign whose candidate put rejects campaigns again, and its half-made lease is revoked', async () => {
    h = new Harness();
    const a = h.node('a');
    a.client.plan.put.push(new Error('etcdserver: request timed out'));
    await h.start(a);
    await h.until('a leads', () => a.elector.isLeader(), 1_000);
    expect(a.client.calls.put).toBe(2);
    expect(h.etcd.lease(a.client.granted[0]!)).toBeUndefined();
  });

  it('failing candidate reads keep a candidate from leading but do not end a term whose keep-alives arrive', async () => {
    h = new Harness();
    const a = h.node('a');
    a.client.faults.read = new Error('etcdserver: request timed out');
    await h.start(a);
    await h.run(10_000, () => expect(a.elector.isLeader()).toBe(false));
    expect(a.client.calls.grant).toBe(1);
    a.client.faults.read = 'ok';
    await h.until('a leads', () => a.elector.isLeader(), 1_100);
    // And a leader whose reads fail keeps leading while etcd renews its lease.
    a.client.faults.read = new Error('etcdserver: request timed out');
    await h.run(10_000, () => expect(a.elector.isLeader()).toBe(true));
    expect(a.client.calls.grant).toBe(1);
  });

  it("etcd3's open circuit breaker: the loop backs off instead of spinning, and leads once the breaker closes", async () => {
    h = new Harness();
    const a = h.node('a');
    a.client.setAll(new BrokenCircuitError());
    await h.start(a);
    await h.run(10_000, () => expect(a.elector.isLeader()).toBe(false));
    // Pauses grow to 0.5-1 s: about a dozen attempts in 10 s, not thousands.
    expect(a.client.calls.grant).toBeGreaterThan(5);
    expect(a.client.calls.grant).toBeLessThan(30);
    a.client.setAll('ok');
    await h.until('a leads', () => a.elector.isLeader(), 1_100);
  });

  it('the race of issue 10: a candidates read held open while the keep-alive goes overdue, answered late: a new lease is granted and the elector leads', async () => {
    h = new Harness();
    // A call deadline far beyond the step-down threshold: the term's end alone must abandon the held read.
    const a = h.node('a', { callTimeoutMs: 10_000 });
    a.client.keepAlive = 'silent';
    // The first read is start()'s access check; the second is the campaign's. The second grant is held too, so
    // that the stale read answers while the next campaign is under way.
    a.client.plan.read.push('ok', 'hold');
    a.client.plan.grant.push('ok', 'hold');
    await h.start(a);
    await h.until('the campaign waits on its read', () => h.etcd.held.length === 1, 100);
    const firstLease = a.client.granted[0]!;
    await h.until('the term ends on the overdue keep-alive and a new lease is asked for', () => a.client.calls.grant === 2, STEP_DOWN_MS + 1_100);
    expect(a.log.some((l) => l.includes('candidacy ended (keep-alive overdue)'))).toBe(true);
    a.client.keepAlive = 'ok';
    const [staleRead, secondGrant] = h.etcd.held.splice(0);
    expect([staleRead!.op, secondGrant!.op]).toEqual(['read', 'grant']);
    // The stale answer (the first lease's key, first) arrives after its term ended: it must not revive that term.
    staleRead!.release();
    await h.run(500, () => expect(a.elector.isLeader()).toBe(false));
    expect(a.elector.state()).toBe('CAMPAIGNING');
    secondGrant!.release();
    await h.until('a leads', () => a.elector.isLeader(), 100);
    expect(fenceKey(a)).not.toBe(`election/${firstLease}`);
    expect(fenceKey(a)).toBe(`election/${a.client.granted[1]}`);
    await h.run(20_000, () => expect(a.elector.isLeader()).toBe(true));
    expect(a.handled).toEqual(['acquired']);
  });

  it('the same race for a leader: its re-read held open, keep-alive overdue: it steps down at once, and the late answer does not make it lead on the old lease', async () => {
    h = new Harness();
    // A call deadline far beyond the step-down threshold: stepping down must not wait for any etcd call.
    const a = await h.started('a', { callTimeoutMs: 10_000 });
    await h.until('a leads', () => a.elector.isLeader(), 100);
    const first = a.elector.fence()!;
    a.client.plan.read.push('hold');
    await h.until('the re-read is held', () => h.etcd.held.length === 1, 1_100);
    a.client.keepAlive = 'silent';
    await h.until('a steps down', () => a.handled.includes('lost'), STEP_DOWN_MS + 100);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.elector.fence()).toBeUndefined();
    a.client.keepAlive = 'ok';
    h.etcd.releaseAll();
    await h.until('a leads again', () => a.elector.isLeader(), 1_500);
    expect(a.handled).toEqual(['acquired', 'lost', 'acquired']);
    expect(Number(a.elector.fence()!.createRevision)).toBeGreaterThan(Number(first.createRevision));
  });

  it('isLeader(), fence() and leaderAddress() turn off the moment the keep-alive is overdue, even while the loop waits on etcd', async () => {
    h = new Harness();
    const a = await h.started('a');
    await h.until('a leads', () => a.elector.isLeader(), 100);
    a.client.faults.read = 'hang';
    a.client.keepAlive = 'silent';
    const lastRenewal = h.etcd.lease(a.client.granted[0]!)!.lastRenewal;
    await h.clock.advance(lastRenewal + STEP_DOWN_MS - 1 - h.clock.now());
    expect(a.elector.isLeader()).toBe(true);
    expect(a.elector.leaderAddress()).toBe('a:1');
    await h.clock.advance(1);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.elector.fence()).toBeUndefined();
    expect(a.elector.leaderAddress()).toBeUndefined();
  });

  it('a leader that wakes from a pause answers no on its first isLeader(), before any of its timers ran', async () => {
    h = new Harness();
    const a = await h.started('a');
    await h.until('a leads', () => a.elector.isLeader(), 100);
    h.pausedMs = 5_000;
    expect(a.elector.isLeader()).toBe(false);
    expect(a.elector.fence()).toBeUndefined();
    expect(a.elector.leaderAddress()).toBeUndefined();
    h.pausedMs = 0;
    await h.until('a hands back', () => a.handled.includes('lost'), 100);
  });

  it('freshness counts from when the answered keep-alive was sent, not from when its answer arrived', async () => {
    h = new Harness();
    const a = await h.started('a');
    await h.until('a leads', () => a.elector.isLeader(), 100);
    // etcd renews the lease when a keep-alive reaches it; the answer takes 900 ms back. Then etcd loses quorum and
    // renews nothing: the last renewal is 900 ms older than the last answer.
    a.client.keepAliveDelayMs = 900;
    await h.run(3_000, () => expect(a.elector.isLeader()).toBe(true));
    h.etcd.loseQuorum();
    const lease = h.etcd.lease(a.client.granted[0]!)!;
    await h.run(5_000, () => {
      if (a.elector.isLeader()) expect(h.clock.now() - lease.lastRenewal).toBeLessThan(STEP_DOWN_MS);
    });
    expect(a.handled).toEqual(['acquired', 'lost']);
  });

  it('a candidate whose key vanished behind its back campaigns again with a fresh lease', async () => {
    h = new Harness();
    const a = await h.started('a');
    await h.until('a leads', () => a.elector.isLeader(), 100);
    const first = a.elector.fence()!;
    h.etcd.deleteKey(first.key);
    await h.until('a leads on a new key', () => a.elector.isLeader() && fenceKey(a) !== first.key, 1_000);
    expect(a.handled).toEqual(['acquired', 'lost', 'acquired']);
    expect(a.log.some((l) => l.includes('stepping down (own candidate key vanished)'))).toBe(true);
  });

  it('onAcquired that fails: hands back, campaigns again on a fresh lease, and leads when it succeeds', async () => {
    h = new Harness();
    const a = h.node('a');
    a.failAcquire.push(new Error('store unavailable'));
    await h.start(a);
    await h.until('a leads', () => a.handled.includes('acquired') && a.elector.isLeader(), 1_500);
    expect(a.handled).toEqual(['acquire failed', 'lost', 'acquired']);
    expect(a.client.granted).toHaveLength(2);
  });

  it('taking leadership that overruns its timeout: the loop goes on, yet onLost never runs before onAcquired is done', async () => {
    h = new Harness();
    const a = h.node('a', { handlerTimeoutMs: 5_000 });
    a.acquireMs = 8_000;
    await h.start(a);
    await h.until('a gives up waiting and hands back', () => a.log.some((l) => l.includes('stepping down (could not take leadership')), 5_100);
    expect(a.handled).toEqual([]);
    a.acquireMs = 0;
    await h.until('a leads', () => a.elector.isLeader() && a.handled.at(-1) === 'acquired', 10_000);
    expect(a.handled).toEqual(['acquired', 'lost', 'acquired']);
    expect(a.maxConcurrentHandlers).toBe(1);
  });

  it('a controller started while etcd has no quorum starts as a non-leader and leads once quorum is back', async () => {
    h = new Harness();
    h.etcd.loseQuorum();
    const a = await h.started('a');
    await h.run(10_000, () => expect(a.elector.isLeader()).toBe(false));
    expect(a.log.some((l) => l.includes('etcd not reachable yet'))).toBe(true);
    h.etcd.restoreQuorum();
    await h.until('a leads', () => a.elector.isLeader(), 3_000);
  });

  it('wrong credentials fail start() with a clear error, and nothing campaigns', async () => {
    h = new Harness();
    const a = h.node('a');
    a.client.accessDenied = true;
    await expect(h.start(a)).rejects.toThrow(/etcd refused this controller \(check store.username, store.password/);
    expect(a.elector.state()).toBe('STOPPED');
    await h.run(5_000);
    expect(a.client.calls.grant).toBe(0);
  });

  it('stop(): a leader hands back, revokes its lease, and the loop ends for good', async () => {
    h = new Harness();
    const a = await h.started('a');
    await h.until('a leads', () => a.elector.isLeader(), 100);
    await h.settle(a.elector.stop());
    expect(a.elector.state()).toBe('STOPPED');
    expect(a.handled).toEqual(['acquired', 'lost']);
    expect(h.etcd.leases.size).toBe(0);
    const calls = { ...a.client.calls };
    await h.run(10_000);
    expect(a.client.calls).toEqual(calls);
  });

  it('stop() while a grant hangs ends within one call deadline', async () => {
    h = new Harness();
    const a = h.node('a');
    a.client.faults.grant = 'hang';
    await h.start(a);
    await h.run(100);
    const stopping = a.elector.stop();
    const start = h.clock.now();
    await h.settle(stopping, STEP_DOWN_MS + 100);
    expect(h.clock.now() - start).toBeLessThanOrEqual(STEP_DOWN_MS + 10);
    expect(a.elector.state()).toBe('STOPPED');
  });

  it('a follower takes over through the watch as soon as the leader resigns, without waiting for the re-read', async () => {
    h = new Harness();
    const a = await h.started('a');
    await h.until('a leads', () => a.elector.isLeader(), 100);
    const b = await h.started('b');
    await h.until('b follows a', () => b.elector.state() === 'FOLLOWER' && b.elector.leaderAddress() === 'a:1', 100);
    await h.run(500);
    await h.settle(a.elector.stop());
    const took = await h.until('b leads', () => b.elector.isLeader(), 1_000);
    expect(took).toBeLessThan(50);
  });

  it("a follower's candidates read that hangs is abandoned at its deadline, so the loop still sees the leader go", async () => {
    h = new Harness();
    const a = await h.started('a');
    await h.until('a leads', () => a.elector.isLeader(), 100);
    const b = await h.started('b');
    await h.until('b follows a', () => b.elector.state() === 'FOLLOWER', 100);
    const reads = b.client.calls.read;
    b.client.plan.read.push('hang');
    await h.until("b's next read hangs", () => b.client.calls.read === reads + 1, 1_100);
    await h.settle(a.elector.stop());
    await h.until('b leads', () => b.elector.isLeader(), STEP_DOWN_MS + 1_100);
  });

  it('with every watch cancelled by etcd, the one-second re-read still finds the change', async () => {
    h = new Harness();
    const a = await h.started('a');
    await h.until('a leads', () => a.elector.isLeader(), 100);
    const b = await h.started('b');
    await h.until('b follows a', () => b.elector.state() === 'FOLLOWER', 100);
    h.etcd.cancelWatches();
    await h.settle(a.elector.stop());
    await h.until('b leads', () => b.elector.isLeader(), 1_050);
    // The loop made itself a new watch.
    expect(b.client.calls.watch).toBe(2);
  });

  it('a lease etcd could not be told to revoke is revoked at the next campaign, so the new candidacy need not wait for it to expire', async () => {
    h = new Harness();
    const a = await h.started('a');
    await h.until('a leads', () => a.elector.isLeader(), 100);
    const oldLease = a.client.granted[0]!;
    a.client.plan.revoke.push(new Error('etcdserver: request timed out'));
    a.client.keepAlive = 'lost';
    await h.until('a steps down', () => !a.elector.isLeader(), 1_100);
    a.client.keepAlive = 'ok';
    // Left alone, the old key (renewed a third of the TTL before the lease was lost) would stand first for 2 s more.
    await h.until('a leads again', () => a.elector.isLeader(), 1_000);
    expect(h.etcd.lease(oldLease)).toBeUndefined();
    expect(fenceKey(a)).not.toBe(`election/${oldLease}`);
  });

  it('quorum lost with three electors: the leader steps down before its lease could expire, nobody leads, and one leads again after', async () => {
    h = new Harness();
    const all = [await h.started('a'), await h.started('b'), await h.started('c')];
    await h.until('one leads', () => h.leaders().length === 1, 500);
    const leader = h.leaders()[0]!;
    h.etcd.loseQuorum();
    await h.until('the leader steps down', () => !leader.elector.isLeader(), STEP_DOWN_MS + 10);
    await h.run(15_000, () => expect(h.leaders()).toEqual([]));
    expect(all.every((n) => n.elector.leaderAddress() === undefined)).toBe(true);
    h.etcd.restoreQuorum();
    await h.until('one leads again', () => h.leaders().length === 1, 2 * 3_000 + 2_000);
    await h.run(10_000, () => expect(h.leaders()).toHaveLength(1));
  });
});
