/**
 * Disruption mode for executor liveness (docs/design/reconciliation.md#disruption-mode), after Kubernetes' node
 * lifecycle controller: when a large share of the fleet goes silent at once, the likely cause is the controller
 * itself (its event loop was starved and the heartbeats sat in the listen backlog), not that many hosts died in
 * the same 45 s. Removing them all would mark their instances LOST and re-place them, which starves the
 * controller further: a spiral. So a mass of stale executors is held (kept as members, instances untouched) for
 * up to `maxHoldMs` more; a small loss (10% of the fleet) is below the share and removed as before.
 */
export interface DisruptionPolicy {
  /** More than this share of the live executors stale at once is a disruption (Kubernetes' unhealthy threshold: 0.55). */
  massStaleShare: number;
  /** Fewer live executors than this are never held: losing half of a small cluster is an ordinary loss. */
  minExecutors: number;
  /**
   * How much longer than the staleness age a held executor may stay silent before it is removed anyway, so a
   * real outage of most of the fleet still ends in LOST instances, only later.
   */
  maxHoldMs: number;
}

export function defaultDisruptionPolicy(staleExecutorAgeMs: number): DisruptionPolicy {
  return { massStaleShare: 0.5, minExecutors: 10, maxHoldMs: 2 * staleExecutorAgeMs };
}

export interface StaleExecutor {
  executorId: string;
  /** Controller-clock time of its last heartbeat or report. */
  lastSeen: number;
}

export interface StaleDecision {
  /** Remove now (EXECUTOR_REMOVED, instances LOST). */
  remove: string[];
  /** Stale, but kept as members for now: the fleet is in disruption. */
  hold: string[];
}

/** Which of the `stale` executors (silent past `staleAgeMs` at `now`) to remove, out of `liveCount` members. */
export function decideStale(
  stale: readonly StaleExecutor[],
  liveCount: number,
  now: number,
  staleAgeMs: number,
  policy: DisruptionPolicy,
): StaleDecision {
  const disrupted = liveCount >= policy.minExecutors && stale.length > policy.massStaleShare * liveCount;
  if (!disrupted) return { remove: stale.map((e) => e.executorId), hold: [] };
  const decision: StaleDecision = { remove: [], hold: [] };
  for (const e of stale) {
    (now - e.lastSeen > staleAgeMs + policy.maxHoldMs ? decision.remove : decision.hold).push(e.executorId);
  }
  return decision;
}
