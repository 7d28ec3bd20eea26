import type { FaultKind, PlannedFault, PlannedOperation } from './schedule.js';

/** What the soak did, as the checker and the report see it. */

export type OperationOutcome =
  /** HTTP 200 from the leader: it must now finish, fail or be cancelled, with an event. */
  | 'accepted'
  /** HTTP 400 from the leader (validation, state, pending operation): fine, counted. */
  | 'refused'
  /** No controller accepted it as leader within the retry window (a failover or quorum loss). */
  | 'no-leader';

export interface OperationRecord {
  planned: PlannedOperation;
  /** Wall clock just before the request that got the final answer was sent. */
  sentAt: number;
  repliedAt: number;
  /** Index of the controller that gave the final answer. */
  controller: number | undefined;
  outcome: OperationOutcome;
  status: number;
  message: string | undefined;
  /** The instance ids a STOP/REPLACE resolved its picks to. */
  instanceIds?: string[];
}

export interface FaultRecord {
  planned: PlannedFault;
  kind: FaultKind;
  startedAt: number;
  healedAt: number | undefined;
  /** What was hit, in words (controller-2, executor host dt3h1, etcd m0+m2, ...). */
  target: string;
  error?: string;
}
