import type { LocalServiceInstanceState } from '../../../../src/model/index.js';
import type { ContainerFact, LeaderView, Sample } from '../sample.js';
import { MAX_INSTANCES_PER_HOST } from '../services.js';
import { CHECKER_WINDOWS, SOAK_TIMINGS } from '../timings.js';
import { describeOperation, recordOf, STEADY, summaryText, type CheckerContext } from './context.js';

/**
 * Rule instances-per-host: never more running containers of a service on a host than its instancesPerHost
 * (see cutoff and capOf), plus the replacements a start-first restart has in flight (see allowance); containers on their way
 * out do not count for a while (NOT_COUNTED), hosts the leader cannot see are left out (see excluded). Docker is the
 * truth for "running"; the leader's records only say which containers are on their way out.
 * Rule config-test-instances: a service that has been CONFIG_TESTING for the whole window runs one instance
 * cluster-wide (docs/design/placement.md#instancesperhost), plus its replacement's allowance.
 */

/**
 * Record states of a container that is on its way out or already finished as far as the leader knows: the
 * reconciler does not count them (reconciler-plan.ts) and plans a replacement at once, so for a while the old
 * container and its replacement both run. Such a container is not counted for `leavingMs`; one that runs longer
 * than that is counted again (a container that never goes away under a finished record is an orphan, and if it
 * was replaced, a duplicate).
 */
const NOT_COUNTED: ReadonlySet<LocalServiceInstanceState> = new Set([
  'UNHEALTHY',
  'STOPPING',
  'DEPROVISIONING',
  'PROVISIONING_FAILED',
  'START_FAILED',
  'READINESS_CHECK_FAILED',
  'STOPPED',
  'LOST',
]);

interface Desired {
  from: number;
  /** Instances per host the leader wants (ACTIVE: instancesPerHost, CONFIG_TESTING: 1, otherwise 0). */
  perHost: number;
  configTesting: boolean;
}

export class InstancesPerHostRule {
  private readonly desired = new Map<string, Desired[]>();
  /** Since when each service has been steady (absent: it is running an operation now). */
  private readonly steadySince = new Map<string, number>();
  /** The last cutoff of each service (see cutoff()). */
  private readonly settled = new Map<string, number>();
  /** The instancesPerHost each service was last seen with (what an ACTIVATE asks for). */
  private readonly instancesPerHost = new Map<string, number>();
  private readonly leavingSince = new Map<string, number>();
  private readonly hostFaults = new Map<number, { active: number; lastEnd: number }>();

  constructor(private readonly ctx: CheckerContext) {}

  hostFaultStarted(host: number): void {
    const f = this.hostFaults.get(host) ?? { active: 0, lastEnd: 0 };
    f.active++;
    this.hostFaults.set(host, f);
  }

  hostFaultEnded(host: number, at: number): void {
    const f = this.hostFaults.get(host);
    if (!f) return;
    f.active = Math.max(0, f.active - 1);
    f.lastEnd = at;
  }

  check(sample: Sample, view: LeaderView): void {
    const at = sample.wall;
    this.recordDesired(at, view);
    const configTotals = new Map<string, ContainerFact[]>();
    for (const host of sample.hosts) {
      if (!host.ok || this.excluded(host.host, at)) continue;
      const byService = new Map<string, ContainerFact[]>();
      for (const c of host.containers) {
        if (!this.counted(view, c, at)) continue;
        byService.set(c.serviceId, [...(byService.get(c.serviceId) ?? []), c]);
      }
      for (const serviceId of new Set([...byService.keys(), ...this.desired.keys()])) {
        const list = byService.get(serviceId) ?? [];
        const key = `cap:${serviceId}:${host.host}`;
        const cap = this.capOf(serviceId, at) + this.allowance(serviceId, at);
        if (list.length > cap) {
          this.ctx.episode(
            at,
            'instances-per-host',
            key,
            `${list.length} running containers of ${serviceId} on host ${host.host + 1}, at most ${cap} allowed`,
            this.evidence(view, host.containers.filter((c) => c.serviceId === serviceId), serviceId, at),
          );
        } else {
          this.ctx.holds(key);
        }
        configTotals.set(serviceId, [...(configTotals.get(serviceId) ?? []), ...list]);
      }
    }
    for (const [serviceId, list] of configTotals) {
      const key = `configtest:${serviceId}`;
      if (this.configTestingThroughout(serviceId, at) && list.length > 1 + this.allowance(serviceId, at)) {
        this.ctx.episode(
          at,
          'config-test-instances',
          key,
          `${list.length} running containers of CONFIG_TESTING service ${serviceId} cluster-wide, at most 1 allowed`,
          this.evidence(view, list, serviceId, at),
        );
      } else {
        this.ctx.holds(key);
      }
    }
  }

  private recordDesired(at: number, view: LeaderView): void {
    for (const id of new Set([...this.desired.keys(), ...view.services.keys()])) {
      const summary = view.services.get(id);
      const perHost = !summary ? 0 : summary.activationState === 'ACTIVE' ? summary.instancesPerHost : summary.activationState === 'CONFIG_TESTING' ? 1 : 0;
      const configTesting = summary?.activationState === 'CONFIG_TESTING';
      if (summary) this.instancesPerHost.set(id, summary.instancesPerHost);
      const history = this.desired.get(id) ?? [];
      const last = history.at(-1);
      if (!last || last.perHost !== perHost || last.configTesting !== configTesting) history.push({ from: at, perHost, configTesting });
      // A destroyed (unlisted) service has nothing running either.
      const steady = !summary || (summary.state !== undefined && STEADY.has(summary.state));
      if (!steady) this.steadySince.delete(id);
      else if (!this.steadySince.has(id)) this.steadySince.set(id, at);
      const cutoff = this.cutoff(id, at);
      // Only what can still matter is kept.
      while (history.length > 1 && history[1]!.from < cutoff) history.shift();
      this.desired.set(id, history);
    }
  }

  /**
   * Since when the desired count in force is what counts: `capDecreaseMs` ago once the service has been steady
   * that long, otherwise the last time it was. When the desired count goes down (deactivate, lower
   * instancesPerHost, destroy) or a start-first replacement leaves an extra instance behind (it ended, or its
   * leader lost leadership), the surplus is stopped by the reconciler, which acts only on a steady service: while
   * other operations follow one another, the surplus stays, and so does the old count as the cap.
   */
  private cutoff(serviceId: string, at: number): number {
    const since = this.steadySince.get(serviceId);
    if (since !== undefined && at - since >= CHECKER_WINDOWS.capDecreaseMs) this.settled.set(serviceId, at - CHECKER_WINDOWS.capDecreaseMs);
    return this.settled.get(serviceId) ?? Number.NEGATIVE_INFINITY;
  }

  /** Desired-count entries in force at some time since the cutoff. */
  private window(serviceId: string, at: number): Desired[] {
    const history = this.desired.get(serviceId) ?? [];
    const cutoff = this.cutoff(serviceId, at);
    return history.filter((_, i) => (history[i + 1]?.from ?? Number.POSITIVE_INFINITY) >= cutoff);
  }

  /**
   * The largest per-host count the service was meant to have since the cutoff: what the leader's views showed,
   * and what operations accepted since then asked for. A sample can miss a desired count altogether (a leader
   * activates a service and dies before the next sample; its successor's first view already shows the next
   * operation's), so accepted operations count too.
   */
  private capOf(serviceId: string, at: number): number {
    const cutoff = this.cutoff(serviceId, at);
    let cap = Math.max(0, ...this.window(serviceId, at).map((d) => d.perHost));
    for (const record of this.ctx.operations) {
      const op = record.planned;
      if (op.serviceId !== serviceId || record.outcome !== 'accepted' || record.repliedAt < cutoff || record.sentAt > at) continue;
      if (op.kind === 'ACTIVATE') cap = Math.max(cap, this.instancesPerHost.get(serviceId) ?? MAX_INSTANCES_PER_HOST);
      else if (op.kind === 'UPDATE_INSTANCE_COUNT') cap = Math.max(cap, op.instancesPerHost ?? MAX_INSTANCES_PER_HOST);
      else if (op.kind === 'DEPLOY_TEST_INSTANCE') cap = Math.max(cap, 1);
    }
    return cap;
  }

  private configTestingThroughout(serviceId: string, at: number): boolean {
    const relevant = this.window(serviceId, at);
    return relevant.length > 0 && relevant.every((d) => d.configTesting) && relevant[0]!.from <= this.cutoff(serviceId, at);
  }

  /**
   * A start-first replacement starts the new instance before it stops the old one: up to `parallelism` extra
   * instances (all of them possibly on one host) while it runs, and after it ended or its leader lost leadership
   * until the cutoff passes its end (the reconciler stops what is left over once the service is steady).
   */
  private allowance(serviceId: string, at: number): number {
    let extra = 0;
    for (const record of this.ctx.operations) {
      const op = record.planned;
      if (record.outcome !== 'accepted' || op.serviceId !== serviceId || op.stopFirst !== false) continue;
      if (op.kind !== 'RESTART' && op.kind !== 'REPLACE_INSTANCES') continue;
      const end = this.ctx.ended.get(record);
      if (record.sentAt <= at && (!end || this.cutoff(serviceId, at) < end.at)) {
        extra += op.opSpec?.parallelism ?? SOAK_TIMINGS.controllerOptions.clusterOpParallelism;
      }
    }
    return extra;
  }

  /**
   * A host whose executor is dead or cut off from the controllers, or whose dockerd is restarting, runs containers
   * the leader can neither see nor stop (an executor keeps its containers when it dies, by design). Such a host is
   * left out until `hostRecoveryMs` after the fault is undone; its containers are judged again from then on.
   */
  private excluded(host: number, at: number): boolean {
    const f = this.hostFaults.get(host);
    return !!f && (f.active > 0 || at - f.lastEnd < CHECKER_WINDOWS.hostRecoveryMs);
  }

  private counted(view: LeaderView, c: ContainerFact, at: number): boolean {
    const record = recordOf(view, c);
    if (!record || !NOT_COUNTED.has(record.state)) {
      // No record yet (its first report is on its way) or a running state: it counts.
      this.leavingSince.delete(c.instanceId);
      return true;
    }
    const since = this.leavingSince.get(c.instanceId) ?? at;
    this.leavingSince.set(c.instanceId, since);
    return at - since > CHECKER_WINDOWS.leavingMs;
  }

  private evidence(view: LeaderView, containers: readonly ContainerFact[], serviceId: string, at: number): string {
    const lines = containers.map((c) => {
      const record = recordOf(view, c);
      const leaving = this.leavingSince.get(c.instanceId);
      return `  ${c.instanceId} container ${c.containerId.slice(0, 12)}: record ${record?.state ?? 'none'}${leaving !== undefined ? ` (leaving for ${at - leaving} ms)` : ''}`;
    });
    const history = (this.desired.get(serviceId) ?? []).map((d) => `${d.perHost}${d.configTesting ? ' (config testing)' : ''} since ${at - d.from} ms ago`);
    const recent = this.ctx.operations
      .filter((r) => r.planned.serviceId === serviceId && r.outcome === 'accepted')
      .filter((r) => !this.ctx.ended.has(r) || this.ctx.ended.get(r)!.at > at - 60_000)
      .map((r) => `${describeOperation(r)} (${this.ctx.ended.get(r)?.how ?? 'running'})`);
    return [...lines, `  desired per host: ${history.join(', ')}`, `  recent operations: ${recent.join('; ') || 'none'}`, `  ${summaryText(view, serviceId)}`].join('\n');
  }
}
