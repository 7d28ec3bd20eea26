/**
 * bench:rollout's figures: medians of the runs and the printed table of drove, Docker Swarm and raw docker run
 * side by side. Pure, so unit-tested (test/unit/bench/rollout-figures.test.ts).
 */
import type { SwarmMode } from './swarm-spec.js';

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** One N's runs, in ms, each side measured from its start command to all N healthy. */
export interface RolloutRuns {
  instances: number;
  swarmMode: SwarmMode;
  drove: readonly number[];
  swarm: readonly number[];
  raw: readonly number[];
}

export interface RolloutRow {
  instances: number;
  swarmMode: SwarmMode;
  droveMs: number;
  swarmMs: number;
  rawMs: number;
  droveToRaw: number;
  droveToSwarm: number;
  swarmToRaw: number;
}

export function rolloutRow(runs: RolloutRuns): RolloutRow {
  const droveMs = median(runs.drove);
  const swarmMs = median(runs.swarm);
  const rawMs = median(runs.raw);
  return {
    instances: runs.instances,
    swarmMode: runs.swarmMode,
    droveMs,
    swarmMs,
    rawMs,
    droveToRaw: droveMs / rawMs,
    droveToSwarm: droveMs / swarmMs,
    swarmToRaw: swarmMs / rawMs,
  };
}

const COLUMNS = ['N', 'swarm mode', 'drove ms', 'swarm ms', 'raw ms', 'drove/raw', 'drove/swarm', 'swarm/raw'] as const;

function cells(row: RolloutRow): string[] {
  return [
    String(row.instances),
    row.swarmMode,
    row.droveMs.toFixed(0),
    row.swarmMs.toFixed(0),
    row.rawMs.toFixed(0),
    row.droveToRaw.toFixed(2),
    row.droveToSwarm.toFixed(2),
    row.swarmToRaw.toFixed(2),
  ];
}

/** The header line; printed before the first row so that rows can follow as each N finishes. */
export const tableHeader = (): string => COLUMNS.map((name) => name.padStart(columnWidth(name))).join('  ');

/** One row, right-aligned under the header. */
export const tableLine = (row: RolloutRow): string =>
  cells(row)
    .map((cell, i) => cell.padStart(columnWidth(COLUMNS[i]!)))
    .join('  ');

/** Wide enough for the header and for figures up to 99,999 ms. */
const columnWidth = (name: string): number => Math.max(name.length, 5);

/** drove's goal is against raw docker run (issue 15): the worst drove/raw ratio and whether it is within it. */
export function goalLine(rows: readonly RolloutRow[], goal: number): string {
  const worst = Math.max(...rows.map((row) => row.droveToRaw));
  return `worst drove/raw ratio ${worst.toFixed(2)} (goal <= ${goal.toFixed(2)}): ${worst <= goal ? 'met' : 'NOT met'}`;
}
