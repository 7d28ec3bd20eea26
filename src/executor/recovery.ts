import type { Logger } from 'pino';
import type { Clock } from '../model/clock.js';
import { sleep } from '../model/clock.js';
import type { KnownInstancesData } from '../model/executor.js';
import { LocalServiceInstanceSpecSchema } from '../model/executor.js';
import type { LocalServiceInstanceInfo } from '../model/instance.js';
import { LocalServiceInstanceInfoSchema } from '../model/instance.js';
import { INSTANCE_RUNNING_STATES } from '../model/states.js';
import { errorText } from './checks.js';
import type { ControllerClient } from './controller-client.js';
import {
  CREATION_ONLY_FIELDS,
  LABEL_EXECUTOR_ID,
  LABEL_INSTANCE_ID,
  LABEL_INSTANCE_INFO,
  LABEL_INSTANCE_RECOVERY,
  LABEL_INSTANCE_SPEC_BEFORE_RECOVERY_LABEL,
  LABEL_JOB_TYPE,
  LOCAL_SERVICE_JOB_TYPE,
  type RecoverySpec,
} from './instances/container-spec.js';
import type { InstanceEngine } from './instances/instance-engine.js';
import type { ContainerRuntime, ContainerSummary } from './runtime/runtime.js';

/**
 * Executor restart recovery and the zombie reaper (docs/design/executor-protocol.md#recovery-and-re-adoption).
 * Everything needed to re-adopt an instance lives in its container's labels: the recovery part of the instance
 * spec (no secrets) and the instance info as of container start.
 */

export interface RecoveryDeps {
  runtime: ContainerRuntime;
  engine: InstanceEngine;
  client: ControllerClient;
  clock: Clock;
  logger: Logger;
  executorId: string;
}

export function ownLabels(executorId: string): Record<string, string> {
  return { [LABEL_JOB_TYPE]: LOCAL_SERVICE_JOB_TYPE, [LABEL_EXECUTOR_ID]: executorId };
}

export function lastKnownPath(executorId: string): string {
  return `/apis/v1/internal/cluster/executors/${executorId}/instances/last`;
}

/**
 * Reads the recovery label, or the full spec label of a container made before it existed; either way only the
 * recovery fields are kept (unknown keys are dropped by the schema), so an old label's secrets stay out of memory.
 */
const RecoverySpecSchema = LocalServiceInstanceSpecSchema.omit(
  Object.fromEntries(CREATION_ONLY_FIELDS.map((field) => [field, true])) as Record<(typeof CREATION_ONLY_FIELDS)[number], true>,
);

export function readLabels(container: ContainerSummary): { spec: RecoverySpec; info: LocalServiceInstanceInfo } | undefined {
  try {
    const label = container.labels[LABEL_INSTANCE_RECOVERY] ?? container.labels[LABEL_INSTANCE_SPEC_BEFORE_RECOVERY_LABEL] ?? '';
    const spec = RecoverySpecSchema.safeParse(JSON.parse(label));
    const info = LocalServiceInstanceInfoSchema.safeParse(JSON.parse(container.labels[LABEL_INSTANCE_INFO] ?? ''));
    if (!spec.success || !info.success) return undefined;
    return { spec: spec.data, info: info.data };
  } catch {
    return undefined;
  }
}

export interface RecoveryResult {
  adopted: string[];
  removed: string[];
}

/**
 * Re-adopts this executor's labelled containers. The leader's last-known list decides: instances it lists as
 * stale, or (when it knows any) does not list, are removed; when no leader answers within `leaderWaitMs`,
 * everything is adopted - killing healthy services because the controller is briefly away would be worse.
 */
export async function recoverInstances(deps: RecoveryDeps, leaderWaitMs: number, retryMs = 1_000): Promise<RecoveryResult> {
  const containers = await listOwnContainers(deps, retryMs);
  const result: RecoveryResult = { adopted: [], removed: [] };
  if (containers.length === 0) return result;
  let known: KnownInstancesData | undefined;
  const deadline = deps.clock.now() + leaderWaitMs;
  for (;;) {
    known = await deps.client.get<KnownInstancesData>(lastKnownPath(deps.executorId));
    if (known || deps.clock.now() + retryMs > deadline) break;
    await sleep(deps.clock, retryMs);
  }
  const knownIds = new Set(known?.localServiceInstanceIds ?? []);
  const staleIds = new Set(known?.staleLocalServiceInstanceIds ?? []);
  for (const container of containers) {
    const labels = readLabels(container);
    const instanceId = container.labels[LABEL_INSTANCE_ID] ?? '';
    const wanted = labels && !staleIds.has(instanceId) && (knownIds.size === 0 || knownIds.has(instanceId));
    if (!labels || !wanted) {
      deps.logger.warn({ instanceId, containerId: container.id, unreadable: !labels }, 'removing container no controller record wants');
      await deps.runtime.removeContainer(container.id);
      result.removed.push(container.id);
      continue;
    }
    deps.logger.info({ instanceId, containerId: container.id }, 'recovering instance');
    deps.engine.adopt(labels.spec, labels.info);
    result.adopted.push(instanceId);
  }
  return result;
}

/** The container runtime is waited for at most this long between two attempts while it does not answer. */
const RUNTIME_RETRY_MAX_MS = 10_000;

/**
 * This executor's labelled containers, waiting for the runtime as long as it does not answer (dockerd still
 * starting on a booting host, or restarting). Recovering from an empty list instead would orphan every container
 * that survived: the leader would keep their records HEALTHY until they went stale and then start replacements,
 * and the zombie reaper would remove the originals. An executor without its runtime can run nothing anyway.
 */
async function listOwnContainers(deps: RecoveryDeps, retryMs: number): Promise<ContainerSummary[]> {
  let delayMs = retryMs;
  for (;;) {
    try {
      return await deps.runtime.listContainers(ownLabels(deps.executorId));
    } catch (error) {
      deps.logger.warn({ error: errorText(error), retryInMs: delayMs }, 'container runtime does not answer; recovery waits for it');
      await sleep(deps.clock, delayMs);
      delayMs = Math.min(delayMs * 2, RUNTIME_RETRY_MAX_MS);
    }
  }
}

export interface ReapResult {
  removedContainers: string[];
  stoppedInstances: string[];
}

/**
 * One zombie reaper pass: removes labelled containers of this executor that no instance tracks, and stops
 * instances whose container vanished (so the leader hears STOPPED instead of waiting for staleness).
 */
export async function reapZombies(deps: RecoveryDeps): Promise<ReapResult> {
  const result: ReapResult = { removedContainers: [], stoppedInstances: [] };
  const containers = await deps.runtime.listContainers(ownLabels(deps.executorId));
  for (const container of containers) {
    const instanceId = container.labels[LABEL_INSTANCE_ID] ?? '';
    if (deps.engine.has(instanceId)) continue;
    deps.logger.warn({ instanceId, containerId: container.id }, 'reaping untracked container');
    try {
      await deps.runtime.removeContainer(container.id);
      result.removedContainers.push(container.id);
    } catch (error) {
      deps.logger.error({ containerId: container.id, error: errorText(error) }, 'could not reap container');
    }
  }
  for (const instance of deps.engine.list()) {
    if (!INSTANCE_RUNNING_STATES.has(instance.state) || !instance.container) continue;
    // Inspect now rather than trust the listing: the container may have been created after it was taken.
    const container = await deps.runtime.inspectContainer(instance.container);
    if (container?.running) continue;
    const reason = `Container ${instance.container} vanished`;
    if (deps.engine.stop(instance.instanceId, reason).ok) result.stoppedInstances.push(instance.instanceId);
  }
  return result;
}
