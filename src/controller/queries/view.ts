import { NEVER_SET, type ClusterStateManager } from '../cluster/maintenance.js';
import type { ExecutorRegistry } from '../cluster/registry.js';
import type { LocalServiceEngine } from '../engine/local-service-engine.js';
import type { WorkingSet } from '../term/working-set.js';
import type { CrashLoops } from '../term/crash-loops.js';

/**
 * What the read queries see of a leader term: its parts, read-only. The queries are plain functions of a view, so
 * a follower answers them from EMPTY_VIEW and tests can hand them any state they like.
 */
export interface TermView {
  readonly workingSet: Pick<WorkingSet, 'services' | 'service' | 'serviceCount' | 'instances' | 'instance' | 'currentInstances' | 'instanceCounts'>;
  readonly registry: Pick<ExecutorRegistry, 'all' | 'byId' | 'lastKnown' | 'summaries' | 'removedCount' | 'activeResources' | 'requiredInstances'>;
  readonly engine: Pick<LocalServiceEngine, 'stateOf' | 'serviceIds' | 'pendingOperation'>;
  readonly maintenance: Pick<ClusterStateManager, 'state'>;
  readonly crashLoops: Pick<CrashLoops, 'summaries'>;
}

/** A controller that does not lead knows no services and no executors. */
export const EMPTY_VIEW: TermView = {
  workingSet: {
    services: () => [],
    service: () => undefined,
    serviceCount: () => 0,
    instances: () => [],
    instance: () => undefined,
    currentInstances: () => [],
    instanceCounts: () => ({ healthy: 0, active: 0 }),
  },
  registry: {
    all: () => [],
    byId: () => undefined,
    lastKnown: () => undefined,
    summaries: () => [],
    removedCount: () => 0,
    activeResources: () => ({ numExecutors: 0, freeCores: 0, usedCores: 0, freeMemory: 0, usedMemory: 0 }),
    requiredInstances: () => 0,
  },
  engine: { stateOf: () => undefined, serviceIds: () => [], pendingOperation: () => undefined },
  maintenance: { state: () => ({ ...NEVER_SET }) },
  crashLoops: { summaries: () => [] },
};
