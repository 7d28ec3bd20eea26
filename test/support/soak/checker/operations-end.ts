import type { LocalServiceState } from '../../../../src/model/index.js';
import { operationBoundMs, type BoundedKind } from '../bounds.js';
import type { OperationRecord } from '../records.js';
import type { LeaderView } from '../sample.js';
import type { OperationKind } from '../schedule.js';
import type { Term } from '../terms.js';
import { describeOperation, STEADY, summaryText, type CheckerContext } from './context.js';

/**
 * Rule operation-unfinished: every accepted operation finishes, fails or is cancelled with an event. Its
 * service's LOCAL_SERVICE_STATE_CHANGE events, in the term of the leader that accepted it, show the working
 * state the operation moved it into and then a steady state (or DESTROYED); a create or cancel shows the steady
 * state. Exception: the leader lost leadership first. Operation slots and events live in the leader's memory
 * and are dropped with its term (Drove's design, docs/design/operations.md#across-a-leader-change): the next leader starts from the stored records,
 * which the other rules and the final convergence check judge.
 * Rule operation-stuck: within one term, a service stays in a working state no longer than the bound its
 * operation's op spec gives it (bounds.ts), and an accepted operation ends within that bound. A new leader starts
 * every service from its steady state, so a term change resets the clock. The reconciler's operations run with the
 * controller defaults.
 */

/** The working state each operation moves its service into (the engine's Routing action). */
const WORKING_STATE: Partial<Record<OperationKind, LocalServiceState>> = {
  ACTIVATE: 'ACTIVATION_REQUESTED',
  DEPLOY_TEST_INSTANCE: 'CONFIG_TESTING_REQUESTED',
  DEACTIVATE: 'DEACTIVATION_REQUESTED',
  DESTROY: 'DESTROY_REQUESTED',
  ADJUST_INSTANCES: 'ADJUSTING_INSTANCES',
  RESTART: 'REPLACING_INSTANCES',
  REPLACE_INSTANCES: 'REPLACING_INSTANCES',
  STOP_INSTANCES: 'STOPPING_INSTANCES',
  UPDATE_INSTANCE_COUNT: 'UPDATING_INSTANCES_COUNT',
};

function boundedKind(kind: OperationKind | undefined, state: string | undefined): BoundedKind {
  if (kind === 'ADJUST_INSTANCES' || state === 'ADJUSTING_INSTANCES') return 'ADJUST';
  if (kind === 'RESTART' || kind === 'REPLACE_INSTANCES' || state === 'REPLACING_INSTANCES') return 'REPLACE';
  if (kind === 'STOP_INSTANCES' || state === 'STOPPING_INSTANCES') return 'STOP_INSTANCES';
  return 'RECORD';
}

interface PendingOperation {
  record: OperationRecord;
  flaggedStuck: boolean;
}

export interface OperationTally {
  finished: number;
  interrupted: number;
  pending: number;
}

export class OperationsEndRule {
  private readonly pending: PendingOperation[] = [];
  /** The working state a service is in, per term and service, and since when (reset whenever it changes). */
  private readonly working = new Map<string, { state: string; since: number }>();

  constructor(private readonly ctx: CheckerContext) {}

  accepted(record: OperationRecord): void {
    this.pending.push({ record, flaggedStuck: false });
  }

  tally(): OperationTally {
    let finished = 0;
    let interrupted = 0;
    for (const { how } of this.ctx.ended.values()) {
      if (how === 'finished') finished++;
      else interrupted++;
    }
    return { finished, interrupted, pending: this.pending.length };
  }

  /** End of the soak: every accepted operation must have ended by now. */
  finish(at: number): void {
    this.check(at);
    for (const p of this.pending) {
      this.ctx.report(
        at,
        'operation-unfinished',
        `${describeOperation(p.record)} was accepted but never finished, failed or was cancelled with an event`,
        this.eventsEvidence(p.record),
      );
    }
  }

  check(at: number): void {
    const { tracker } = this.ctx;
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const p = this.pending[i]!;
      const record = p.record;
      // Until the acceptor's log was read past the acceptance, the term it accepted in may not be known yet; if
      // another term began since, whichever it was has ended anyway.
      const readPast = record.controller !== undefined && tracker.fetchedAt(record.controller) > record.repliedAt;
      const term = readPast ? tracker.termAt(record.controller!, record.repliedAt) : undefined;
      if (!term) {
        if (tracker.hasTermAfter(record.repliedAt)) this.end(i, at, 'interrupted');
        continue;
      }
      const finishedAt = this.completion(record, term);
      if (finishedAt !== undefined) {
        this.end(i, finishedAt, 'finished');
        continue;
      }
      if (tracker.hasNewerTerm(term)) {
        this.end(i, at, 'interrupted');
        continue;
      }
      const bound = this.boundFor(record.planned.serviceId, record.planned.kind, undefined, record);
      if (!p.flaggedStuck && at - record.repliedAt > bound) {
        p.flaggedStuck = true;
        this.ctx.report(
          at,
          'operation-stuck',
          `${describeOperation(record)} has not finished ${Math.round((at - record.repliedAt) / 1000)} s after it was accepted (bound ${Math.round(bound / 1000)} s)`,
          this.eventsEvidence(record),
        );
      }
    }
  }

  /** The working-state half of operation-stuck, on the leader's summaries. */
  checkWorkingStates(at: number, view: LeaderView): void {
    const term = view.term;
    if (!term) return;
    for (const [serviceId, summary] of view.services) {
      const state = summary.state;
      const key = `${term.id}:${serviceId}`;
      if (!state || STEADY.has(state)) {
        this.working.delete(key);
        continue;
      }
      const current = this.working.get(key);
      const since = current?.state === state ? current.since : at;
      this.working.set(key, { state, since });
      const record = this.latestAccepted(serviceId, term, at);
      const kind = record && WORKING_STATE[record.planned.kind] === state ? record.planned.kind : undefined;
      const bound = this.boundFor(serviceId, kind, state, kind ? record : undefined);
      if (at - since > bound) {
        this.ctx.once(`stuck:${key}:${state}:${since}`, () =>
          this.ctx.report(at, 'operation-stuck', `${serviceId} has been ${state} for ${Math.round((at - since) / 1000)} s, longer than its bound ${Math.round(bound / 1000)} s`, summaryText(view, serviceId)),
        );
      }
    }
  }

  private end(index: number, at: number, how: 'finished' | 'interrupted'): void {
    const [p] = this.pending.splice(index, 1);
    this.ctx.ended.set(p!.record, { at, how });
  }

  /** Time of the event that shows the operation over, if there is one. */
  private completion(record: OperationRecord, term: Term): number | undefined {
    const events = this.serviceEvents(record, term, record.sentAt);
    const working = WORKING_STATE[record.planned.kind];
    let from = 0;
    if (working) {
      from = events.findIndex((e) => e.metadata.CURRENT_STATE === working);
      if (from < 0) return undefined;
    }
    const end = events.slice(from).find((e) => STEADY.has(String(e.metadata.CURRENT_STATE)) || e.metadata.CURRENT_STATE === 'DESTROYED');
    return end?.time;
  }

  private serviceEvents(record: OperationRecord, term: Term, since: number) {
    return this.ctx.tracker
      .eventsOf(term)
      .filter((e) => e.type === 'LOCAL_SERVICE_STATE_CHANGE' && e.metadata.LOCAL_SERVICE_ID === record.planned.serviceId && e.time >= since);
  }

  private latestAccepted(serviceId: string, term: Term, at: number): OperationRecord | undefined {
    let found: OperationRecord | undefined;
    for (const r of this.ctx.operations) {
      if (r.outcome !== 'accepted' || r.planned.serviceId !== serviceId || r.controller !== term.controller) continue;
      if (r.repliedAt < term.acquiredAt || r.sentAt > at) continue;
      found = r;
    }
    return found;
  }

  private boundFor(serviceId: string, kind: OperationKind | undefined, state: string | undefined, record: OperationRecord | undefined): number {
    const service = this.ctx.services.get(serviceId);
    if (!service) return Number.POSITIVE_INFINITY;
    return operationBoundMs(boundedKind(kind, state), service.spec, record?.planned.opSpec, this.ctx.executorIds.length);
  }

  private eventsEvidence(record: OperationRecord): string {
    if (record.controller === undefined) return '';
    const term = this.ctx.tracker.termAt(record.controller, record.repliedAt);
    if (!term) return `no term known for controller-${record.controller + 1} at ${record.repliedAt}`;
    const events = this.serviceEvents(record, term, record.sentAt - 5_000).map((e) => `${e.time - record.sentAt} ms: ${String(e.metadata.CURRENT_STATE)}`);
    return `term ${term.id} of controller-${term.controller + 1}; events of ${record.planned.serviceId} relative to sending: ${events.join(', ') || 'none'}`;
  }
}
