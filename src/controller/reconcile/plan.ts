import {
  EXECUTOR_BLACKLISTED_STATES,
  EXECUTOR_ELIGIBLE_STATES,
  INSTANCE_COUNTED_STATES,
  INSTANCE_RUNNING_STATES,
  executorTakes,
  type ActivationState,
  type LocalServiceInstanceInfo,
  type LocalServiceSpec,
  type PlacementCandidate,
} from '../../model/index.js';

/**
 * "What must change" for one local service, as a pure function of desired state, executors and the service's
 * current instance records, after Nomad's system-job reconciler (docs/design/reconciliation.md#the-plan). The
 * reconciler uses it to decide whether an ADJUST_INSTANCES is needed; the Adjust action executes exactly this plan.
 *
 * Instances are classified per executor:
 *  - starting (INSTANCE_STARTING_STATES: PENDING, PROVISIONING, STARTING, and UNKNOWN = being recovered by a
 *    restarted executor): count towards the desired number and are left to come up; a surplus is stopped among
 *    the running ones, where healthy and older instances can be told from the rest and kept;
 *  - running (INSTANCE_RUNNING_STATES: UNREADY, READY, HEALTHY): count, and may be stopped when there are too many;
 *  - leaving (UNHEALTHY, STOPPING, DEPROVISIONING): on their way out, so they do not count and a replacement is
 *    planned at once.
 * Only executors that take the service count: eligible (ACTIVE, UNREADY) and satisfying its tag constraint
 * (docs/design/placement.md#tag-constraints). Instances elsewhere never count; running ones are stopped on
 * blacklisted executors (Drove submits STOP_INSTANCES for them, which its own validator usually rejects) and on
 * eligible executors whose tags no longer satisfy the constraint (the executor restarted with other tags), as if
 * that executor had left; ones still starting there are left to come up and are stopped once running, like on
 * blacklisted ones. Nothing is started on an executor that has not reported to this leader yet (PlanExecutor), and
 * its tags, which may be older than the executor's, stop nothing there either.
 *
 * Executors in `held` are in crash-loop backoff for this service (docs/design/crash-loop-backoff.md): nothing is
 * started there until their next attempt is due; stops are planned as usual. Backoff only defers: a held executor
 * still takes the service (it counts in requiredInstances); being held never makes an executor the tag constraint
 * excludes take it, nor changes what is stopped there.
 */

export interface PlanService {
  serviceId: string;
  activationState: ActivationState;
  instancesPerHost: number;
  spec: Pick<LocalServiceSpec, 'placementPolicy'>;
}

/**
 * What the plan reads of an executor (the registry's records have it). `reported` is false until this leader has
 * applied the instances of a heartbeat of the executor (one restored from the store when it gained leadership, or
 * one that joins). Its instances may be missing from the store: the previous leader acknowledged reports it never
 * stored (it lost quorum, or died with them queued), or sent a START just as it stepped down. Nothing is started on
 * it before its heartbeat lists what it runs, or the new leader would start duplicates. Absent: reported.
 */
export interface PlanExecutor extends PlacementCandidate {
  readonly executorId: string;
  readonly reported?: boolean;
}

export interface InstancePlan {
  start: Array<{ executorId: string; count: number }>;
  stop: string[];
}

const counted = (instance: LocalServiceInstanceInfo) => INSTANCE_COUNTED_STATES.has(instance.state);

/**
 * @param instances the service's current records: active states plus UNKNOWN, not stale (the caller filters).
 */
export function plan(
  service: PlanService,
  executors: readonly PlanExecutor[],
  instances: readonly LocalServiceInstanceInfo[],
  held: ReadonlySet<string> = new Set(),
): InstancePlan {
  const result: InstancePlan = { start: [], stop: [] };
  const eligible = executors.filter((e) => executorTakes(e, service.spec.placementPolicy)).map((e) => e.executorId).sort();
  const taking = new Set(eligible);
  const unreported = new Set(executors.filter((e) => e.reported === false).map((e) => e.executorId));
  // Where the service must not run: blacklisted executors, and eligible ones whose tags (as last heard by this
  // leader) do not satisfy the constraint.
  const emptied = new Set(
    executors
      .filter((e) => EXECUTOR_BLACKLISTED_STATES.has(e.state) || (EXECUTOR_ELIGIBLE_STATES.has(e.state) && !unreported.has(e.executorId)))
      .map((e) => e.executorId),
  );
  const byExecutor = new Map<string, LocalServiceInstanceInfo[]>();
  for (const instance of instances) {
    if (taking.has(instance.executorId)) {
      let list = byExecutor.get(instance.executorId);
      if (!list) byExecutor.set(instance.executorId, (list = []));
      list.push(instance);
    } else if (emptied.has(instance.executorId) && INSTANCE_RUNNING_STATES.has(instance.state)) {
      result.stop.push(instance.instanceId);
    }
  }

  switch (service.activationState) {
    case 'ACTIVE': {
      const wanted = Math.max(0, service.instancesPerHost);
      for (const executorId of eligible) {
        const here = byExecutor.get(executorId) ?? [];
        const countedHere = here.filter(counted);
        if (countedHere.length < wanted) {
          if (!unreported.has(executorId) && !held.has(executorId)) result.start.push({ executorId, count: wanted - countedHere.length });
        } else if (countedHere.length > wanted) result.stop.push(...surplus(countedHere, countedHere.length - wanted));
      }
      break;
    }
    case 'CONFIG_TESTING': {
      const testing = eligible.flatMap((id) => (byExecutor.get(id) ?? []).filter(counted));
      const placeable = eligible.filter((id) => !held.has(id));
      // The test instance may already run on an executor that has not reported yet: wait for it.
      if (testing.length === 0 && placeable.length > 0 && !eligible.some((id) => unreported.has(id))) {
        result.start.push({ executorId: placeable[spreadIndex(service.serviceId, placeable.length)]!, count: 1 });
      } else if (testing.length > 1) {
        result.stop.push(...surplus(testing, testing.length - 1));
      }
      break;
    }
    case 'INACTIVE':
      for (const executorId of eligible) {
        for (const instance of byExecutor.get(executorId) ?? []) {
          if (INSTANCE_RUNNING_STATES.has(instance.state)) result.stop.push(instance.instanceId);
        }
      }
      break;
  }
  return result;
}

export function planIsEmpty(p: InstancePlan): boolean {
  return p.start.length === 0 && p.stop.length === 0;
}

/** Up to `excess` running instances to stop, keeping healthy and older ones (they are proven). */
function surplus(candidates: LocalServiceInstanceInfo[], excess: number): string[] {
  const running = candidates
    .filter((i) => INSTANCE_RUNNING_STATES.has(i.state))
    .sort((a, b) => rank(b) - rank(a) || b.created - a.created || (a.instanceId < b.instanceId ? 1 : -1));
  return running.slice(0, Math.min(excess, running.length)).map((i) => i.instanceId);
}

/** Higher rank = keep longer. Sorted descending by "stop first", so the least valuable come first. */
function rank(instance: LocalServiceInstanceInfo): number {
  return instance.state === 'HEALTHY' ? 0 : instance.state === 'READY' ? 1 : 2;
}

/** Deterministic spread of test instances over executors (Drove picks at random). */
function spreadIndex(serviceId: string, n: number): number {
  let h = 0;
  for (let i = 0; i < serviceId.length; i++) h = (h * 31 + serviceId.charCodeAt(i)) >>> 0;
  return h % n;
}
