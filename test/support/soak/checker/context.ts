import type { LocalServiceInstanceInfo } from '../../../../src/model/index.js';
import type { OperationRecord } from '../records.js';
import type { ContainerFact, LeaderView } from '../sample.js';
import type { SoakService } from '../services.js';
import type { TermTracker } from '../terms.js';

/** What every rule of the checker shares: the inputs so far, and how to report. */

export const RULES = [
  'instances-per-host',
  'config-test-instances',
  'instance-record-lost',
  'service-lost',
  'operation-stuck',
  'operation-unfinished',
  'dual-leader',
  'server-error',
  'not-converged',
] as const;
export type Rule = (typeof RULES)[number];

export interface Violation {
  /** Wall clock when it was found. */
  at: number;
  rule: Rule;
  message: string;
  evidence: string;
}

export interface OperationEnd {
  /** Event time of the steady state that ended it, or when its term was seen to be over. */
  at: number;
  how: 'finished' | 'interrupted';
}

export class CheckerContext {
  readonly violations: Violation[] = [];
  readonly services: Map<string, SoakService>;
  /** Every operation the soak sent, in the order their answers came. */
  readonly operations: OperationRecord[] = [];
  /** Accepted operations that ended (written by the operation rules, read by the instance rules). */
  readonly ended = new Map<OperationRecord, OperationEnd>();
  /** Episodes of level rules that are broken right now: reported once when they start. */
  private readonly open = new Set<string>();
  /** One-off findings already reported. */
  private readonly flagged = new Set<string>();

  constructor(
    services: readonly SoakService[],
    readonly executorIds: readonly string[],
    readonly tracker: TermTracker,
    private readonly onViolation: (violation: Violation) => void,
  ) {
    this.services = new Map(services.map((s) => [s.id, s]));
  }

  report(at: number, rule: Rule, message: string, evidence: string): void {
    const violation = { at, rule, message, evidence };
    this.violations.push(violation);
    this.onViolation(violation);
  }

  /** A level rule broken: reported when the episode starts, not again until `holds(key)` was called. */
  episode(at: number, rule: Rule, key: string, message: string, evidence: string): void {
    if (this.open.has(key)) return;
    this.open.add(key);
    this.report(at, rule, message, evidence);
  }

  holds(key: string): void {
    this.open.delete(key);
  }

  /** A one-off finding, reported the first time only. */
  once(key: string, report: () => void): void {
    if (this.flagged.has(key)) return;
    this.flagged.add(key);
    report();
  }

  hostOf(executorId: string): string {
    const index = this.executorIds.indexOf(executorId);
    return index < 0 ? `executor ${executorId}` : `host ${index + 1}`;
  }
}

export function recordOf(view: LeaderView, c: ContainerFact): LocalServiceInstanceInfo | undefined {
  return (
    view.instances.get(c.serviceId)?.find((i) => i.instanceId === c.instanceId) ??
    view.oldInstances.get(c.serviceId)?.find((i) => i.instanceId === c.instanceId)
  );
}

export function describeOperation(record: OperationRecord): string {
  const op = record.planned;
  return `${op.kind} ${op.serviceId} (planned at ${(op.atMs / 1000).toFixed(1)} s, accepted by controller-${(record.controller ?? -1) + 1})`;
}

export function summaryText(view: LeaderView, serviceId: string): string {
  const s = view.services.get(serviceId);
  return s ? `summary: ${s.activationState}/${s.state ?? '-'} instancesPerHost=${s.instancesPerHost} healthy=${s.healthyInstances}` : 'summary: not listed';
}

export const STEADY: ReadonlySet<string> = new Set(['ACTIVE', 'INACTIVE', 'CONFIG_TESTING']);
