import type { Reply } from './api.js';
import { CheckerContext, type Violation } from './checker/context.js';
import { convergenceGaps } from './checker/convergence.js';
import { InstancesPerHostRule } from './checker/instances-per-host.js';
import { OperationsEndRule, type OperationTally } from './checker/operations-end.js';
import { RecordsKeptRule } from './checker/records-kept.js';
import type { OperationRecord } from './records.js';
import type { Sample } from './sample.js';
import type { SoakService } from './services.js';
import type { TermTracker } from './terms.js';
import { CHECKER_WINDOWS } from './timings.js';

export { RULES, type Rule, type Violation } from './checker/context.js';
export type { OperationTally } from './checker/operations-end.js';

/**
 * The soak's invariant checker. It is fed samples (Docker on every host, then the leader's API), the operations the
 * soak sent and the faults it injected, and records a violation whenever a rule is broken. Each rule lives in
 * checker/ with the reason it holds even under the faults the soak injects, and what it checks instead where a
 * fault makes it untestable (a host whose executor is dead or cut off); docs/soak.md has the same list.
 */

export interface CheckerOptions {
  services: readonly SoakService[];
  /** executorIds[i] is the executor on host i. */
  executorIds: readonly string[];
  tracker: TermTracker;
  onViolation: (violation: Violation) => void;
}

export class InvariantChecker {
  private readonly ctx: CheckerContext;
  private readonly instances: InstancesPerHostRule;
  private readonly records: RecordsKeptRule;
  private readonly operations: OperationsEndRule;
  private dualLeaderSince: number | undefined;

  constructor(options: CheckerOptions) {
    this.ctx = new CheckerContext(options.services, options.executorIds, options.tracker, options.onViolation);
    this.instances = new InstancesPerHostRule(this.ctx);
    this.records = new RecordsKeptRule(this.ctx);
    this.operations = new OperationsEndRule(this.ctx);
  }

  get violations(): readonly Violation[] {
    return this.ctx.violations;
  }

  operation(record: OperationRecord): void {
    this.ctx.operations.push(record);
    if (record.outcome === 'accepted') this.operations.accepted(record);
  }

  /** Rule server-error: every 5xx is a bug (the house rules: bad input is a 4xx, nothing else may fail). */
  serverError(what: string, reply: Reply, at = Date.now()): void {
    this.ctx.report(at, 'server-error', `${what} answered HTTP ${reply.status}`, JSON.stringify(reply.body).slice(0, 1_000));
  }

  hostFaultStarted(host: number): void {
    this.instances.hostFaultStarted(host);
  }

  hostFaultEnded(host: number, at = Date.now()): void {
    this.instances.hostFaultEnded(host, at);
  }

  sample(sample: Sample): void {
    this.checkLeaders(sample);
    if (!sample.view) return;
    this.instances.check(sample, sample.view);
    this.records.check(sample.wall, sample.view);
    this.operations.checkWorkingStates(sample.wall, sample.view);
    this.operations.check(sample.wall);
  }

  /** End of the soak: every accepted operation must have ended by now. */
  finish(at = Date.now()): void {
    this.operations.finish(at);
  }

  operationTally(): OperationTally {
    return this.operations.tally();
  }

  convergenceGaps(sample: Sample): string[] {
    return convergenceGaps(this.ctx, sample);
  }

  notConverged(at: number, withinMs: number, gaps: string[]): void {
    this.ctx.report(at, 'not-converged', `the cluster did not reach the desired state within ${Math.round(withinMs / 1000)} s`, gaps.join('\n'));
  }

  /**
   * Rule dual-leader. Two controllers may both answer ping 200 for a moment: a leader paused past its lease wakes
   * up and serves a request before its keep-alive check steps it down (its writes are fenced meanwhile). Longer
   * than a lease TTL plus two seconds means one of them failed to step down.
   */
  private checkLeaders(sample: Sample): void {
    if (sample.leaders.length <= 1) {
      this.dualLeaderSince = undefined;
      this.ctx.holds('dual-leader');
      return;
    }
    this.dualLeaderSince ??= sample.wall;
    if (sample.wall - this.dualLeaderSince > CHECKER_WINDOWS.dualLeaderMs) {
      const who = sample.leaders.map((i) => `controller-${i + 1}`).join(' and ');
      this.ctx.episode(sample.wall, 'dual-leader', 'dual-leader', `${who} both answer ping 200 for ${sample.wall - this.dualLeaderSince} ms`, '');
    }
  }
}
