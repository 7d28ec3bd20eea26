import type { Clock, ClusterStateData } from '../../model/index.js';
import type { EventLog } from '../events.js';
import type { StateStore } from '../store/store.js';

/**
 * Cluster maintenance mode (docs/design/reconciliation.md#maintenance-window). While in MAINTENANCE, and for
 * `maintenanceGraceMs` after any change of it, operations are refused and the reconciler pauses: executors refresh
 * their view every 20 s, so the grace (2 x 20 s) lets the cluster settle before anything is moved again.
 */
export interface ClusterStateOptions {
  maintenanceGraceMs: number;
  /** The controller's host name, for MAINTENANCE_MODE_SET/REMOVED metadata. */
  controllerHostname: string;
}

/** Never set: NORMAL, and no grace window (updated 0 is long past). */
export const NEVER_SET: ClusterStateData = { state: 'NORMAL', updated: 0 };

export class ClusterStateManager {
  private current: ClusterStateData;
  /** Serialises set() calls so the in-memory state always matches the last write that succeeded. */
  private queue: Promise<unknown> = Promise.resolve();

  /** @param deps.stored the state in the store when this leader term began (NORMAL when never set). */
  constructor(
    private readonly deps: {
      clock: Clock;
      store: StateStore;
      events: EventLog;
      options: ClusterStateOptions;
      stored?: ClusterStateData | undefined;
    },
  ) {
    if (!(deps.options.maintenanceGraceMs >= 0)) throw new Error('maintenanceGraceMs must be a number of ms >= 0');
    this.current = deps.stored ? { ...deps.stored } : NEVER_SET;
  }

  state(): ClusterStateData {
    return { ...this.current };
  }

  /**
   * Persists the new state, then applies it and emits the event (Drove writes and publishes on every call,
   * even when the state does not change, which also restarts the grace window). Rejects when the store
   * cannot take the write; the state is then unchanged.
   */
  set(maintenance: boolean): Promise<ClusterStateData> {
    const run = async () => {
      const next: ClusterStateData = { state: maintenance ? 'MAINTENANCE' : 'NORMAL', updated: this.deps.clock.now() };
      await this.deps.store.putClusterState(next);
      this.current = next;
      const host = this.deps.options.controllerHostname;
      if (maintenance) this.deps.events.maintenanceModeSet(host);
      else this.deps.events.maintenanceModeRemoved(host);
      return { ...next };
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  inMaintenanceWindow(): boolean {
    if (this.current.state === 'MAINTENANCE') return true;
    return this.deps.clock.now() - this.current.updated < this.deps.options.maintenanceGraceMs;
  }
}
