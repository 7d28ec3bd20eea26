import { ManualClock, sleep, type Clock } from '../../../src/model/index.js';
import { EtcdLeaderElector } from '../../../src/controller/leadership/etcd.js';
import { canTransition, type ElectorState } from '../../../src/controller/leadership/elector-lifecycle.js';
import type { ElectionTimings } from '../../../src/controller/leadership/timings.js';
import { FakeEtcd, type FakeElectionClient } from './fake-etcd.js';
import { advanceUntil } from '../../support/wait.js';

/** Default TTL of the unit tests: 3 s, so the keep-alive window is 2 s and every etcd call is bounded by 2 s. */
export const TTL_SECONDS = 3;
export const STEP_DOWN_MS = 2_000;

export interface TestNode {
  name: string;
  client: FakeElectionClient;
  elector: EtcdLeaderElector;
  /** onAcquired / onLost calls, in order. */
  handled: string[];
  transitions: Array<{ from: ElectorState; to: ElectorState; reason: string }>;
  log: string[];
  /** Makes the next onAcquired calls reject (one per entry). */
  failAcquire: Error[];
  /** How long each onAcquired takes, in fake time. */
  acquireMs: number;
  /** Most handlers seen running at once (onAcquired and onLost must never overlap). */
  maxConcurrentHandlers: number;
}

/** Deterministic numbers in [0, 1) (mulberry32), so that backoff pauses are the same on every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export class Harness {
  readonly clock = new ManualClock();
  readonly etcd = new FakeEtcd(this.clock);
  readonly nodes: TestNode[] = [];
  /** Every illegal move or loop failure any elector logged. */
  readonly bugs: string[] = [];
  /**
   * How far the electors' clock is ahead of etcd's: raising it plays a process that was frozen (SIGSTOP, a long GC)
   * and wakes with its timers overdue but not yet run.
   */
  pausedMs = 0;
  private readonly electorClock: Clock = {
    now: () => this.clock.now() + this.pausedMs,
    setTimer: (fn, ms) => this.clock.setTimer(fn, ms),
  };

  /** Creates (does not start) an elector on its own fake client. */
  node(name: string, timings: Partial<ElectionTimings> = {}, seed = this.nodes.length + 1): TestNode {
    const client = this.etcd.client(name);
    const handled: string[] = [];
    const transitions: TestNode['transitions'] = [];
    const log: string[] = [];
    const failAcquire: Error[] = [];
    const note = (line: string) => {
      log.push(`${this.clock.now()} ${line}`);
      if (/illegal transition|election loop failed|ending the term failed/.test(line)) this.bugs.push(`${name}: ${line}`);
    };
    const elector = new EtcdLeaderElector({
      etcd: client,
      address: `${name}:1`,
      ttlSeconds: TTL_SECONDS,
      clock: this.electorClock,
      random: seeded(seed),
      timings,
      logger: { info: note, warn: note },
      onTransition: (from, to, reason) => {
        transitions.push({ from, to, reason });
        if (!canTransition(from, to)) this.bugs.push(`${name}: ${from} -> ${to} was allowed`);
      },
    });
    const node: TestNode = { name, client, elector, handled, transitions, log, failAcquire, acquireMs: 0, maxConcurrentHandlers: 0 };
    this.nodes.push(node);
    return node;
  }

  /** Starts an elector, advancing the clock while start() waits on etcd. */
  async start(node: TestNode): Promise<void> {
    let running = 0;
    const track = async (work: () => Promise<void>) => {
      running++;
      node.maxConcurrentHandlers = Math.max(node.maxConcurrentHandlers, running);
      try {
        await work();
      } finally {
        running--;
      }
    };
    const started = node.elector.start({
      onAcquired: () =>
        track(async () => {
          if (node.acquireMs > 0) await sleep(this.clock, node.acquireMs);
          const failure = node.failAcquire.shift();
          if (failure) {
            node.handled.push('acquire failed');
            throw failure;
          }
          node.handled.push('acquired');
        }),
      onLost: () =>
        track(async () => {
          node.handled.push('lost');
        }),
    });
    await this.settle(started);
  }

  /** Starts a new elector. */
  async started(name: string, timings: Partial<ElectionTimings> = {}): Promise<TestNode> {
    const node = this.node(name, timings);
    await this.start(node);
    return node;
  }

  /** Awaits `work`, moving the fake clock 10 ms at a time while it is pending (at most `maxMs`). */
  async settle<T>(work: Promise<T>, maxMs = 60_000): Promise<T> {
    let done = false;
    const result = work.finally(() => (done = true));
    // Handled now: it may reject while the clock is still being moved below.
    result.catch(() => undefined);
    for (let waited = 0; !done && waited < maxMs; waited += 10) await this.clock.advance(10);
    if (!done) throw new Error(`still pending after ${maxMs} ms of fake time`);
    return result;
  }

  /** Advances the clock 10 ms at a time until `condition` holds; returns the fake time it took. */
  until(what: string, condition: () => boolean, maxMs: number): Promise<number> {
    return advanceUntil(this.clock, what, condition, {
      maxMs,
      stepMs: 10,
      detail: () => this.nodes.map((n) => `--- ${n.name}\n${n.log.slice(-30).join('\n')}`).join('\n'),
    });
  }

  /** Advances the clock by `ms`, checking `invariant` every 10 ms. */
  async run(ms: number, invariant: () => void = () => undefined): Promise<void> {
    for (let elapsed = 0; elapsed < ms; elapsed += 10) {
      await this.clock.advance(10);
      invariant();
    }
  }

  /**
   * One step of event-driven time: runs what is due now, then moves the clock to the next instant a timer is due
   * (at most to `limit`), calling `invariant` in the last millisecond before that instant and right after it. Between
   * two due timers every promise has settled and only the clock moves, so these two checks see every state the
   * electors pass through and the latest moment of each: as thorough as a check every millisecond, and far cheaper
   * than fixed 10 ms steps (a property run's cost then follows what happens in it, not how long it lasts).
   */
  async step(limit: number, invariant: () => void): Promise<void> {
    await this.clock.advance(0);
    const next = Math.min(this.clock.nextTimerAt() ?? limit, limit);
    if (next - 1 > this.clock.now()) await this.clock.advance(next - 1 - this.clock.now());
    invariant();
    if (next > this.clock.now()) await this.clock.advance(next - this.clock.now());
    invariant();
  }

  /** Like run(), instant by instant (step()). */
  async runStepwise(ms: number, invariant: () => void): Promise<void> {
    const end = this.clock.now() + ms;
    while (this.clock.now() < end) await this.step(end, invariant);
  }

  /** Like until(), instant by instant (step()), checking `invariant` all along; returns the fake time it took. */
  async untilStepwise(what: string, condition: () => boolean, maxMs: number, invariant: () => void): Promise<number> {
    const start = this.clock.now();
    while (!condition()) {
      if (this.clock.now() - start >= maxMs) {
        const detail = this.nodes.map((n) => `--- ${n.name}\n${n.log.slice(-30).join('\n')}`).join('\n');
        throw new Error(`${what}: not within ${maxMs} ms of virtual time\n${detail}`);
      }
      await this.step(start + maxMs, invariant);
    }
    return this.clock.now() - start;
  }

  leaders(): TestNode[] {
    return this.nodes.filter((n) => n.elector.isLeader());
  }

  async stopAll(): Promise<void> {
    // One settle for all: two loops advancing the same ManualClock at once could move it backwards.
    await this.settle(Promise.all(this.nodes.map((n) => n.elector.stop())));
  }
}
