import { ETCD_ATTEMPT_TIMEOUT_MS, ETCD_AUTH_TIMEOUT_MS } from '../store/etcd.js';

/**
 * Every timing of the etcd election, derived from the lease TTL, with the reason for each (docs/ha.md,
 * "Timings"). With the default TTL of 3 s: step down 2 s after the last answered keep-alive was sent, every etcd call
 * bounded by 2 s, a re-read of the candidates every second, retries 50 ms to 1 s apart.
 */
export interface ElectionTimings {
  ttlSeconds: number;
  /**
   * A term ends (and a leader steps down) once its lease has not been heard from for this long: two thirds of the
   * TTL after the last answered keep-alive was *sent*. etcd renews a lease no earlier than the keep-alive was sent
   * and expires it a full TTL after the renewal, so nobody else can be elected for at least another third of the
   * TTL: room for this process's timer latency and for clock-rate differences. etcd3 sends a keep-alive every third
   * of the TTL, so a term survives as long as each keep-alive is answered within a third of the TTL (1 s with the
   * default TTL); a busier etcd or host needs a longer TTL (docs/ha.md, "Choosing leaseTtlSeconds").
   */
  stepDownAfterMs: number;
  /**
   * Deadline of every unary etcd call (lease grant, candidate put, candidates read, revoke). Stepping down never
   * waits for it: the keep-alive check ends the term by itself and every await of the term is abandoned at once.
   * So it only bounds how long one step may hang before the loop tries again, and a step slower than the
   * step-down threshold is useless anyway (a lease granted that late is already stale on arrival), hence the same
   * value. It leaves etcd3 room to retry once on another member after one attempt timed out
   * (ETCD_ATTEMPT_TIMEOUT_MS, 1 s) whenever the TTL is 2 s or more.
   */
  callTimeoutMs: number;
  /**
   * Safety-net re-read of the candidates while a candidacy stands. The watch is the fast path, but etcd3 reconnects
   * a broken watch with a backoff of up to 30 s, so after an etcd outage its events may come late or never; one
   * small read a second per controller bounds that to a second.
   */
  recheckIntervalMs: number;
  /**
   * Pause before the next campaign after a failed attempt or an ended term: exponential from the first to the last,
   * each drawn at random between half and all of it, so that controllers that lost etcd together do not all come
   * back at the same instant. An attempt costs etcd one or two small requests, and the largest pause adds directly
   * to how long a cluster stays leaderless after an outage: 1 s.
   */
  backoffInitialMs: number;
  backoffMaxMs: number;
  /**
   * How long the controller may take to start or stop its leader-only parts before the loop goes on without it.
   * Taking leadership loads the whole state from the store (each store call has a 5 s deadline); 30 s is far beyond
   * a healthy start and only guards the election against a hung controller. The handlers stay serialised.
   */
  handlerTimeoutMs: number;
  /** At most this many abandoned leases are remembered for revocation; older ones simply expire. */
  maxOrphanLeases: number;
  /**
   * How long start() waits for its first read of etcd, which tells wrong credentials (a start-up error) from an etcd
   * that does not answer yet (the loop retries). That read logs in first: its deadline is a login's
   * (ETCD_AUTH_TIMEOUT_MS, seconds on a loaded host) plus one request's, not callTimeoutMs, or a refusal that comes
   * after a slow login is taken for silence and a controller with a wrong password never stops.
   */
  accessCheckTimeoutMs: number;
}

export function electionTimings(ttlSeconds: number, overrides: Partial<ElectionTimings> = {}): ElectionTimings {
  const stepDownAfterMs = Math.floor((ttlSeconds * 1000 * 2) / 3);
  return {
    ttlSeconds,
    stepDownAfterMs,
    callTimeoutMs: stepDownAfterMs,
    recheckIntervalMs: 1_000,
    backoffInitialMs: 100,
    backoffMaxMs: 1_000,
    handlerTimeoutMs: 30_000,
    maxOrphanLeases: 16,
    accessCheckTimeoutMs: ETCD_AUTH_TIMEOUT_MS + ETCD_ATTEMPT_TIMEOUT_MS,
    ...overrides,
  };
}

/** The pause before campaign attempt `attempt` (0 = first retry), jittered with `random` in [0, 1). */
export function backoffMs(timings: ElectionTimings, attempt: number, random: () => number): number {
  const ceiling = Math.min(timings.backoffMaxMs, timings.backoffInitialMs * 2 ** Math.min(attempt, 20));
  return Math.round(ceiling * (0.5 + random() / 2));
}
