import {
  Etcd3,
  EtcdAuthenticationFailedError,
  EtcdPermissionDeniedError,
  EtcdRoleNotGrantedError,
  EtcdUserNotFoundError,
  type Lease,
  type Namespace,
  type Watcher,
} from 'etcd3';
import { systemClock, type Clock } from '../../model/index.js';
import type { LeaderElector } from './leadership.js';

type LeadershipHandlers = Parameters<LeaderElector['start']>[0];
import type { EtcdFence } from '../store/etcd.js';

/**
 * Lease-based leader election on etcd (the standard recipe, no home-made consensus): every controller puts a
 * candidate key `election/<lease id>` holding its address under its own lease; the candidate whose key has the
 * lowest create revision is the leader. When the leader dies its lease expires, its key disappears, and the next
 * candidate sees the deletion through a watch and takes over at once.
 *
 * Stepping down before another can act: etcd expires a lease `ttl` after the last keep-alive it received. We step
 * down locally once no keep-alive has succeeded for two thirds of the ttl, which is before etcd can expire the lease
 * and elect someone else. A process that is paused and cannot even run that timer is stopped by the store's fence
 * (every write is guarded by the leader key's create revision).
 */

export interface EtcdLeaderElectorOptions {
  client: Etcd3;
  namespace?: string;
  /** Address other nodes use to reach this controller, `host:port`. */
  address: string;
  /** Lease TTL in seconds; failover after a leader dies takes about this long. */
  ttlSeconds?: number;
  clock?: Clock;
  logger?: { info(msg: string): void; warn(msg: string): void };
}

const PREFIX = 'election/';

/** Period of the local keep-alive check (cheap, no etcd call): how late after a lost keep-alive we step down. */
const CHECK_INTERVAL_MS = 250;
/**
 * Period of the safety-net re-read of the candidates. The watch is the fast path, but etcd3 reconnects a broken
 * watch with a backoff of up to 30 s, and a keep-alive stream can die without an error: after an etcd outage,
 * events may come late or never. One small read a second per controller bounds that to a second.
 */
const RECHECK_INTERVAL_MS = 1_000;

export class EtcdLeaderElector implements LeaderElector {
  private readonly ns: Namespace;
  private readonly ttlSeconds: number;
  private readonly clock: Clock;
  private handlers: LeadershipHandlers | undefined;
  private lease: Lease | undefined;
  private myKey: string | undefined;
  private myRevision: string | undefined;
  private leader: { key: string; address: string; revision: string } | undefined;
  private leading = false;
  private lastKeepAlive = 0;
  private watcher: Watcher | undefined;
  private stopped = false;
  private cancelCheck: (() => void) | undefined;
  /** Serialises leadership transitions so onAcquired/onLost never overlap. */
  private transitions: Promise<void> = Promise.resolve();
  private campaigning: Promise<void> | undefined;
  private lastRecheck = 0;
  private rechecking = false;

  constructor(private readonly options: EtcdLeaderElectorOptions) {
    this.ns = options.client.namespace(options.namespace ?? '/drove/');
    this.ttlSeconds = options.ttlSeconds ?? 3;
    this.clock = options.clock ?? systemClock;
  }

  /**
   * One look at etcd first, so that wrong credentials fail the start (see checkAccess); the watch and the
   * campaign then run in the background and retry, so a controller starts, serves as a non-leader and stops
   * cleanly while etcd is unreachable.
   */
  async start(handlers: LeadershipHandlers): Promise<void> {
    this.handlers = handlers;
    await this.checkAccess();
    this.scheduleCheck();
    void this.watch();
    void this.campaign();
  }

  /**
   * Leading, and heard from etcd recently enough that nobody else can lead yet. After a pause (SIGSTOP, a long
   * GC, a frozen VM) the first question steps down at once, so the leader-only parts never act on a lease that
   * may have expired meanwhile, whichever timer wakes first.
   */
  isLeader(): boolean {
    if (this.leading && !this.keepAliveFresh()) void this.onLeaseLost('keep-alive overdue');
    return this.leading;
  }

  /**
   * What this node last saw is only passed on while its own link to etcd is alive: a node cut off from etcd
   * (quorum lost, partition) cannot know who leads, and naming a stale leader, itself included, would send
   * clients and UI redirects in circles (§6.2: an unknown leader is simply not named).
   */
  leaderAddress(): string | undefined {
    return this.keepAliveFresh() ? this.leader?.address : undefined;
  }

  /** The leader key and revision that guard every store write while this node leads. */
  fence(): EtcdFence | undefined {
    if (!this.isLeader() || !this.myKey || !this.myRevision) return undefined;
    return { key: this.myKey, createRevision: this.myRevision };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelCheck?.();
    await this.watcher?.cancel().catch(() => undefined);
    await this.stepDown('controller stopping');
    await this.transitions;
    await this.lease?.revoke().catch(() => undefined);
    this.lease = undefined;
  }

  /**
   * Wrong credentials or a namespace this user may not touch are configuration errors: reported at startup, as
   * an error that stops the controller (left alone, the watch would retry them forever in silence). An etcd that
   * is merely unreachable is not an error here: controllers may start before etcd, the campaign retries.
   */
  private async checkAccess(): Promise<void> {
    try {
      await this.ns.getAll().prefix(PREFIX).limit(1).keys();
    } catch (error) {
      if (isAccessError(error)) {
        throw new Error(`etcd refused this controller (check store.username, store.password and the user's role): ${(error as Error).message}`, {
          cause: error,
        });
      }
      this.options.logger?.warn(`leader election: etcd not reachable yet: ${(error as Error).message}`);
    }
  }

  private async watch(): Promise<void> {
    while (!this.stopped) {
      try {
        const watcher = await this.ns.watch().prefix(PREFIX).create();
        if (this.stopped) {
          await watcher.cancel().catch(() => undefined);
          return;
        }
        watcher.on('put', () => void this.evaluate());
        watcher.on('delete', () => void this.evaluate());
        watcher.on('connected', () => void this.evaluate());
        this.watcher = watcher;
        return;
      } catch (error) {
        this.options.logger?.warn(`leader election: cannot watch the candidates: ${(error as Error).message}`);
        await new Promise((resolve) => this.clock.setTimer(() => resolve(undefined), 1_000));
      }
    }
  }

  private campaign(): Promise<void> {
    if (this.campaigning) return this.campaigning;
    this.campaigning = (async () => {
      while (!this.stopped) {
        const lease = this.ns.lease(this.ttlSeconds, { autoKeepAlive: true });
        lease.on('keepaliveSucceeded', () => {
          if (this.lease === lease) this.lastKeepAlive = this.clock.now();
        });
        lease.on('lost', () => {
          if (this.lease === lease) void this.onLeaseLost('lease lost');
        });
        try {
          const id = await this.within(lease.grant(), 'lease grant');
          this.lease = lease;
          this.lastKeepAlive = this.clock.now();
          this.myKey = `${PREFIX}${id}`;
          await this.within(lease.put(this.myKey).value(this.options.address).exec(), 'candidate put');
          const kv = (await this.within(this.ns.get(this.myKey).exec(), 'candidate read')).kvs[0];
          this.myRevision = kv ? String(kv.create_revision) : undefined;
          if (this.stopped) throw new Error('controller stopping');
          await this.evaluate();
          return;
        } catch (error) {
          // A half-made candidacy is abandoned whole: its lease would otherwise be kept alive for nothing.
          if (this.lease === lease) {
            this.lease = undefined;
            this.myKey = undefined;
            this.myRevision = undefined;
          }
          lease.release();
          void lease.revoke().catch(() => undefined);
          if (this.stopped) return;
          this.options.logger?.warn(`leader election: cannot campaign: ${(error as Error).message}`);
          await new Promise((resolve) => this.clock.setTimer(() => resolve(undefined), 1_000));
        }
      }
    })().finally(() => {
      this.campaigning = undefined;
    });
    return this.campaigning;
  }

  private async evaluate(): Promise<void> {
    if (this.stopped) return;
    let first;
    try {
      first = (await this.within(this.ns.getAll().prefix(PREFIX).sort('Create', 'Ascend').limit(1).exec(), 'candidates read')).kvs[0];
    } catch (error) {
      this.options.logger?.warn(`leader election: cannot read candidates: ${(error as Error).message}`);
      return;
    }
    this.leader = first
      ? { key: first.key.toString(), address: first.value.toString(), revision: String(first.create_revision) }
      : undefined;
    const mine = this.myKey !== undefined && this.leader !== undefined && this.leader.key.endsWith(this.myKey);
    if (mine && !this.leading && this.keepAliveFresh()) await this.becomeLeader();
    else if (!mine && this.leading) await this.stepDown('another candidate leads');
    if (this.myKey && !first) void this.onLeaseLost('own candidate key vanished');
  }

  /**
   * Every etcd call of the election has a deadline (one lease TTL). A call can otherwise wait for good on a member
   * that lost quorum or went away and came back, and a campaign stuck in it would leave the cluster leaderless
   * after the outage ends.
   */
  private within<T>(call: Promise<T>, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const cancel = this.clock.setTimer(
        () => reject(new Error(`etcd ${what} did not answer within ${this.ttlSeconds} s`)),
        this.ttlSeconds * 1000,
      );
      call.then(
        (value) => {
          cancel();
          resolve(value);
        },
        (error: unknown) => {
          cancel();
          reject(error);
        },
      );
    });
  }

  private keepAliveFresh(): boolean {
    return this.clock.now() - this.lastKeepAlive < (this.ttlSeconds * 1000 * 2) / 3;
  }

  private scheduleCheck(): void {
    if (this.stopped) return;
    this.cancelCheck = this.clock.setTimer(() => {
      if (this.leading && !this.keepAliveFresh()) void this.onLeaseLost('keep-alive overdue');
      else if (this.clock.now() - this.lastRecheck >= RECHECK_INTERVAL_MS) void this.recheck();
      this.scheduleCheck();
    }, CHECK_INTERVAL_MS);
  }

  /** Our own candidate key must still exist (else campaign again), and the leader is whoever is first now. */
  private async recheck(): Promise<void> {
    if (this.rechecking || this.stopped || this.campaigning || !this.myKey) return;
    this.rechecking = true;
    this.lastRecheck = this.clock.now();
    const key = this.myKey;
    try {
      const own = await this.within(this.ns.get(key).exec(), 'own key read');
      if (this.myKey !== key) return;
      if (own.kvs.length === 0) {
        void this.onLeaseLost('own candidate key vanished');
        return;
      }
      await this.evaluate();
    } catch {
      // etcd unreachable: the keep-alive check above decides about leadership.
    } finally {
      this.rechecking = false;
    }
  }

  private async onLeaseLost(reason: string): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    this.myKey = undefined;
    this.myRevision = undefined;
    this.leader = undefined;
    await this.stepDown(reason);
    lease?.release();
    void lease?.revoke().catch(() => undefined);
    if (!this.stopped) await this.campaign();
  }

  private becomeLeader(): Promise<void> {
    this.leading = true;
    this.options.logger?.info(`leader election: this controller (${this.options.address}) is now the leader`);
    this.transitions = this.transitions.then(() => this.handlers?.onAcquired()).catch((error) => {
      this.options.logger?.warn(`leader election: taking leadership failed: ${(error as Error).message}`);
      void this.onLeaseLost('could not take leadership');
    });
    return this.transitions;
  }

  private stepDown(reason: string): Promise<void> {
    if (!this.leading) return this.transitions;
    this.leading = false;
    this.options.logger?.warn(`leader election: stepping down (${reason})`);
    this.transitions = this.transitions.then(() => this.handlers?.onLost()).catch(() => undefined);
    return this.transitions;
  }
}

function isAccessError(error: unknown): boolean {
  return (
    error instanceof EtcdAuthenticationFailedError ||
    error instanceof EtcdPermissionDeniedError ||
    error instanceof EtcdRoleNotGrantedError ||
    error instanceof EtcdUserNotFoundError
  );
}
