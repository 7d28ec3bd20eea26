import type { LocalServiceInstanceInfo, LocalServiceInstanceState } from '../../../../src/model/index.js';
import type { LeaderView } from '../sample.js';
import { CHECKER_WINDOWS } from '../timings.js';
import type { CheckerContext } from './context.js';

/**
 * Rule instance-record-lost: an instance record the leader listed once (in /instances or /instances/old) is
 * listed by every later leader, until its service is destroyed. Records are written to etcd before the leader
 * keeps them in memory (write-through), so a successor loads everything a predecessor ever showed; history is
 * never pruned during a soak (maxStaleInstancesCount 4096, staleInstanceAge 7 days). The one gap Drove's API
 * has, a stale record not yet swept to LOST, is allowed for `unlistedRecordMs`.
 * Rule service-lost: a service the leader listed stays listed until a DESTROY of it was accepted; a service
 * whose `created` changes was destroyed and created again, which also needs an accepted DESTROY.
 */

interface Incarnation {
  created: number;
  firstSeen: number;
  instances: Map<string, { state: LocalServiceInstanceState; lastSeen: number; missingSince?: number }>;
}

export class RecordsKeptRule {
  private readonly incarnations = new Map<string, Incarnation>();

  constructor(private readonly ctx: CheckerContext) {}

  check(at: number, view: LeaderView): void {
    for (const [serviceId, summary] of view.services) {
      let incarnation = this.incarnations.get(serviceId);
      if (incarnation && incarnation.created !== summary.created) {
        if (!this.destroyAcceptedSince(serviceId, incarnation.firstSeen)) {
          this.ctx.report(at, 'service-lost', `${serviceId} was created again (created ${summary.created}, was ${incarnation.created}) without an accepted DESTROY`, '');
        }
        incarnation = undefined;
      }
      if (!incarnation) {
        incarnation = { created: summary.created, firstSeen: at, instances: new Map() };
        this.incarnations.set(serviceId, incarnation);
      }
      const listed = new Map<string, LocalServiceInstanceInfo>();
      for (const i of [...(view.instances.get(serviceId) ?? []), ...(view.oldInstances.get(serviceId) ?? [])]) listed.set(i.instanceId, i);
      for (const [instanceId, known] of incarnation.instances) {
        if (listed.has(instanceId)) continue;
        known.missingSince ??= at;
        if (at - known.missingSince <= CHECKER_WINDOWS.unlistedRecordMs) continue;
        this.ctx.once(`lost:${instanceId}`, () =>
          this.ctx.report(
            at,
            'instance-record-lost',
            `instance ${instanceId} of ${serviceId} has not been listed by the leader for ${Math.round((at - known.missingSince!) / 1000)} s (neither /instances nor /instances/old)`,
            `last listed ${Math.round((at - known.lastSeen) / 1000)} s ago in state ${known.state}`,
          ),
        );
      }
      for (const [instanceId, info] of listed) incarnation.instances.set(instanceId, { state: info.state, lastSeen: at });
    }
    for (const [serviceId, incarnation] of this.incarnations) {
      if (view.services.has(serviceId)) continue;
      this.incarnations.delete(serviceId);
      if (!this.destroyAcceptedSince(serviceId, incarnation.firstSeen)) {
        this.ctx.report(at, 'service-lost', `${serviceId} is no longer listed by controller-${view.controller + 1} and no DESTROY of it was accepted`, '');
      }
    }
  }

  private destroyAcceptedSince(serviceId: string, since: number): boolean {
    return this.ctx.operations.some(
      (r) => r.planned.serviceId === serviceId && r.planned.kind === 'DESTROY' && r.outcome === 'accepted' && r.repliedAt >= since,
    );
  }
}
