import type { ExecutorResourceSnapshot } from '../../model/index.js';

/** What one executor's resource snapshot adds to the cluster summary. */
export interface ResourceTotals {
  freeCores: number;
  usedCores: number;
  freeMemory: number;
  usedMemory: number;
}

export interface FleetTotals extends ResourceTotals {
  /** Executors counted (the ACTIVE ones). */
  numExecutors: number;
}

export function resourceTotals(snapshot: ExecutorResourceSnapshot): ResourceTotals {
  const totals: ResourceTotals = { freeCores: 0, usedCores: 0, freeMemory: 0, usedMemory: 0 };
  for (const ids of Object.values(snapshot.cpus.freeCores)) totals.freeCores += ids.length;
  for (const ids of Object.values(snapshot.cpus.usedCores)) totals.usedCores += ids.length;
  for (const mb of Object.values(snapshot.memory.freeMemory)) totals.freeMemory += mb;
  for (const mb of Object.values(snapshot.memory.usedMemory)) totals.usedMemory += mb;
  return totals;
}

/**
 * The cluster summary's resource sums, kept as executors change instead of added up over the whole fleet on every
 * read: `GET /apis/v1/cluster` (every dashboard and console refresh) walked 5,000 executors' records per read, 3.7 ms
 * each during a rollout at 5,000 executors, where most records are cold in the cache (docs/scale.md). Each executor's
 * part is remembered, so taking it out again is exact whatever happened to its snapshot meanwhile.
 */
export class FleetTotalsCounter {
  private readonly counted = new Map<string, ResourceTotals>();
  private readonly sums: FleetTotals = { numExecutors: 0, freeCores: 0, usedCores: 0, freeMemory: 0, usedMemory: 0 };

  /** The executor's part is now `part` (undefined: it counts for nothing, such as one not ACTIVE or gone). */
  set(executorId: string, part: ResourceTotals | undefined): void {
    const before = this.counted.get(executorId);
    if (before) {
      this.add(before, -1);
      this.counted.delete(executorId);
    }
    if (part) {
      this.add(part, 1);
      this.counted.set(executorId, part);
    }
  }

  totals(): FleetTotals {
    return { ...this.sums };
  }

  private add(part: ResourceTotals, sign: 1 | -1): void {
    this.sums.numExecutors += sign;
    this.sums.freeCores += sign * part.freeCores;
    this.sums.usedCores += sign * part.usedCores;
    this.sums.freeMemory += sign * part.freeMemory;
    this.sums.usedMemory += sign * part.usedMemory;
  }
}
