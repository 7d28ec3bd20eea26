import type { Etcd3 } from 'etcd3';
import { sleep, systemClock, type Clock } from '../../model/index.js';
import type { EtcdFence } from '../store/etcd.js';
import { within } from './deadline.js';
import type { Candidate, CandidateWatch, ElectionEtcd, ElectionLease } from './election-port.js';
import { Etcd3ElectionPort } from './etcd3-election-port.js';
import type { LeaderElector } from './leadership.js';
import { assertTransition, type ElectorState } from './elector-lifecycle.js';
import { backoffMs, electionTimings, type ElectionTimings } from './timings.js';

type LeadershipHandlers = Parameters<LeaderElector['start']>[0];

/**
 * Lease-based leader election on etcd (the standard recipe, no home-made consensus), run by one supervising loop
 * (docs/ha.md, "The election's lifecycle"). Every controller puts a candidate key `election/<lease id>` holding its
 * address under a lease of its own; the candidate whose key has the lowest create revision is the leader, and that
 * key with its revision fences every store write while it leads.
 *
 * The loop runs terms until stopped: a term grants a fresh lease, puts the candidate key, then follows or leads,
 * re-reading the candidates whenever the watch, the lease or a one-second timer wakes it. A term ends when its lease
 * is lost, its lease has not been heard from for two thirds of the TTL (before etcd can expire it and elect someone
 * else), its key vanished, or an etcd call of the campaign failed; a leader then steps down, the lease is revoked,
 * and after a jittered pause the next term campaigns again. Nothing but the loop ever campaigns; events only end
 * the current term or wake the loop, so no event can leave it waiting on a term that no longer exists.
 */

export interface EtcdLeaderElectorOptions {
  /** The etcd3 client (shared with the store). */
  client?: Etcd3;
  /** Instead of `client`: the etcd the election talks to (tests inject faults through it). */
  etcd?: ElectionEtcd;
  namespace?: string;
  /** Address other nodes use to reach this controller, `host:port`. */
  address: string;
  /** Lease TTL in seconds; failover after a leader dies takes about this long. */
  ttlSeconds?: number;
  clock?: Clock;
  /** Uniform in [0, 1), for the backoff's jitter; tests pass a seeded one. */
  random?: () => number;
  /** Overrides of the TTL-derived timings (tests). */
  timings?: Partial<ElectionTimings>;
  logger?: { info(msg: string): void; warn(msg: string): void };
  /** Told of every lifecycle move, after it happened. */
  onTransition?(from: ElectorState, to: ElectorState, reason: string): void;
}

/** How often a campaign that keeps failing is reported (the first failure always is). */
const FAILURE_LOG_INTERVAL_MS = 10_000;

/** Why a term ended; the reason the loop logs. */
class TermEnded extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'TermEnded';
  }
}

/** One candidacy: a lease, its key, and what it saw. Discarded when the term ends; a new term is a new object. */
class Term {
  readonly abort = new AbortController();
  lease: ElectionLease | undefined;
  leaseId: string | undefined;
  key: string | undefined;
  createRevision: string | undefined;
  /** The candidate key was put: this term campaigned successfully, whatever ends it later. */
  established = false;
  /** The candidates' first, as of this term's last successful read. */
  leader: Candidate | undefined;
  cancelCheck: (() => void) | undefined;

  /** Send time of the last answered keep-alive (the grant's, to start with). */
  lastKeepAliveSent = 0;

  get over(): boolean {
    return this.abort.signal.aborted;
  }
}

export class EtcdLeaderElector implements LeaderElector {
  private readonly etcd: ElectionEtcd;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly timings: ElectionTimings;
  private current: ElectorState = 'INITIALIZED';
  private handlers: LeadershipHandlers | undefined;
  /** Aborted by stop(): ends the loop's pauses and the current term. */
  private readonly life = new AbortController();
  private term: Term | undefined;
  private loop: Promise<void> | undefined;
  private watch: CandidateWatch | undefined;
  /** A wake-up that came while the loop was busy; its next nap returns at once. */
  private woken = false;
  private wakeNap: (() => void) | undefined;
  /** onAcquired/onLost run one after the other, never overlapping, even when the loop stopped waiting for one. */
  private handlerChain: Promise<void> = Promise.resolve();
  /** Leases of ended terms that etcd could not be told to revoke yet (their keys would otherwise linger a TTL). */
  private readonly orphans = new Map<string, ElectionLease>();
  private readonly revoking = new Set<string>();
  private lastReadError: string | undefined;

  constructor(private readonly options: EtcdLeaderElectorOptions) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.timings = electionTimings(options.ttlSeconds ?? 3, options.timings);
    if (options.etcd) this.etcd = options.etcd;
    else if (options.client) this.etcd = new Etcd3ElectionPort(options.client, options.namespace ?? '/drove/', this.clock);
    else throw new Error('EtcdLeaderElector needs an etcd client');
  }

  /**
   * One look at etcd first, so that wrong credentials fail the start; the loop then runs in the background, so a
   * controller starts, serves as a non-leader and stops cleanly while etcd is unreachable.
   */
  async start(handlers: LeadershipHandlers): Promise<void> {
    if (this.current !== 'INITIALIZED') throw new Error(`leader election: start() called while ${this.current}`);
    this.handlers = handlers;
    try {
      await this.checkAccess();
    } catch (error) {
      if (this.state() !== 'STOPPED') this.moveTo('STOPPED', 'etcd refused this controller');
      throw error;
    }
    if (this.life.signal.aborted) return;
    this.loop = this.supervise().catch((error: unknown) => {
      // supervise() catches everything itself; this only keeps a bug from becoming an unhandled rejection.
      this.warn(`election loop failed: ${message(error)}`);
    });
  }

  /**
   * Leading, and heard from etcd recently enough that nobody else can lead yet. After a pause (SIGSTOP, a long GC,
   * a frozen VM) the first question answers no and tells the loop, whichever timer would have woken first.
   */
  isLeader(): boolean {
    const term = this.term;
    if (this.current !== 'LEADER' || !term || term.over) return false;
    if (this.fresh(term)) return true;
    this.endTerm(term, 'keep-alive overdue');
    return false;
  }

  /**
   * What this node last saw is only passed on while its own link to etcd is alive: a node cut off from etcd
   * (quorum lost, partition) cannot know who leads, and naming a stale leader, itself included, would send clients
   * and UI redirects in circles (an unknown leader is simply not named).
   */
  leaderAddress(): string | undefined {
    const term = this.term;
    return term && !term.over && this.fresh(term) ? term.leader?.address : undefined;
  }

  /** The leader key and revision that guard every store write while this node leads. */
  fence(): EtcdFence | undefined {
    const term = this.term;
    if (!this.isLeader() || !term?.key || !term.createRevision) return undefined;
    return { key: term.key, createRevision: term.createRevision };
  }

  /** Where the lifecycle is (tests, diagnostics). */
  state(): ElectorState {
    return this.current;
  }

  async stop(): Promise<void> {
    if (this.current === 'STOPPED') return;
    if (this.current === 'INITIALIZED') {
      this.life.abort(new TermEnded('controller stopping'));
      this.moveTo('STOPPED', 'stopped before start');
      return;
    }
    this.life.abort(new TermEnded('controller stopping'));
    if (this.term) this.endTerm(this.term, 'controller stopping');
    await this.loop;
    const watch = this.watch;
    this.watch = undefined;
    if (watch) await within(this.clock, watch.cancel(), this.timings.callTimeoutMs, 'etcd watch cancel').catch(() => undefined);
    await this.revokeOrphans();
  }

  // ---- the loop ----

  private async supervise(): Promise<void> {
    let failures = 0;
    let lastFailureLog = Number.NEGATIVE_INFINITY;
    while (!this.life.signal.aborted) {
      const term = new Term();
      this.term = term;
      let reason = 'term ended';
      try {
        if (this.current === 'INITIALIZED') this.moveTo('CAMPAIGNING', 'started');
        await this.serve(term);
      } catch (error) {
        reason = message(term.over ? term.abort.signal.reason : error);
        if (!term.over) this.endTerm(term, reason);
      }
      try {
        await this.finishTerm(term, reason);
      } catch (error) {
        this.warn(`ending the term failed: ${message(error)}`);
      }
      if (this.life.signal.aborted) break;
      failures = term.established ? 0 : failures + 1;
      const pause = backoffMs(this.timings, failures, this.random);
      // During an outage every attempt fails: say so at the first failure, then every 10 s, not every second.
      if (!term.established && (failures === 1 || this.clock.now() - lastFailureLog >= FAILURE_LOG_INTERVAL_MS)) {
        this.warn(`cannot campaign (${reason}); attempt ${failures} failed, retrying with pauses up to ${this.timings.backoffMaxMs} ms`);
        lastFailureLog = this.clock.now();
      }
      await sleep(this.clock, pause, this.life.signal).catch(() => undefined);
    }
    try {
      if (this.current !== 'STOPPED') this.moveTo('STOPPED', 'controller stopping');
    } catch (error) {
      this.warn(message(error));
    }
  }

  /** One term; returns only by throwing (the reason it ended). */
  private async serve(term: Term): Promise<void> {
    const signal = term.abort.signal;
    // Our own keys from terms etcd could not be told about go first: behind one of them, this candidacy would
    // follow itself until that lease expired.
    if (this.orphans.size > 0) await this.revokeOrphans(signal);
    signal.throwIfAborted();
    term.lastKeepAliveSent = this.clock.now();
    const lease = this.etcd.grantLease(this.timings.ttlSeconds, {
      keepAlive: (sentAt) => {
        if (sentAt > term.lastKeepAliveSent) term.lastKeepAliveSent = sentAt;
      },
      lost: (error) => this.endTerm(term, `lease lost: ${error.message}`),
    });
    term.lease = lease;
    this.scheduleCheck(term);
    term.leaseId = await this.call(lease.granted, 'lease grant', signal);
    const candidacy = await this.call(this.etcd.putCandidate(term.leaseId, this.options.address), 'candidate put', signal);
    term.key = candidacy.key;
    term.createRevision = candidacy.createRevision;
    term.established = true;
    for (;;) {
      signal.throwIfAborted();
      this.ensureWatch();
      let candidates: Candidate[] | undefined;
      try {
        candidates = await this.call(this.etcd.readCandidates(), 'candidates read', signal);
        if (this.lastReadError) this.options.logger?.info('leader election: etcd answers again');
        this.lastReadError = undefined;
      } catch (error) {
        signal.throwIfAborted();
        // A read that fails decides nothing: the keep-alive check alone decides whether this term still stands.
        if (message(error) !== this.lastReadError) this.warn(`cannot read the candidates: ${message(error)}`);
        this.lastReadError = message(error);
      }
      if (candidates) await this.decide(term, candidates);
      await this.nap(signal);
    }
  }

  /** Follows or leads from one read of the candidates; throws when the term must end. */
  private async decide(term: Term, candidates: Candidate[]): Promise<void> {
    if (!candidates.some((c) => c.key === term.key)) throw new TermEnded('own candidate key vanished');
    const first = candidates[0]!;
    const previous = term.leader;
    term.leader = first;
    if (first.key !== term.key) {
      if (this.current === 'LEADER') throw new TermEnded(`another candidate leads (${first.address})`);
      if (this.current === 'CAMPAIGNING') this.moveTo('FOLLOWER', `${first.address} leads`);
      else if (previous?.key !== first.key) this.options.logger?.info(`leader election: following ${first.address}`);
      return;
    }
    if (this.current === 'LEADER') return;
    if (!this.fresh(term)) throw new TermEnded('keep-alive overdue');
    this.moveTo('LEADER', 'own candidate key is first');
    this.options.logger?.info(`leader election: this controller (${this.options.address}) is now the leader`);
    try {
      await within(this.clock, this.runHandler('onAcquired'), this.timings.handlerTimeoutMs, 'taking leadership', term.abort.signal);
    } catch (error) {
      term.abort.signal.throwIfAborted();
      throw new TermEnded(`could not take leadership: ${message(error)}`);
    }
  }

  /**
   * Ends the term for good: a leader steps down (the leader-only parts stop; isLeader() already answers no), and
   * etcd is asked to revoke the lease, so the next candidate need not wait for it to expire. Both are bounded.
   */
  private async finishTerm(term: Term, reason: string): Promise<void> {
    term.cancelCheck?.();
    const leading = this.current === 'LEADER';
    if (leading) {
      this.moveTo('STEPPING_DOWN', reason);
      this.warn(`stepping down (${reason})`);
    } else if (term.established) {
      this.warn(`candidacy ended (${reason})`);
    }
    await Promise.all([this.revokeTermLease(term), leading ? this.handBack() : Promise.resolve()]);
    if (!this.life.signal.aborted && this.current !== 'CAMPAIGNING') this.moveTo('CAMPAIGNING', reason);
  }

  private async handBack(): Promise<void> {
    try {
      await within(this.clock, this.runHandler('onLost'), this.timings.handlerTimeoutMs, 'handing leadership back');
    } catch (error) {
      this.warn(`handing leadership back failed: ${message(error)}`);
    }
  }

  private async revokeTermLease(term: Term): Promise<void> {
    const lease = term.lease;
    if (!lease) return;
    if (term.leaseId === undefined) {
      // The grant never answered: there is no key to clean up and nothing to wait for (etcd3 sends the revoke if
      // the grant answers after all; a lease granted that late expires by itself anyway, key-less).
      lease.revoke().catch(() => undefined);
      return;
    }
    try {
      await within(this.clock, lease.revoke(), this.timings.callTimeoutMs, 'etcd lease revoke');
    } catch {
      this.orphans.set(term.leaseId, lease);
      while (this.orphans.size > this.timings.maxOrphanLeases) this.orphans.delete(this.orphans.keys().next().value!);
    }
  }

  /** Retries the revocation of leases etcd could not be told about when their term ended (bounded, never throws). */
  private async revokeOrphans(signal?: AbortSignal): Promise<void> {
    await Promise.all(
      [...this.orphans].map(async ([id, lease]) => {
        if (this.revoking.has(id)) return;
        this.revoking.add(id);
        try {
          await within(this.clock, lease.revoke(), this.timings.callTimeoutMs, 'etcd lease revoke', signal);
          this.orphans.delete(id);
        } catch {
          // Still unreachable: tried again at the next campaign.
        } finally {
          this.revoking.delete(id);
        }
      }),
    );
  }

  // ---- events: they end the current term or wake the loop, nothing else ----

  /** Tells the loop its term is over; the loop does the rest (idempotent, safe from any callback). */
  private endTerm(term: Term, reason: string): void {
    if (term.over) return;
    term.cancelCheck?.();
    term.abort.abort(new TermEnded(reason));
    this.wake();
  }

  /** A timer at the moment the term's lease would turn stale, re-armed whenever a keep-alive came meanwhile. */
  private scheduleCheck(term: Term): void {
    if (term.over) return;
    const due = term.lastKeepAliveSent + this.timings.stepDownAfterMs - this.clock.now();
    term.cancelCheck = this.clock.setTimer(() => {
      if (this.fresh(term)) this.scheduleCheck(term);
      else this.endTerm(term, 'keep-alive overdue');
    }, due);
  }

  private ensureWatch(): void {
    if (this.watch || this.life.signal.aborted) return;
    let watch: CandidateWatch | undefined;
    let ended = false;
    try {
      watch = this.etcd.watchCandidates({
        changed: () => this.wake(),
        ended: (error) => {
          // Replaced at the next pass of the loop (at most a recheck interval away), not at once: a watch that
          // etcd keeps cancelling must not make the loop spin.
          this.warn(`the candidates' watch ended: ${error.message}`);
          ended = true;
          if (watch && this.watch === watch) this.watch = undefined;
        },
      });
      if (!ended) this.watch = watch;
    } catch (error) {
      this.warn(`cannot watch the candidates: ${message(error)}`);
    }
  }

  private wake(): void {
    const wake = this.wakeNap;
    if (wake) wake();
    else this.woken = true;
  }

  /** Waits for a wake-up, the safety-net re-read, or the end of the term. */
  private nap(signal: AbortSignal): Promise<void> {
    if (this.woken || signal.aborted) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        cancel();
        signal.removeEventListener('abort', done);
        this.wakeNap = undefined;
        this.woken = false;
        resolve();
      };
      const cancel = this.clock.setTimer(done, this.timings.recheckIntervalMs);
      signal.addEventListener('abort', done, { once: true });
      this.wakeNap = done;
    });
  }

  // ---- helpers ----

  /**
   * Wrong credentials or a namespace this user may not touch are configuration errors: reported at startup, as an
   * error that stops the controller (left alone, the loop would retry them forever). An etcd that is merely
   * unreachable is not an error here: controllers may start before etcd, the loop retries.
   */
  private async checkAccess(): Promise<void> {
    try {
      await within(this.clock, this.etcd.readCandidates(), this.timings.accessCheckTimeoutMs, 'etcd candidates read');
    } catch (error) {
      if (this.etcd.isAccessError(error)) {
        throw new Error(`etcd refused this controller (check store.username, store.password and the user's role): ${message(error)}`, {
          cause: error,
        });
      }
      this.warn(`etcd not reachable yet: ${message(error)}`);
    }
  }

  private call<T>(work: Promise<T>, what: string, signal: AbortSignal): Promise<T> {
    return within(this.clock, work, this.timings.callTimeoutMs, `etcd ${what}`, signal);
  }

  private runHandler(which: keyof LeadershipHandlers): Promise<void> {
    const handlers = this.handlers!;
    const run = this.handlerChain.then(() => handlers[which]());
    this.handlerChain = run.catch(() => undefined);
    return run;
  }

  private fresh(term: Term): boolean {
    return this.clock.now() - term.lastKeepAliveSent < this.timings.stepDownAfterMs;
  }

  private moveTo(to: ElectorState, reason: string): void {
    const from = this.current;
    assertTransition(from, to);
    this.current = to;
    this.options.logger?.info(`leader election: ${from} -> ${to} (${reason})`);
    this.options.onTransition?.(from, to, reason);
  }

  private warn(text: string): void {
    this.options.logger?.warn(`leader election: ${text}`);
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
