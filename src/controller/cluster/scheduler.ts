import {
  EXECUTOR_ELIGIBLE_STATES,
  placementAllows,
  placementConstraintText,
  type Clock,
  type ExecutorResourceSnapshot,
  type PlacementPolicy,
  type ResourceAllocation,
} from '../../model/index.js';
import type { ExecutorRegistry } from './registry.js';

/**
 * Core and memory accounting for placing instances (docs/design/placement.md#resources). The executors' resource
 * snapshots say what is free per NUMA node; on top of them the scheduler keeps soft reservations for instances it has
 * handed out but that no snapshot accounts for yet, so concurrent start jobs never double-book a core. A reservation
 * ends when its instance shows up in a snapshot of its executor (the executor locked the resources when it accepted
 * the start), when the engine releases it (the start failed), or when it expires.
 */

export interface SchedulerOptions {
  /**
   * A reservation of a closed session that no snapshot has accounted for expires after this long. Executors
   * report an instance (PENDING) right after accepting its start, so a minute without a report means the
   * start never landed. Expiry is safe: an executor refuses a start whose exact cores it cannot lock.
   */
  unreportedReservationTtlMs?: number;
}

const DEFAULT_UNREPORTED_RESERVATION_TTL_MS = 60_000;

export type AllocationResult = { ok: true; resources: ResourceAllocation[] } | { ok: false; reason: string };

export interface SchedulingSession {
  readonly id: number;
  /**
   * Picks `cpus` free cores, all on one NUMA node that also has `memoryMb` free, and soft-reserves them for
   * `instanceId` until a snapshot of the executor accounts for the instance, or `release`. With a placement
   * policy, an executor whose current tags do not satisfy it is refused (its tags may have changed since the
   * plan was made: an executor restarted with other tags).
   */
  allocate(executorId: string, instanceId: string, cpus: number, memoryMb: number, placementPolicy?: PlacementPolicy): AllocationResult;
  /** The start failed or was abandoned: give the instance's reservation back. */
  release(instanceId: string): void;
  /** Ends the session; reservations still waiting for a snapshot stay until reported, released or expired. */
  close(): void;
}

interface Reservation {
  executorId: string;
  instanceId: string;
  sessionId: number;
  numaNode: string;
  cores: number[];
  memoryMb: number;
  /** Set when the owning session closes; the reservation expires `ttl` after this. */
  closedAt?: number;
}

export class Scheduler {
  /** By instance id. */
  private readonly reservations = new Map<string, Reservation>();
  private nextSessionId = 1;
  private readonly ttlMs: number;
  private readonly unsubscribes: Array<() => void>;

  constructor(
    private readonly deps: { registry: ExecutorRegistry; clock: Clock; options?: SchedulerOptions },
  ) {
    this.ttlMs = deps.options?.unreportedReservationTtlMs ?? DEFAULT_UNREPORTED_RESERVATION_TTL_MS;
    this.unsubscribes = [
      deps.registry.onResources((executorId, instanceIds) => this.reflected(executorId, instanceIds)),
      deps.registry.onChange((change) => {
        if (change.kind === 'left') this.dropExecutor(change.executorId);
      }),
    ];
  }

  openSession(): SchedulingSession {
    const id = this.nextSessionId++;
    let closed = false;
    const assertOpen = () => {
      if (closed) throw new Error(`Scheduling session ${id} is closed`);
    };
    return {
      id,
      allocate: (executorId, instanceId, cpus, memoryMb, placementPolicy) => {
        assertOpen();
        return this.allocate(id, executorId, instanceId, cpus, memoryMb, placementPolicy);
      },
      release: (instanceId) => {
        this.reservations.delete(instanceId);
      },
      close: () => {
        if (closed) return;
        closed = true;
        const now = this.deps.clock.now();
        for (const r of this.reservations.values()) if (r.sessionId === id) r.closedAt = now;
      },
    };
  }

  /** Free cores and memory per NUMA node of an executor after soft reservations (for diagnostics and tests). */
  available(executorId: string): Map<string, { cores: number[]; memoryMb: number }> | undefined {
    const record = this.deps.registry.byId(executorId);
    if (!record) return undefined;
    this.expire();
    return this.freeByNode(executorId, record.nodeData.state);
  }

  /** Number of live reservations (tests, metrics). */
  reservationCount(): number {
    this.expire();
    return this.reservations.size;
  }

  /** Stops listening to the registry (leadership lost / shutdown). */
  close(): void {
    for (const unsubscribe of this.unsubscribes) unsubscribe();
    this.reservations.clear();
  }

  private allocate(
    sessionId: number,
    executorId: string,
    instanceId: string,
    cpus: number,
    memoryMb: number,
    placementPolicy: PlacementPolicy | undefined,
  ): AllocationResult {
    if (!Number.isInteger(cpus) || cpus < 0) return { ok: false, reason: `CPU count must be an integer >= 0, got ${cpus}` };
    if (!Number.isInteger(memoryMb) || memoryMb < 0) {
      return { ok: false, reason: `Memory must be an integer number of MB >= 0, got ${memoryMb}` };
    }
    if (this.reservations.has(instanceId)) {
      return { ok: false, reason: `Instance ${instanceId} already has resources reserved` };
    }
    const record = this.deps.registry.byId(executorId);
    if (!record) return { ok: false, reason: `Executor ${executorId} is not known` };
    if (!EXECUTOR_ELIGIBLE_STATES.has(record.state)) {
      return {
        ok: false,
        reason: `Executor ${executorId} (${record.nodeData.hostname}) is ${record.state}; local service instances can only be placed on ACTIVE or UNREADY executors`,
      };
    }
    if (!placementAllows(placementPolicy, record.nodeData)) {
      return {
        ok: false,
        reason:
          `Executor ${executorId} (${record.nodeData.hostname}) has tags [${record.nodeData.tags.join(', ')}], which do not satisfy ` +
          `the placement constraint: ${placementConstraintText(placementPolicy) ?? placementPolicy?.type ?? 'none'}`,
      };
    }
    this.expire();
    const free = this.freeByNode(executorId, record.nodeData.state);
    // Best fit: the fitting node with the fewest free cores, so large requests still find a whole node later.
    let chosen: { node: string; cores: number[] } | undefined;
    for (const [node, f] of [...free.entries()].sort(([a], [b]) => Number(a) - Number(b))) {
      if (f.cores.length < cpus || f.memoryMb < memoryMb) continue;
      if (!chosen || f.cores.length < free.get(chosen.node)!.cores.length) chosen = { node, cores: f.cores };
    }
    if (!chosen) {
      const describe = [...free.entries()]
        .sort(([a], [b]) => Number(a) - Number(b))
        .map(([node, f]) => `node ${node}: ${f.cores.length} cores, ${f.memoryMb} MB`)
        .join('; ');
      return {
        ok: false,
        reason:
          `Executor ${executorId} (${record.nodeData.hostname}) has no NUMA node with ${cpus} free cores and ` +
          `${memoryMb} MB free memory (available ${describe || 'nothing'})`,
      };
    }
    const cores = [...chosen.cores].sort((a, b) => a - b).slice(0, cpus);
    this.reservations.set(instanceId, { executorId, instanceId, sessionId, numaNode: chosen.node, cores, memoryMb });
    return {
      ok: true,
      resources: [
        { type: 'CPU', cores: { [chosen.node]: cores } },
        { type: 'MEMORY', memoryInMB: { [chosen.node]: memoryMb } },
      ],
    };
  }

  private freeByNode(executorId: string, snapshot: ExecutorResourceSnapshot): Map<string, { cores: number[]; memoryMb: number }> {
    const free = new Map<string, { cores: number[]; memoryMb: number }>();
    const nodes = new Set([...Object.keys(snapshot.cpus.freeCores), ...Object.keys(snapshot.memory.freeMemory)]);
    for (const node of nodes) {
      free.set(node, {
        cores: [...(snapshot.cpus.freeCores[node] ?? [])],
        memoryMb: snapshot.memory.freeMemory[node] ?? 0,
      });
    }
    for (const r of this.reservations.values()) {
      if (r.executorId !== executorId) continue;
      const f = free.get(r.numaNode);
      if (!f) continue;
      const reserved = new Set(r.cores);
      f.cores = f.cores.filter((c) => !reserved.has(c));
      f.memoryMb -= r.memoryMb;
    }
    return free;
  }

  private reflected(executorId: string, instanceIds: readonly string[]): void {
    for (const id of instanceIds) {
      const r = this.reservations.get(id);
      if (r && r.executorId === executorId) this.reservations.delete(id);
    }
  }

  private dropExecutor(executorId: string): void {
    for (const [id, r] of this.reservations) if (r.executorId === executorId) this.reservations.delete(id);
  }

  private expire(): void {
    const now = this.deps.clock.now();
    for (const [id, r] of this.reservations) {
      if (r.closedAt !== undefined && now - r.closedAt > this.ttlMs) this.reservations.delete(id);
    }
  }
}
