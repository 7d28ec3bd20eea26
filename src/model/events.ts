import type { LocalServiceState } from './states.js';
import type { LocalServiceInfo } from './api.js';
import type { LocalServiceInstanceInfo } from './instance.js';
import { cpuLastCount, memoryLastSize } from './summary.js';
import { portsText } from './instance.js';
import type { CrashLoop } from './crash-loop.js';

/** Drove event types and the metadata of the two local-service events (docs/design/api-compatibility.md#events). */

export { DROVE_EVENT_TYPES, type DroveEventType } from './event-types.js';
import type { DroveEventType } from './event-types.js';

export interface DroveEvent {
  type: DroveEventType;
  id: string;
  time: number;
  metadata: Record<string, string | number>;
}

export interface DroveEventsList {
  events: DroveEvent[];
  lastSyncTime: number;
}

export interface DroveEventsSummary {
  eventsCount: Partial<Record<DroveEventType, number>>;
  lastSyncTime: number;
}

export function localServiceStateChangeMetadata(
  info: Pick<LocalServiceInfo, 'serviceId' | 'spec' | 'instancesPerHost'>,
  state: LocalServiceState,
): Record<string, string | number> {
  const spec = info.spec;
  return {
    LOCAL_SERVICE_ID: info.serviceId,
    CURRENT_STATE: state,
    LOCAL_SERVICE_NAME: spec.name,
    LOCAL_SERVICE_VERSION: spec.version,
    EXECUTABLE: spec.executable.url,
    PLACEMENT_POLICY: spec.placementPolicy?.type ?? 'ANY',
    CURRENT_INSTANCES_PER_HOST: info.instancesPerHost ?? 0,
    CPU_COUNT: cpuLastCount(spec),
    MEMORY: memoryLastSize(spec),
    PORTS: portsText(Object.fromEntries(spec.exposedPorts.map((p) => [p.name, { port: p.port, type: p.type }]))),
  };
}

export function localServiceInstanceStateChangeMetadata(instance: LocalServiceInstanceInfo): Record<string, string | number> {
  const metadata: Record<string, string | number> = {
    SERVICE_ID: instance.serviceId,
    SERVICE_NAME: instance.serviceName,
    INSTANCE_ID: instance.instanceId,
    EXECUTOR_ID: instance.executorId,
    CREATED: instance.created,
    CURRENT_STATE: instance.state,
  };
  if (instance.localInfo) {
    metadata.EXECUTOR_HOST = instance.localInfo.hostname;
    metadata.PORTS = portsText(
      Object.fromEntries(
        Object.entries(instance.localInfo.ports).map(([name, p]) => [name, { port: p.hostPort, type: p.portType }]),
      ),
    );
  }
  if (instance.errorMessage) metadata.ERROR = instance.errorMessage;
  return metadata;
}

/** Whether a crash-loop event reports a counted failure (the loop goes on) or the loop's end. */
export type CrashLoopEventKind = 'BACKING_OFF' | 'RESET';

/**
 * Metadata of LOCAL_SERVICE_CRASH_LOOP. BACKING_OFF: the failure just counted and when the controller starts an
 * instance there again; RESET: why the loop ended.
 */
export function localServiceCrashLoopMetadata(
  about: { serviceId: string; serviceName: string; executorId: string; executorHost?: string | undefined },
  event: { kind: 'BACKING_OFF'; loop: CrashLoop } | { kind: 'RESET'; reason: string },
): Record<string, string | number> {
  const metadata: Record<string, string | number> = {
    SERVICE_ID: about.serviceId,
    SERVICE_NAME: about.serviceName,
    EXECUTOR_ID: about.executorId,
  };
  if (about.executorHost) metadata.EXECUTOR_HOST = about.executorHost;
  metadata.CRASH_LOOP_STATE = event.kind;
  if (event.kind === 'RESET') {
    metadata.RESTART_COUNT = 0;
    metadata.REASON = event.reason;
    return metadata;
  }
  metadata.RESTART_COUNT = event.loop.restartCount;
  metadata.INSTANCE_ID = event.loop.lastFailure.instanceId;
  metadata.ERROR = event.loop.lastFailure.reason;
  metadata.FAILED_AT = event.loop.lastFailure.time;
  metadata.NEXT_ATTEMPT_AT = event.loop.nextAttemptAt;
  return metadata;
}
