import type { LocalServiceInstanceInfo } from '../../../src/model/index.js';
import { call, isNotLeader, type Reply } from './api.js';
import type { SoakCluster } from './cluster.js';
import type { OperationRecord } from './records.js';
import type { PlannedOperation } from './schedule.js';
import { SOAK_SERVICES } from './services.js';
import { SOAK_TIMINGS } from './timings.js';

/** An instance id that never exists: a STOP_INSTANCES of it must be refused with its id named. */
export const UNKNOWN_INSTANCE_ID = 'SI-00000000-0000-4000-8000-000000000000';

const OPERATIONS_PATH = '/apis/v1/localservices/operations';

/**
 * Runs planned operations against whichever controller leads now, and records what became of each. Like a client,
 * it retries for up to `operationRetryMs` while no controller answers as leader or the leader is busy with
 * another operation of the service; the last answer is what counts.
 */
export class OperationRunner {
  constructor(
    private readonly cluster: SoakCluster,
    /** The controller the last sample found leading; tried first. */
    private readonly leaderHint: () => number | undefined,
    private readonly onServerError: (what: string, reply: Reply) => void,
  ) {}

  async run(op: PlannedOperation): Promise<OperationRecord> {
    const deadline = Date.now() + SOAK_TIMINGS.operationRetryMs;
    let last: { reply: Reply; controller: number; sentAt: number } | undefined;
    let instanceIds: string[] | undefined;
    for (;;) {
      for (const controller of this.order()) {
        const url = this.cluster.controllers[controller]!.url;
        if (op.kind === 'STOP_INSTANCES' || op.kind === 'REPLACE_INSTANCES') instanceIds = await this.pickInstances(url, op);
        const sentAt = Date.now();
        const reply = await this.send(url, op, instanceIds);
        if (reply.status >= 500) this.onServerError(`${op.kind} ${op.serviceId} on controller-${controller + 1}`, reply);
        last = { reply, controller, sentAt };
        // A follower's answer or none means: ask another one. A leader busy with another operation of the
        // service means: try again shortly (its refusal says so). Any other answer of a leader is final.
        if (reply.status === 0 || isNotLeader(reply)) continue;
        if (isBusy(reply) && Date.now() < deadline) break;
        return this.record(op, last, instanceIds);
      }
      if (Date.now() > deadline) {
        // Every controller dead or paused the whole time: nobody was even asked.
        return this.record(op, last ?? { reply: { status: 0, body: {}, error: 'no controller running' }, controller: 0, sentAt: Date.now() }, instanceIds);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  /** The hinted leader first, then the others (a failover may have happened since the last sample). */
  private order(): number[] {
    const hint = this.leaderHint();
    const all = this.cluster.controllers.filter((c) => c.process.running && !c.process.isPaused).map((c) => c.index);
    return hint !== undefined && all.includes(hint) ? [hint, ...all.filter((i) => i !== hint)] : all;
  }

  private async pickInstances(url: string, op: PlannedOperation): Promise<string[]> {
    if (op.bogusInstance) return [UNKNOWN_INSTANCE_ID];
    const reply = await call<LocalServiceInstanceInfo[]>(url, 'GET', `/apis/v1/localservices/${encodeURIComponent(op.serviceId)}/instances`);
    const healthy = (reply.status === 200 ? (reply.body.data ?? []) : []).filter((i) => i.state === 'HEALTHY').map((i) => i.instanceId).sort();
    const picks = op.picks ?? [];
    if (picks.length === 0) return [];
    // Nothing healthy to pick: the operation goes out with an id that does not exist and is refused.
    if (healthy.length === 0) return [UNKNOWN_INSTANCE_ID];
    return [...new Set(picks.map((p) => healthy[p % healthy.length]!))];
  }

  private send(url: string, op: PlannedOperation, instanceIds: string[] | undefined): Promise<Reply> {
    if (op.kind === 'CANCEL') return call(url, 'POST', `${OPERATIONS_PATH}/${encodeURIComponent(op.serviceId)}/cancel`);
    return call(url, 'POST', OPERATIONS_PATH, body(op, instanceIds));
  }

  private record(op: PlannedOperation, last: { reply: Reply; controller: number; sentAt: number }, instanceIds: string[] | undefined): OperationRecord {
    const { reply } = last;
    const outcome = reply.status === 200 && reply.body.status === 'SUCCESS' ? 'accepted' : reply.status === 0 || isNotLeader(reply) ? 'no-leader' : 'refused';
    return {
      planned: op,
      sentAt: last.sentAt,
      repliedAt: Date.now(),
      controller: last.controller,
      outcome,
      status: reply.status,
      message: [reply.body.message ?? reply.error, ...validationErrors(reply)].filter(Boolean).join(': '),
      ...(instanceIds ? { instanceIds } : {}),
    };
  }
}

/**
 * Refusals that only mean "not now": the service is in a working state (an operation, often the reconciler's
 * ADJUST_INSTANCES, is running) or another operation waits in its slot. A client retries those.
 */
function isBusy(reply: Reply): boolean {
  return (
    reply.status === 400 &&
    validationErrors(reply).some((e) => e.startsWith('No operations allowed for ') || e.startsWith('Another operation is already pending'))
  );
}

function validationErrors(reply: Reply): string[] {
  const data = reply.body.data as { validationErrors?: unknown } | undefined;
  return Array.isArray(data?.validationErrors) ? data.validationErrors.map(String) : [];
}

function body(op: PlannedOperation, instanceIds: string[] | undefined): Record<string, unknown> {
  const service = SOAK_SERVICES.find((s) => s.id === op.serviceId)!;
  const opSpec = op.opSpec ? { opSpec: { ...op.opSpec, failureStrategy: 'STOP' } } : {};
  switch (op.kind) {
    case 'CREATE':
      return { type: 'CREATE', spec: service.spec, instancesPerHost: op.instancesPerHost };
    case 'UPDATE_INSTANCE_COUNT':
      return { type: op.kind, serviceId: op.serviceId, instancesPerHost: op.instancesPerHost };
    case 'ADJUST_INSTANCES':
      return { type: op.kind, serviceId: op.serviceId, ...opSpec };
    case 'RESTART':
      return { type: op.kind, serviceId: op.serviceId, stopFirst: op.stopFirst ?? false, ...opSpec };
    case 'REPLACE_INSTANCES':
      return { type: op.kind, serviceId: op.serviceId, instanceIds: instanceIds ?? [], stopFirst: op.stopFirst ?? false, ...opSpec };
    case 'STOP_INSTANCES':
      return { type: op.kind, serviceId: op.serviceId, instanceIds: instanceIds ?? [UNKNOWN_INSTANCE_ID], ...opSpec };
    default:
      return { type: op.kind, serviceId: op.serviceId };
  }
}
