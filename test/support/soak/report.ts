import type { OperationTally, Violation } from './invariants.js';
import type { FaultRecord, OperationRecord } from './records.js';
import { FAULT_KINDS, OPERATION_KINDS } from './schedule.js';

export interface SoakReport {
  seed: number;
  durationMs: number;
  operations: OperationRecord[];
  faults: FaultRecord[];
  violations: Violation[];
  tally: OperationTally;
  /** Leadership terms seen (the first election included). */
  terms: number;
  interrupted: boolean;
  /** What of the cluster was still there after the cleanup (must be nothing). */
  leftovers: string[];
}

/** The summary printed at the end: operations by type, faults by kind, violations, and the seed to replay. */
export function formatReport(report: SoakReport): string {
  const lines: string[] = [];
  lines.push(`soak report: seed ${report.seed}, ${Math.round(report.durationMs / 1000)} s of chaos${report.interrupted ? ' (INTERRUPTED)' : ''}`);
  lines.push('operations (accepted / refused / no leader):');
  for (const kind of OPERATION_KINDS) {
    const of = report.operations.filter((o) => o.planned.kind === kind);
    const count = (outcome: OperationRecord['outcome']) => of.filter((o) => o.outcome === outcome).length;
    lines.push(`  ${kind.padEnd(22)} ${String(count('accepted')).padStart(4)} / ${String(count('refused')).padStart(4)} / ${String(count('no-leader')).padStart(4)}`);
  }
  const accepted = report.operations.filter((o) => o.outcome === 'accepted').length;
  const refused = report.operations.filter((o) => o.outcome === 'refused').length;
  const noLeader = report.operations.filter((o) => o.outcome === 'no-leader').length;
  lines.push(`  ${'total'.padEnd(22)} ${String(accepted).padStart(4)} / ${String(refused).padStart(4)} / ${String(noLeader).padStart(4)}`);
  lines.push(
    `  accepted operations: ${report.tally.finished} finished with an event, ${report.tally.interrupted} ended with their leader's term, ${report.tally.pending} unfinished`,
  );
  lines.push('faults injected:');
  for (const kind of FAULT_KINDS) {
    const of = report.faults.filter((f) => f.kind === kind);
    const failed = of.filter((f) => f.error).length;
    lines.push(`  ${kind.padEnd(22)} ${String(of.length).padStart(4)}${failed ? ` (${failed} failed to inject or heal)` : ''}`);
  }
  lines.push(`  ${'total'.padEnd(22)} ${String(report.faults.length).padStart(4)}`);
  lines.push(`leadership terms seen: ${report.terms}`);
  lines.push(`left behind after the cleanup: ${report.leftovers.length === 0 ? 'nothing' : report.leftovers.join(', ')}`);
  lines.push(`invariant violations: ${report.violations.length}`);
  for (const v of report.violations) lines.push(`  [${v.rule}] ${v.message}`);
  lines.push(`seed: ${report.seed} (replay: npm run soak -- --minutes ${report.durationMs / 60_000} --seed ${report.seed})`);
  return lines.join('\n');
}
