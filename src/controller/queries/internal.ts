import {
  cpuCount,
  hasTagConstraint,
  memoryMb,
  placementAllows,
  type ExecutorAddress,
  type KnownInstancesData,
  type LocalServiceInstanceResources,
} from '../../model/index.js';
import { addressOf } from '../cluster/registry.js';
import { executorNodeData } from './cluster.js';
import type { TermView } from './view.js';

/** The reads executors make of the leader (`/apis/v1/internal/...`) and the log proxy's lookup. */

/**
 * What an UNREADY executor waits for before it turns ACTIVE. Only ACTIVE services: a CONFIG_TESTING service runs one
 * instance cluster-wide, so no executor can be required to run it. Keyed on the activation state rather than the
 * runner's state, so an executor joining during an ADJUST still waits for its instances. A service with a tag
 * constraint comes with its placement policy, so that an executor it does not admit does not wait for it
 * (docs/design/placement.md#tag-constraints); `cpus` and `memory` stay Drove's per-host sums over every ACTIVE service.
 */
export function reservedResources(view: TermView): LocalServiceInstanceResources {
  const out: LocalServiceInstanceResources = { cpus: 0, memory: 0, requiredInstances: {} };
  for (const info of view.workingSet.services()) {
    if (info.activationState !== 'ACTIVE' || !view.engine.stateOf(info.serviceId)) continue;
    out.requiredInstances[info.serviceId] = info.instancesPerHost;
    out.cpus += info.instancesPerHost * cpuCount(info.spec);
    out.memory += info.instancesPerHost * memoryMb(info.spec);
    const policy = info.spec.placementPolicy;
    if (policy && hasTagConstraint(policy)) (out.placementPolicies ??= {})[info.serviceId] = policy;
  }
  return out;
}

/**
 * Which of the instances an executor reports the leader still wants there (per service, up to instancesPerHost
 * of a service that runs and whose tag constraint the executor's tags satisfy) and which are stale. `last` serves an executor that restarted: its removed-executor
 * snapshot if it was removed meanwhile, otherwise the snapshot from before the restart.
 */
export function knownInstances(view: TermView, executorId: string, which: 'last' | 'current'): KnownInstancesData | undefined {
  const current = view.registry.byId(executorId)?.nodeData;
  const nodeData = which === 'current' ? current : (view.registry.lastKnown(executorId)?.nodeData ?? current);
  if (!nodeData) return undefined;
  const known: string[] = [];
  const stale: string[] = [];
  const byService = new Map<string, string[]>();
  for (const instance of nodeData.serviceInstances) {
    let ids = byService.get(instance.serviceId);
    if (!ids) byService.set(instance.serviceId, (ids = []));
    ids.push(instance.instanceId);
  }
  for (const [serviceId, ids] of byService) {
    const info = view.workingSet.service(serviceId);
    const state = view.engine.stateOf(serviceId);
    const running = info && state && info.activationState !== 'INACTIVE' && placementAllows(info.spec.placementPolicy, nodeData);
    const keep = running ? info.instancesPerHost : 0;
    known.push(...ids.slice(0, keep));
    stale.push(...ids.slice(keep));
  }
  return {
    appInstanceIds: [],
    staleAppInstanceIds: [],
    taskInstanceIds: [],
    staleTaskInstanceIds: [],
    localServiceInstanceIds: known,
    staleLocalServiceInstanceIds: stale,
  };
}

/** Where an instance's executor listens, for the log-file proxy; a removed executor's last address too. */
export function instanceExecutorAddress(view: TermView, serviceId: string, instanceId: string): ExecutorAddress | undefined {
  const instance = view.workingSet.instance(serviceId, instanceId);
  if (!instance) return undefined;
  const nodeData = executorNodeData(view, instance.executorId);
  return nodeData && addressOf(nodeData);
}
