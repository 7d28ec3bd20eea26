import type { ManualClock } from '../../../src/model/index.js';
import type {
  Candidate,
  CandidateWatch,
  ElectionEtcd,
  ElectionLease,
  LeaseEvents,
} from '../../../src/controller/leadership/election-port.js';

/**
 * An in-process etcd for the election, on a ManualClock: leases that expire a TTL after their last renewal,
 * candidate keys ordered by create revision, watches, and a quorum switch (no quorum: nothing is answered, nothing
 * expires; when it returns, every lease gets a full TTL again, as etcd's new raft leader does). Each client can be
 * told how its next calls behave, one call at a time or until told otherwise.
 */

export type Op = 'grant' | 'put' | 'read' | 'revoke';

/** How a call behaves: answers, never answers, waits for release(), or rejects. */
export type Fault = 'ok' | 'hang' | 'hold' | Error;

/** What the keep-alive stream does: answers every keep-alive, answers none, or reports the lease lost once. */
export type KeepAliveFault = 'ok' | 'silent' | 'lost';

interface StoredKey {
  value: string;
  createRevision: number;
  leaseId: string;
}

interface StoredLease {
  id: string;
  ttlMs: number;
  expiresAt: number;
  lastRenewal: number;
  owner: FakeElectionClient;
  events: LeaseEvents;
  cancelExpiry: () => void;
}

export interface HeldCall {
  client: string;
  op: Op;
  release(): void;
}

export class FakeEtcd {
  private revision = 1;
  private nextLeaseId = 7_000;
  readonly leases = new Map<string, StoredLease>();
  readonly keys = new Map<string, StoredKey>();
  private readonly watchers = new Set<{ changed(): void; ended(error: Error): void }>();
  private quorum = true;
  /** Calls waiting because there is no quorum; answered (or not) when it returns. */
  private readonly stalled: Array<() => void> = [];
  readonly held: HeldCall[] = [];

  constructor(readonly clock: ManualClock) {}

  client(name: string): FakeElectionClient {
    return new FakeElectionClient(name, this);
  }

  hasQuorum(): boolean {
    return this.quorum;
  }

  loseQuorum(): void {
    this.quorum = false;
  }

  restoreQuorum(): void {
    if (this.quorum) return;
    this.quorum = true;
    const now = this.clock.now();
    for (const lease of this.leases.values()) {
      lease.expiresAt = Math.max(lease.expiresAt, now + lease.ttlMs);
      this.scheduleExpiry(lease);
    }
    // A call that reached a member without quorum fails once the client's deadline passed; those still open now
    // are simply answered late, as etcd does when a leader is elected again.
    for (const resume of this.stalled.splice(0)) resume();
  }

  /** Answers every held call (in order). */
  releaseAll(): void {
    for (const call of this.held.splice(0)) call.release();
  }

  /** Candidates as etcd would answer them now, oldest first. */
  candidates(): Candidate[] {
    return [...this.keys.entries()]
      .filter(([key]) => key.startsWith('election/'))
      .map(([key, stored]) => ({ key, address: stored.value, createRevision: String(stored.createRevision) }))
      .sort((a, b) => Number(a.createRevision) - Number(b.createRevision));
  }

  /** Deletes a key behind its owner's back (an operator's etcdctl del). */
  deleteKey(key: string): void {
    if (!this.keys.delete(key)) return;
    this.revision++;
    this.notify();
  }

  lease(id: string): StoredLease | undefined {
    return this.leases.get(id);
  }

  // ---- what the clients call ----

  /** Runs `answer` as etcd would: at once, or once quorum is back. */
  whenQuorum(answer: () => void): void {
    if (this.quorum) answer();
    else this.stalled.push(answer);
  }

  grant(owner: FakeElectionClient, ttlSeconds: number, events: LeaseEvents): string {
    const id = String(this.nextLeaseId++);
    const now = this.clock.now();
    const lease: StoredLease = { id, ttlMs: ttlSeconds * 1000, expiresAt: now + ttlSeconds * 1000, lastRenewal: now, owner, events, cancelExpiry: () => undefined };
    this.leases.set(id, lease);
    this.scheduleExpiry(lease);
    return id;
  }

  renew(id: string): boolean {
    const lease = this.leases.get(id);
    if (!lease) return false;
    lease.lastRenewal = this.clock.now();
    lease.expiresAt = lease.lastRenewal + lease.ttlMs;
    this.scheduleExpiry(lease);
    return true;
  }

  put(leaseId: string, key: string, value: string): number {
    if (!this.leases.has(leaseId)) throw new Error('etcdserver: requested lease not found');
    const existing = this.keys.get(key);
    const revision = ++this.revision;
    this.keys.set(key, { value, createRevision: existing?.createRevision ?? revision, leaseId });
    this.notify();
    return this.keys.get(key)!.createRevision;
  }

  revoke(id: string): void {
    const lease = this.leases.get(id);
    if (!lease) return;
    lease.cancelExpiry();
    this.leases.delete(id);
    this.dropKeysOf(id);
  }

  watch(listener: { changed(): void; ended(error: Error): void }): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  /** Ends every watch for good (etcd cancelled them, e.g. after a compaction). */
  cancelWatches(): void {
    const all = [...this.watchers];
    this.watchers.clear();
    for (const w of all) w.ended(new Error('etcdserver: mvcc: required revision has been compacted'));
  }

  private dropKeysOf(leaseId: string): void {
    let changed = false;
    for (const [key, stored] of this.keys) {
      if (stored.leaseId === leaseId) {
        this.keys.delete(key);
        changed = true;
      }
    }
    if (changed) {
      this.revision++;
      this.notify();
    }
  }

  private notify(): void {
    for (const w of [...this.watchers]) w.changed();
  }

  /**
   * A lease expires at the very instant its TTL runs out, on a timer of its own (not a periodic sweep), so that
   * between two instants at which something is due nothing happens, and a test may move time straight from one to
   * the next. Without quorum the timer does nothing: without a raft leader etcd expires nothing, and restoreQuorum()
   * arms every lease again.
   */
  private scheduleExpiry(lease: StoredLease): void {
    lease.cancelExpiry();
    lease.cancelExpiry = this.clock.setTimer(() => {
      if (!this.quorum || this.leases.get(lease.id) !== lease || lease.expiresAt > this.clock.now()) return;
      this.leases.delete(lease.id);
      this.dropKeysOf(lease.id);
    }, lease.expiresAt - this.clock.now());
  }
}

export class FakeElectionClient implements ElectionEtcd {
  /** Behaviour of every call of an operation, after the one-shot plan below is used up. */
  readonly faults: Record<Op, Fault> = { grant: 'ok', put: 'ok', read: 'ok', revoke: 'ok' };
  /** One-shot behaviours, consumed by the next calls of an operation, in order. */
  readonly plan: Record<Op, Fault[]> = { grant: [], put: [], read: [], revoke: [] };
  keepAlive: KeepAliveFault = 'ok';
  /** Delay of a keep-alive's answer. */
  keepAliveDelayMs = 0;
  /** Counts of calls, by operation. */
  readonly calls: Record<Op | 'watch', number> = { grant: 0, put: 0, read: 0, revoke: 0, watch: 0 };
  /** Lease ids granted to this client, in order. */
  readonly granted: string[] = [];
  accessDenied = false;

  constructor(
    readonly name: string,
    private readonly etcd: FakeEtcd,
  ) {}

  /** Every operation behaves like `fault` from now on. */
  setAll(fault: Fault): void {
    for (const op of Object.keys(this.faults) as Op[]) this.faults[op] = fault;
  }

  grantLease(ttlSeconds: number, events: LeaseEvents): ElectionLease {
    let grantedId: string | undefined;
    let stopped = false;
    let keepAliveTimer: (() => void) | undefined;
    const keepAlives = () => {
      // etcd3 writes a keep-alive every third of the TTL.
      keepAliveTimer = this.etcd.clock.setTimer(() => {
        if (stopped || grantedId === undefined) return;
        const id = grantedId;
        const sentAt = this.etcd.clock.now();
        if (this.keepAlive === 'lost') {
          stopped = true;
          events.lost(new Error('etcd3: keep-alive stream failed, lease lost'));
          return;
        }
        if (this.keepAlive === 'ok' && this.etcd.hasQuorum()) {
          const alive = this.etcd.renew(id);
          const answer = () => {
            if (stopped) return;
            if (alive) events.keepAlive(sentAt);
            else {
              stopped = true;
              events.lost(new Error(`etcdserver: requested lease not found (${id})`));
            }
          };
          if (this.keepAliveDelayMs > 0) this.etcd.clock.setTimer(answer, this.keepAliveDelayMs);
          else answer();
        }
        keepAlives();
      }, (ttlSeconds * 1000) / 3);
    };
    const granted = this.perform('grant', () => {
      const id = this.etcd.grant(this, ttlSeconds, events);
      grantedId = id;
      this.granted.push(id);
      if (stopped) this.etcd.revoke(id);
      else keepAlives();
      return id;
    });
    // etcd3 reports a failed grant as a lost lease too.
    granted.catch((error: Error) => {
      if (!stopped) events.lost(error);
    });
    return {
      granted,
      revoke: () => {
        stopped = true;
        keepAliveTimer?.();
        return granted.then(
          (id) => this.perform('revoke', () => this.etcd.revoke(id)),
          () => undefined,
        );
      },
    };
  }

  putCandidate(leaseId: string, address: string): Promise<{ key: string; createRevision: string }> {
    const key = `election/${leaseId}`;
    return this.perform('put', () => ({ key, createRevision: String(this.etcd.put(leaseId, key, address)) }));
  }

  readCandidates(): Promise<Candidate[]> {
    if (this.accessDenied) return Promise.reject(new AccessDenied());
    return this.perform('read', () => this.etcd.candidates());
  }

  watchCandidates(listener: { changed(): void; ended(error: Error): void }): CandidateWatch {
    this.calls.watch++;
    const unwatch = this.etcd.watch(listener);
    return { cancel: async () => void unwatch() };
  }

  isAccessError(error: unknown): boolean {
    return error instanceof AccessDenied;
  }

  private perform<T>(op: Op, answer: () => T): Promise<T> {
    this.calls[op]++;
    const fault = this.plan[op].shift() ?? this.faults[op];
    if (fault instanceof Error) return Promise.reject(fault);
    if (fault === 'hang') return new Promise<T>(() => undefined);
    return new Promise<T>((resolve, reject) => {
      // etcd answers at the moment it processes the call; a held call's answer is kept until released.
      const run = () => {
        try {
          const value = answer();
          if (fault === 'hold') this.etcd.held.push({ client: this.name, op, release: () => resolve(value) });
          else resolve(value);
        } catch (error) {
          reject(error as Error);
        }
      };
      this.etcd.whenQuorum(run);
    });
  }
}

export class AccessDenied extends Error {
  constructor() {
    super('etcdserver: authentication failed, invalid user ID or password');
  }
}
