/**
 * Every timing of the soak in one place, each with the reason for its value. The cluster's own settings are
 * what the invariant checker's bounds are computed from (see bounds.ts), so they live together.
 */
export const SOAK_TIMINGS = {
  /** The default lease TTL, as an operator runs it: failover after a leader dies takes about this long. */
  leaseTtlSeconds: 3,

  controllerOptions: {
    /**
     * 5 heartbeats (executors send one every 2 s): longer than a failover, shorter than the longer executor
     * faults, so that both "executor kept" and "executor removed, instances LOST" happen.
     */
    staleExecutorAge: '10 seconds',
    /** The reconciler's safety net; triggers wake it sooner. */
    reconcileInterval: '1 second',
    /** Default op timeout of operations without an op spec (the reconciler's ADJUST_INSTANCES among them). */
    clusterOpTimeout: '20 seconds',
    clusterOpParallelism: 4,
    /** History is never pruned during a soak, so "no instance record lost" needs no exception for pruning. */
    maxStaleInstancesCount: 4096,
    /** Longer than any soak: events are never swept while the checker still wants to read them. */
    maxEventsStorageDuration: '48 hours',
    /**
     * Faults make instances fail (docker kills, a dockerd that is down, partitions), so crash loops form and are
     * exercised; with the default 5 min cap a host could still be waiting for its next attempt when the checker
     * wants the cluster converged (convergenceMs, 30 s after the last fault). 8 s at most fits in that window;
     * 30 s healthy ends a loop within the soak.
     */
    crashLoopBackoff: { initial: '1 second', max: '8 seconds', resetAfter: '30 seconds' },
  },

  executorOptions: {
    heartbeatInterval: '2 seconds',
    /** Executors find a new leader within a second of a failover. */
    leaderRetryInitial: '200 milliseconds',
    leaderRetryMax: '1 second',
    readinessPollInterval: '200 milliseconds',
    /** A restarted executor waits this long for a leader before it re-adopts its containers on its own. */
    recoveryLeaderWait: '5 seconds',
  },

  /** The checker samples Docker and the API this often (a sample takes ~100-300 ms on a loaded machine). */
  sampleIntervalMs: 1_000,
  /** Per API call: a paused controller must not hold a sample (or an operation) up for long. */
  requestTimeoutMs: 3_000,
  /**
   * An operation is retried on every controller for this long while none answers as leader, as a client would:
   * a failover takes ~3 s, a quorum loss lasts up to 12 s in the schedule.
   */
  operationRetryMs: 15_000,
  /** Starting the cluster: dockerds in namespaces and three controllers electing on a loaded machine. */
  startupMs: 180_000,
} as const;

/** Windows the invariant checker allows; the reasoning for each is in docs/soak.md and in invariants.ts. */
export const CHECKER_WINDOWS = {
  /**
   * A container whose record says it is on its way out (UNHEALTHY, STOPPING, DEPROVISIONING, failed, STOPPED,
   * LOST) may run this long: pre-shutdown hook (<= 1 s here), waitBeforeKill (200 ms), docker stop grace (10 s),
   * a report round trip, with room for a loaded machine.
   */
  leavingMs: 30_000,
  /**
   * After a fault on a host is undone (executor restarted, partition healed, dockerd back), its executor needs
   * a heartbeat (2 s), possibly a leader lookup (<= 1 s) and recovery (<= recoveryLeaderWait, 5 s) before the
   * leader sees its containers again.
   */
  hostRecoveryMs: 20_000,
  /**
   * When the desired count of a service goes down (deactivation, a lower instancesPerHost, a start-first
   * replacement that ended or was interrupted by a failover), the extra instances are stopped by the next
   * reconciler pass: the old count stays the cap for this long.
   */
  capDecreaseMs: 30_000,
  /**
   * An instance record in a running state that was not refreshed for instanceStaleAge (60 s: its executor died or
   * lost track of it) is in neither /instances (stale ones are left out) nor /instances/old (not finished) until the
   * reconciler's next pass marks it LOST (docs/design/reconciliation.md#lost-instances). Passes run every second; on a loaded machine a pass can
   * wait a few seconds behind an operation's store writes.
   */
  unlistedRecordMs: 10_000,
  /** After the last fault is healed and every operation finished, the cluster must match the desired state within this. */
  convergenceMs: 30_000,
  /**
   * Two controllers may both answer ping 200 for a moment (a paused leader waking up before its keep-alive check
   * runs); more than a lease TTL plus two seconds of it means one failed to step down.
   */
  dualLeaderMs: 5_000,
} as const;
