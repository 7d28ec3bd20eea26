/**
 * The etcd elector's lifecycle (docs/ha.md, "The election's lifecycle"). One loop owns it; a move the table does
 * not list is a bug, thrown where it happens so that a test sees it.
 *
 * - INITIALIZED: constructed, start() not called yet.
 * - CAMPAIGNING: no candidacy (or one being made): revoking leftovers, granting a fresh lease, putting the candidate
 *   key, reading who is first; also the backoff pause before the next attempt.
 * - FOLLOWER: a candidacy of this term exists and another candidate is first.
 * - LEADER: this term's candidate key is first and its lease heard from etcd in time; the leader-only parts run.
 * - STEPPING_DOWN: the leader-only parts are being stopped and the term's lease revoked.
 * - STOPPED: stop() was called; the loop has ended for good.
 */
export type ElectorState = 'INITIALIZED' | 'CAMPAIGNING' | 'FOLLOWER' | 'LEADER' | 'STEPPING_DOWN' | 'STOPPED';

/**
 * Allowed moves. A leader never goes back to following on the same lease: it steps down, and a later term
 * campaigns with a fresh lease, so a term leads at most once and a fencing revision is never reused.
 */
export const ELECTOR_TRANSITIONS: Readonly<Record<ElectorState, readonly ElectorState[]>> = {
  INITIALIZED: ['CAMPAIGNING', 'STOPPED'],
  CAMPAIGNING: ['FOLLOWER', 'LEADER', 'STOPPED'],
  FOLLOWER: ['LEADER', 'CAMPAIGNING', 'STOPPED'],
  LEADER: ['STEPPING_DOWN'],
  STEPPING_DOWN: ['CAMPAIGNING', 'STOPPED'],
  STOPPED: [],
};

export class IllegalElectorTransitionError extends Error {
  constructor(
    readonly from: ElectorState,
    readonly to: ElectorState,
  ) {
    super(`leader election: illegal transition ${from} -> ${to}`);
    this.name = 'IllegalElectorTransitionError';
  }
}

export function canTransition(from: ElectorState, to: ElectorState): boolean {
  return ELECTOR_TRANSITIONS[from].includes(to);
}

export function assertTransition(from: ElectorState, to: ElectorState): void {
  if (!canTransition(from, to)) throw new IllegalElectorTransitionError(from, to);
}
