/**
 * What the etcd elector needs from etcd, and nothing more: production implements it over etcd3
 * (etcd3-election-port.ts), tests with an in-process fake that injects each fault on an injected clock.
 * Every promise here may hang or reject; the elector bounds and survives each one.
 */

/** What a lease tells its owner after the grant. */
export interface LeaseEvents {
  /**
   * etcd renewed the lease. `sentAt` is when the answered keep-alive was sent (on the elector's clock): etcd renewed
   * no earlier than that, so "expires no earlier than sentAt + ttl" holds whatever the round trip took.
   */
  keepAlive(sentAt: number): void;
  /** The lease is gone or cannot be renewed any more (etcd said so, or the client gave up on it). */
  lost(error: Error): void;
}

export interface ElectionLease {
  /** Resolves with the lease id once etcd granted it; rejects when it could not be granted. */
  readonly granted: Promise<string>;
  /** Stops the keep-alives and asks etcd to drop the lease and its keys; resolves once etcd no longer has it. */
  revoke(): Promise<void>;
}

export interface Candidate {
  /** Key under the elector's namespace, `election/<lease id>`. */
  key: string;
  /** `host:port` of the controller. */
  address: string;
  createRevision: string;
}

export interface CandidateWatch {
  cancel(): Promise<void>;
}

export interface ElectionEtcd {
  /** Grants a lease of `ttlSeconds` that keeps itself alive until revoked, reporting to `events`. */
  grantLease(ttlSeconds: number, events: LeaseEvents): ElectionLease;
  /**
   * Puts this controller's candidate key (`election/<lease id>` = `address`) under the lease and answers the key and
   * its create revision: the pair the store's writes are fenced with while this candidacy leads.
   */
  putCandidate(leaseId: string, address: string): Promise<{ key: string; createRevision: string }>;
  /** Every candidate, oldest (lowest create revision, the leader) first; a linearizable read. */
  readCandidates(): Promise<Candidate[]>;
  /**
   * Watches the candidates: `changed` on any put or delete or reconnection, `ended` when the watch is over for good
   * (its owner then makes a new one). Returns at once; connecting happens in the background.
   */
  watchCandidates(listener: { changed(): void; ended(error: Error): void }): CandidateWatch;
  /** Whether an error means the configuration is wrong (credentials, permissions), not that etcd is away. */
  isAccessError(error: unknown): boolean;
}
