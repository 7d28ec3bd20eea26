import type { Logger } from 'pino';
import { INSTANCE_ACTIVE_STATES, type Clock } from '../model/index.js';
import type { ResolvedOptions } from './config.js';
import type { Engine } from './engine/engine.js';
import type { WorkingSet } from './working-set.js';

/**
 * Stale data cleaner (§5.9), leader only, every `staleCheckIntervalMs`: destroys INACTIVE services untouched for
 * `staleServiceAge` (only when the operator set it, decision 15) and prunes instance history to the newest
 * `maxStaleInstancesCount` records younger than `staleInstanceAge`.
 */
export class StaleCleaner {
  private cancelTimer: (() => void) | undefined;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: {
      engine: Engine;
      workingSet: WorkingSet;
      isLeader(): boolean;
      clock: Clock;
      options: ResolvedOptions;
      logger: Logger;
    },
  ) {}

  start(): void {
    if (this.cancelTimer) return;
    const tick = () => {
      this.running = this.clean().catch((error: unknown) => this.deps.logger.error({ err: error }, 'Stale data cleanup failed'));
      this.cancelTimer = this.deps.clock.setTimer(tick, this.deps.options.staleCheckIntervalMs);
    };
    this.cancelTimer = this.deps.clock.setTimer(tick, this.deps.options.staleCheckIntervalMs);
  }

  async stop(): Promise<void> {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    await this.running;
  }

  /** One cleanup run; returns what it did (tests). */
  async clean(): Promise<{ destroyed: string[]; prunedInstances: number }> {
    const { engine, workingSet, clock, options, logger } = this.deps;
    const result = { destroyed: [] as string[], prunedInstances: 0 };
    if (!this.deps.isLeader()) return result;
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
