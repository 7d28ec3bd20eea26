import type { Logger } from 'pino';
import { INSTANCE_ACTIVE_STATES, Periodic, type Clock, type RunState, type Runnable } from '../../model/index.js';
import type { ResolvedOptions } from '../config.js';
import type { LocalServiceEngine } from '../engine/local-service-engine.js';
import type { WorkingSet } from '../term/working-set.js';

/**
 * Stale data cleaner, part of a leader term, every `staleCheckIntervalMs`: destroys INACTIVE services untouched for
 * `staleServiceAge` (only when the operator set it) and prunes instance history to the newest
 * `maxStaleInstancesCount` records younger than `staleInstanceAge` (docs/design/reconciliation.md#stale-data-cleaner).
 */
export class StaleCleaner implements Runnable {
  private readonly periodic: Periodic;

  constructor(
    private readonly deps: {
      engine: LocalServiceEngine;
      workingSet: WorkingSet;
      clock: Clock;
      options: ResolvedOptions;
      logger: Logger;
    },
  ) {
    this.periodic = new Periodic({
      name: 'stale data cleaner',
      clock: deps.clock,
      intervalMs: deps.options.staleCheckIntervalMs,
      run: () => this.clean(),
      onError: (error) => deps.logger.error({ err: error }, 'Stale data cleanup failed'),
    });
  }

  get runState(): RunState {
    return this.periodic.runState;
  }

  start(): void {
    this.periodic.start();
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  /** One cleanup run; returns what it did (tests). */
  async clean(): Promise<{ destroyed: string[]; prunedInstances: number }> {
    const { engine, workingSet, clock, options, logger } = this.deps;
    const result = { destroyed: [] as string[], prunedInstances: 0 };
    const now = clock.now();
    for (const info of workingSet.services()) {
      const state = engine.stateOf(info.serviceId);
      if (options.staleServiceAgeMs !== undefined && state === 'INACTIVE' && now - info.updated > options.staleServiceAgeMs) {
        const submitted = engine.submit({ type: 'DESTROY', serviceId: info.serviceId });
        if (submitted.ok) {
          logger.info({ serviceId: info.serviceId }, 'Destroying stale inactive local service');
          result.destroyed.push(info.serviceId);
        }
        continue;
      }
      const old = workingSet
        .instances(info.serviceId)
        .filter((i) => !INSTANCE_ACTIVE_STATES.has(i.state))
        .sort((a, b) => b.updated - a.updated);
      const keep = options.raw.maxStaleInstancesCount;
      const prune = old
        .filter((i, index) => index >= keep || now - i.updated > options.staleInstanceAgeMs)
        .map((i) => i.instanceId);
      if (prune.length > 0) {
        await workingSet.deleteInstances(info.serviceId, prune);
        result.prunedInstances += prune.length;
      }
    }
    return result;
  }
}
