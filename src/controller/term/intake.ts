import type { Logger } from 'pino';
import type { ControllerMessage, LocalServiceInstanceInfo, MessageResponse } from '../../model/index.js';
import type { ExecutorRegistry } from '../cluster/registry.js';
import type { WorkingSet } from './working-set.js';

export function reply(message: ControllerMessage, status: MessageResponse['status'], reason?: string): MessageResponse {
  return reason === undefined ? { header: message.header, status } : { header: message.header, status, message: reason };
}

/**
 * Executor -> leader messages: instance state reports (their resource snapshot goes to the executor registry, the
 * records to the working set) and heartbeats (node data, which also carries every live instance again).
 */
export class MessageIntake {
  constructor(
    private readonly deps: {
      registry: Pick<ExecutorRegistry, 'heartbeat' | 'resourceSnapshot' | 'markReported'>;
      workingSet: Pick<WorkingSet, 'applyReports'>;
      logger: Logger;
    },
  ) {}

  async take(message: ControllerMessage): Promise<MessageResponse> {
    const { registry, workingSet } = this.deps;
    try {
      switch (message.type) {
        case 'LOCAL_SERVICE_INSTANCE_STATE_REPORT':
          registry.resourceSnapshot(message.resourceSnapshot, [message.instanceInfo]);
          this.queueReports([message.instanceInfo]);
          return reply(message, 'ACCEPTED');
        case 'LOCAL_SERVICE_INSTANCE_STATE_REPORTS':
          registry.resourceSnapshot(message.resourceSnapshot, message.instanceInfos);
          this.queueReports(message.instanceInfos);
          return reply(message, 'ACCEPTED');
        case 'EXECUTOR_SNAPSHOT':
          await registry.heartbeat(message.nodeData);
          await workingSet.applyReports(message.nodeData.serviceInstances);
          // Only once its instances are known may anything be started there (a new leader's store may miss some).
          registry.markReported(message.nodeData.state.executorId);
          return reply(message, 'ACCEPTED');
      }
    } catch (error) {
      this.deps.logger.error({ err: error, type: message.type }, 'Could not apply executor message');
      return reply(message, 'FAILED', (error as Error).message);
    }
  }

  /**
   * ACCEPTED means queued, as in Drove: the executor may send its next report at once, so the reports of a busy
   * rollout share store transactions instead of each waiting for its own. A report lost to a store failure is
   * repaired by the executor's next heartbeat, which carries every instance again.
   */
  private queueReports(reports: readonly LocalServiceInstanceInfo[]): void {
    this.deps.workingSet.applyReports(reports).catch((error: unknown) => {
      this.deps.logger.error({ err: error, count: reports.length }, 'Could not store instance reports');
    });
  }
}
