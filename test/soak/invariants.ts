import type { LocalServiceInstanceInfo, LocalServiceInstanceState, LocalServiceState } from '../../src/model/index.js';
import type { Reply } from './api.js';
import { operationBoundMs, type BoundedKind } from './bounds.js';
import type { OperationRecord } from './records.js';
import type { ContainerFact, LeaderView, Sample } from './sample.js';
import type { OperationKind } from './schedule.js';
import type { SoakService } from './services.js';
import type { Term, TermTracker } from './terms.js';
import { CHECKER_WINDOWS, SOAK_TIMINGS } from './timings.js';

/**
 * The soak's invariant checker. It is fed samples (Docker on every host, then the leader's API), the operations the
 * soak sent and the faults it injected, and records a violation whenever a rule below is broken. Each rule says
 * why it holds even under the faults the soak injects; where a fault makes a rule untestable (a host whose executor
 * is dead or cut off), the rule says so and what it checks instead. docs/soak.md has the same list.
 */

export const RULES = [
  'instances-per-host',
  'config-test-instances',
  'instance-record-lost',
  'service-lost',
  'operation-stuck',
  'operation-unfinished',
  'dual-leader',
  'server-error',
  'not-converged',
] as const;
export type Rule = (typeof RULES)[number];

export interface Violation {
  /** Wall clock when it was found. */
  at: number;
  rule: Rule;
  message: string;
  evidence: string;
}

export interface CheckerOptions {
  services: readonly SoakService[];
  /** executorIds[i] is the executor on host i. */
  executorIds: readonly string[];
  tracker: TermTracker;
  onViolation(violation: Violation): void;
}

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

const STEADY: ReadonlySet<string> = new Set(['ACTIVE', 'INACTIVE', 'CONFIG_TESTING']);

/** The working state each operation moves its service into (the engine's Routing action). */
const WORKING_STATE: Partial<Record<OperationKind, LocalServiceState>> = {
  ACTIVATE: 'ACTIVATION_REQUESTED',
  DEPLOY_TEST_INSTANCE: 'CONFIG_TESTING_REQUESTED',
  DEACTIVATE: 'DEACTIVATION_REQUESTED',
  DESTROY: 'DESTROY_REQUESTED',
  ADJUST_INSTANCES: 'ADJUSTING_INSTANCES',
  RESTART: 'REPLACING_INSTANCES',
  REPLACE_INSTANCES: 'REPLACING_INSTANCES',
  STOP_INSTANCES: 'STOPPING_INSTANCES',
  UPDATE_INSTANCE_COUNT: 'UPDATING_INSTANCES_COUNT',
};

function boundedKind(kind: OperationKind | undefined, state: string | undefined): BoundedKind {
  if (kind === 'ADJUST_INSTANCES' || state === 'ADJUSTING_INSTANCES') return 'ADJUST';
  if (kind === 'RESTART' || kind === 'REPLACE_INSTANCES' || state === 'REPLACING_INSTANCES') return 'REPLACE';
  if (kind === 'STOP_INSTANCES' || state === 'STOPPING_INSTANCES') return 'STOP_INSTANCES';
  return 'RECORD';
}

interface Desired {
  from: number;
  /** Instances per host the leader wants (ACTIVE: instancesPerHost, CONFIG_TESTING: 1, otherwise 0). */
  perHost: number;
  configTesting: boolean;
}

interface Incarnation {
  created: number;
  firstSeen: number;
  instances: Map<string, { state: LocalServiceInstanceState; lastSeen: number; missingSince?: number }>;
}

interface PendingOperation {
  record: OperationRecord;
  flaggedStuck: boolean;
}

export interface OperationTally {
  finished: number;
  interrupted: number;
  pending: number;
}

export class InvariantChecker {
  readonly violations: Violation[] = [];
  private readonly services: Map<string, SoakService>;
  private readonly hostFaults = new Map<number, { active: number; lastEnd: number }>();
  private readonly desired = new Map<string, Desired[]>();
  private readonly leavingSince = new Map<string, number>();
  private readonly incarnations = new Map<string, Incarnation>();
  private readonly working = new Map<string, number>();
  private readonly operations: OperationRecord[] = [];
  private readonly pending: PendingOperation[] = [];
  /** Operations that ended, with when (event time) or that their term ended (time noticed). */
  private readonly ended = new Map<OperationRecord, { at: number; how: 'finished' | 'interrupted' }>();
  /** Episodes of level rules that are currently violated: reported once when they start. */
  private readonly open = new Set<string>();
  private readonly flagged = new Set<string>();
  private dualLeaderSince: number | undefined;

  constructor(private readonly options: CheckerOptions) {
    this.services = new Map(options.services.map((s) => [s.id, s]));
  }

  // ---- inputs ----

  operation(record: OperationRecord): void {
    this.operations.push(record);
    if (record.outcome === 'accepted') this.pending.push({ record, flaggedStuck: false });
  }

  /** Rule server-error: every 5xx is a bug (the house rules: bad input is a 4xx, nothing else may fail). */
  serverError(what: string, reply: Reply, at = Date.now()): void {
    this.report(at, 'server-error', `${what} answered HTTP ${reply.status}`, JSON.stringify(reply.body).slice(0, 1_000));
  }

  hostFaultStarted(host: number): void {
    const f = this.hostFaults.get(host) ?? { active: 0, lastEnd: 0 };
    f.active++;
    this.hostFaults.set(host, f);
  }

  hostFaultEnded(host: number, at = Date.now()): void {
    const f = this.hostFaults.get(host);
    if (!f) return;
    f.active = Math.max(0, f.active - 1);
    f.lastEnd = at;
  }

  sample(sample: Sample): void {
    this.checkLeaders(sample);
    if (!sample.view) return;
    this.recordDesired(sample.wall, sample.view);
    this.checkInstancesPerHost(sample, sample.view);
    this.checkRecords(sample.wall, sample.view);
    this.checkStuck(sample.wall, sample.view);
    this.checkOperations(sample.wall);
  }

  /** End of the soak: every accepted operation must have ended by now. */
  finish(at = Date.now()): void {
    this.checkOperations(at);
    for (const p of this.pending) {
      this.report(
        at,
        'operation-unfinished',
        `${describe(p.record)} was accepted but never finished, failed or was cancelled with an event`,
        this.eventsEvidence(p.record),
      );
    }
  }

  operationTally(): OperationTally {
    let finished = 0;
    let interrupted = 0;
    for (const { how } of this.ended.values()) {
      if (how === 'finished') finished++;
      else interrupted++;
    }
    return { finished, interrupted, pending: this.pending.length };
  }

  // ---- rule dual-leader ----

  /**
   * Two controllers may both answer ping 200 for a moment: a leader paused past its lease wakes up and serves a
   * request before its keep-alive check steps it down (its writes are fenced meanwhile). Longer than a lease TTL
   * plus two seconds means one of them failed to step down.
   */
  private checkLeaders(sample: Sample): void {
    if (sample.leaders.length <= 1) {
      this.dualLeaderSince = undefined;
      this.open.delete('dual-leader');
      return;
    }
    this.dualLeaderSince ??= sample.wall;
    if (sample.wall - this.dualLeaderSince > CHECKER_WINDOWS.dualLeaderMs) {
      this.episode(sample.wall, 'dual-leader', 'dual-leader', `controllers ${sample.leaders.map((i) => `controller-${i + 1}`).join(' and ')} both answer ping 200 for ${sample.wall - this.dualLeaderSince} ms`, '');
    }
  }

  // ---- rules instances-per-host and config-test-instances ----

  private recordDesired(at: number, view: LeaderView): void {
    const ids = new Set([...this.desired.keys(), ...view.services.keys()]);
    for (const id of ids) {
      const summary = view.services.get(id);
      const perHost = !summary ? 0 : summary.activationState === 'ACTIVE' ? summary.instancesPerHost : summary.activationState === 'CONFIG_TESTING' ? 1 : 0;
      const configTesting = summary?.activationState === 'CONFIG_TESTING';
      const history = this.desired.get(id) ?? [];
      const last = history.at(-1);
      if (!last || last.perHost !== perHost || last.configTesting !== configTesting) history.push({ from: at, perHost, configTesting });
      // Only what can still matter for the window is kept.
      while (history.length > 1 && history[1]!.from < at - CHECKER_WINDOWS.capDecreaseMs) history.shift();
      this.desired.set(id, history);
    }
  }

  /**
   * The largest per-host count the service was meant to have within the last `capDecreaseMs`: when the desired
   * count goes down (deactivate, lower instancesPerHost, destroy), the extra instances are stopped by the next
   * reconciler pass, so the old count stays the cap for that long.
   */
  private capOf(serviceId: string, at: number): number {
    const history = this.desired.get(serviceId) ?? [];
    let cap = 0;
    for (let i = 0; i < history.length; i++) {
      const until = history[i + 1]?.from ?? Number.POSITIVE_INFINITY;
      if (until >= at - CHECKER_WINDOWS.capDecreaseMs) cap = Math.max(cap, history[i]!.perHost);
    }
    return cap;
  }

  private configTestingThroughout(serviceId: string, at: number): boolean {
    const history = this.desired.get(serviceId) ?? [];
    const relevant = history.filter((d, i) => (history[i + 1]?.from ?? Number.POSITIVE_INFINITY) >= at - CHECKER_WINDOWS.capDecreaseMs);
    return relevant.length > 0 && relevant.every((d) => d.configTesting) && relevant[0]!.from <= at - CHECKER_WINDOWS.capDecreaseMs;
  }

  /**
   * A start-first replacement starts the new instance before it stops the old one: up to `parallelism` extra
   * instances (all of them possibly on one host) while it runs, and for `capDecreaseMs` after it ended or its
   * leader lost leadership (the next leader's reconciler stops what is left over).
   */
  private allowance(serviceId: string, at: number): number {
    let extra = 0;
    for (const record of this.operations) {
      const op = record.planned;
      if (record.outcome !== 'accepted' || op.serviceId !== serviceId || op.stopFirst !== false) continue;
      if (op.kind !== 'RESTART' && op.kind !== 'REPLACE_INSTANCES') continue;
      const end = this.ended.get(record);
      if (record.sentAt <= at && (!end || end.at + CHECKER_WINDOWS.capDecreaseMs >= at)) {
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
  private hostExcluded(host: number, at: number): boolean {
    const f = this.hostFaults.get(host);
    return !!f && (f.active > 0 || at - f.lastEnd < CHECKER_WINDOWS.hostRecoveryMs);
  }

  private recordOf(view: LeaderView, c: ContainerFact): LocalServiceInstanceInfo | undefined {
    return (
      view.instances.get(c.serviceId)?.find((i) => i.instanceId === c.instanceId) ??
      view.oldInstances.get(c.serviceId)?.find((i) => i.instanceId === c.instanceId)
    );
  }

  private counted(view: LeaderView, c: ContainerFact, at: number): boolean {
    const record = this.recordOf(view, c);
    if (!record || !NOT_COUNTED.has(record.state)) {
      // No record yet (its first report is on its way) or a running state: it counts.
      this.leavingSince.delete(c.instanceId);
      return true;
    }
    const since = this.leavingSince.get(c.instanceId) ?? at;
    this.leavingSince.set(c.instanceId, since);
    return at - since > CHECKER_WINDOWS.leavingMs;
  }

  /**
   * Rule instances-per-host: never more running containers of a service on a host than its instancesPerHost
   * (see capOf), plus the replacements a start-first restart has in flight (see allowance); containers on their way
   * out do not count for a while (NOT_COUNTED). Docker is the truth for "running"; the leader's records only
   * say which containers are on their way out. Rule config-test-instances: a service that has been CONFIG_TESTING
   * for the whole window runs one instance cluster-wide (plus its replacement's allowance).
   */
  private checkInstancesPerHost(sample: Sample, view: LeaderView): void {
    const at = sample.wall;
    const configTotals = new Map<string, ContainerFact[]>();
    for (const host of sample.hosts) {
      if (!host.ok || this.hostExcluded(host.host, at)) continue;
      const byService = new Map<string, ContainerFact[]>();
      for (const c of host.containers) {
        if (!this.counted(view, c, at)) continue;
        const list = byService.get(c.serviceId) ?? [];
        list.push(c);
        byService.set(c.serviceId, list);
      }
      for (const serviceId of new Set([...byService.keys(), ...this.desired.keys()])) {
        const list = byService.get(serviceId) ?? [];
        const key = `cap:${serviceId}:${host.host}`;
        const cap = this.capOf(serviceId, at) + this.allowance(serviceId, at);
        if (list.length > cap) {
          this.episode(
            at,
            'instances-per-host',
            key,
            `${list.length} running containers of ${serviceId} on host ${host.host + 1}, at most ${cap} allowed`,
            this.containerEvidence(view, host.containers.filter((c) => c.serviceId === serviceId), serviceId, at),
          );
        } else {
          this.open.delete(key);
        }
        configTotals.set(serviceId, [...(configTotals.get(serviceId) ?? []), ...list]);
      }
    }
    for (const [serviceId, list] of configTotals) {
      const key = `configtest:${serviceId}`;
      if (this.configTestingThroughout(serviceId, at) && list.length > 1 + this.allowance(serviceId, at)) {
        this.episode(
          at,
          'config-test-instances',
          key,
          `${list.length} running containers of CONFIG_TESTING service ${serviceId} cluster-wide, at most 1 allowed`,
          this.containerEvidence(view, list, serviceId, at),
        );
      } else {
        this.open.delete(key);
      }
    }
  }

  // ---- rules instance-record-lost and service-lost ----

  private destroyAcceptedSince(serviceId: string, since: number): boolean {
    return this.operations.some(
      (r) => r.planned.serviceId === serviceId && r.planned.kind === 'DESTROY' && r.outcome === 'accepted' && r.repliedAt >= since,
    );
  }

  /**
   * Rule instance-record-lost: an instance record the leader listed once (in /instances or /instances/old) is
   * listed by every later leader, until its service is destroyed. Records are written to etcd before the leader
   * keeps them in memory (write-through), so a successor loads everything a predecessor ever showed; history is
   * never pruned during a soak (maxStaleInstancesCount 4096, staleInstanceAge 7 days). The one gap Drove's API
   * has, a stale record not yet swept to LOST, is allowed for `unlistedRecordMs`.
   * Rule service-lost: a service the leader listed stays listed until a DESTROY of it was accepted; a service
   * whose `created` changes was destroyed and created again, which also needs an accepted DESTROY.
   */
  private checkRecords(at: number, view: LeaderView): void {
    for (const [serviceId, summary] of view.services) {
      let incarnation = this.incarnations.get(serviceId);
      if (incarnation && incarnation.created !== summary.created) {
        if (!this.destroyAcceptedSince(serviceId, incarnation.firstSeen)) {
          this.report(at, 'service-lost', `${serviceId} was created again (created ${summary.created}, was ${incarnation.created}) without an accepted DESTROY`, '');
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
        if (listed.has(instanceId) || this.flagged.has(`lost:${instanceId}`)) continue;
        known.missingSince ??= at;
        if (at - known.missingSince <= CHECKER_WINDOWS.unlistedRecordMs) continue;
        this.flagged.add(`lost:${instanceId}`);
        this.report(
          at,
          'instance-record-lost',
          `instance ${instanceId} of ${serviceId} has not been listed by the leader for ${Math.round((at - known.missingSince) / 1000)} s (neither /instances nor /instances/old)`,
          `last listed ${Math.round((at - known.lastSeen) / 1000)} s ago in state ${known.state}`,
        );
      }
      for (const [instanceId, info] of listed) incarnation.instances.set(instanceId, { state: info.state, lastSeen: at });
    }
    for (const [serviceId, incarnation] of this.incarnations) {
      if (view.services.has(serviceId)) continue;
      this.incarnations.delete(serviceId);
      if (!this.destroyAcceptedSince(serviceId, incarnation.firstSeen)) {
        this.report(at, 'service-lost', `${serviceId} is no longer listed by controller-${view.controller + 1} and no DESTROY of it was accepted`, '');
      }
    }
  }

  // ---- rules operation-stuck and operation-unfinished ----

  private latestAccepted(serviceId: string, term: Term, at: number): OperationRecord | undefined {
    let found: OperationRecord | undefined;
    for (const r of this.operations) {
      if (r.outcome !== 'accepted' || r.planned.serviceId !== serviceId || r.controller !== term.controller) continue;
      if (r.repliedAt < term.acquiredAt || r.sentAt > at) continue;
      found = r;
    }
    return found;
  }

  private boundFor(serviceId: string, kind: OperationKind | undefined, state: string | undefined, record: OperationRecord | undefined): number {
    const service = this.services.get(serviceId);
    if (!service) return Number.POSITIVE_INFINITY;
    return operationBoundMs(boundedKind(kind, state), service.spec, record?.planned.opSpec, this.options.executorIds.length);
  }

  /**
   * Rule operation-stuck: a service stays in a working state (an operation running) no longer than the bound its
   * op spec gives it (bounds.ts), within one leadership term. A new leader starts every service from its steady
   * state, so a term change resets the clock. Operations the reconciler submits run with the controller defaults.
   */
  private checkStuck(at: number, view: LeaderView): void {
    const term = view.term;
    if (!term) return;
    for (const [serviceId, summary] of view.services) {
      const state = summary.state;
      if (!state || STEADY.has(state)) continue;
      const key = `${term.id}:${serviceId}:${state}`;
      const since = this.working.get(key) ?? at;
      this.working.set(key, since);
      const record = this.latestAccepted(serviceId, term, at);
      const kind = record && WORKING_STATE[record.planned.kind] === state ? record.planned.kind : undefined;
      const bound = this.boundFor(serviceId, kind, state, kind ? record : undefined);
      if (at - since > bound && !this.flagged.has(`stuck:${key}`)) {
        this.flagged.add(`stuck:${key}`);
        this.report(at, 'operation-stuck', `${serviceId} has been ${state} for ${Math.round((at - since) / 1000)} s, longer than its bound ${Math.round(bound / 1000)} s`, summaryText(view, serviceId));
      }
    }
  }

  /**
   * Rule operation-unfinished: every accepted operation finishes, fails or is cancelled with an event. Its
   * service's LOCAL_SERVICE_STATE_CHANGE events, in the term of the leader that accepted it, show the working
   * state the operation moved it into and then a steady state (or DESTROYED); a create or cancel shows the steady
   * state. Exception: the leader lost leadership first. Operation slots and events live in the leader's memory
   * and are dropped with its term (Drove's design, decision 12): the next leader starts from the stored records,
   * which the other rules and the final convergence check judge. An accepted operation whose term is still current
   * and that has not ended within its bound is stuck.
   */
  private checkOperations(at: number): void {
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const p = this.pending[i]!;
      const record = p.record;
      const { tracker } = this.options;
      // Until the acceptor's log was read past the acceptance, the term it accepted in may not be known yet; if
      // another term began since, whichever it was has ended anyway.
      const readPast = record.controller !== undefined && tracker.fetchedAt(record.controller) > record.repliedAt;
      const term = readPast ? tracker.termAt(record.controller!, record.repliedAt) : undefined;
      if (!term) {
        if (tracker.hasTermAfter(record.repliedAt)) {
          this.ended.set(record, { at, how: 'interrupted' });
          this.pending.splice(i, 1);
        }
        continue;
      }
      const finishedAt = this.completion(record, term);
      if (finishedAt !== undefined) {
        this.ended.set(record, { at: finishedAt, how: 'finished' });
        this.pending.splice(i, 1);
        continue;
      }
      if (tracker.hasNewerTerm(term)) {
        this.ended.set(record, { at, how: 'interrupted' });
        this.pending.splice(i, 1);
        continue;
      }
      const bound = this.boundFor(record.planned.serviceId, record.planned.kind, undefined, record);
      if (!p.flaggedStuck && at - record.repliedAt > bound) {
        p.flaggedStuck = true;
        this.report(at, 'operation-stuck', `${describe(record)} has not finished ${Math.round((at - record.repliedAt) / 1000)} s after it was accepted (bound ${Math.round(bound / 1000)} s)`, this.eventsEvidence(record));
      }
    }
  }

  /** Time of the event that shows the operation over, if there is one. */
  private completion(record: OperationRecord, term: Term): number | undefined {
    const serviceId = record.planned.serviceId;
    const events = this.options.tracker
      .eventsOf(term)
      .filter((e) => e.type === 'LOCAL_SERVICE_STATE_CHANGE' && e.metadata.LOCAL_SERVICE_ID === serviceId && e.time >= record.sentAt);
    const working = WORKING_STATE[record.planned.kind];
    let from = 0;
    if (working) {
      from = events.findIndex((e) => e.metadata.CURRENT_STATE === working);
      if (from < 0) return undefined;
    }
    const end = events.slice(from).find((e) => STEADY.has(String(e.metadata.CURRENT_STATE)) || e.metadata.CURRENT_STATE === 'DESTROYED');
    return end?.time;
  }

  private eventsEvidence(record: OperationRecord): string {
    if (record.controller === undefined) return '';
    const term = this.options.tracker.termAt(record.controller, record.repliedAt);
    if (!term) return `no term known for controller-${record.controller + 1} at ${record.repliedAt}`;
    const events = this.options.tracker
      .eventsOf(term)
      .filter((e) => e.type === 'LOCAL_SERVICE_STATE_CHANGE' && e.metadata.LOCAL_SERVICE_ID === record.planned.serviceId && e.time >= record.sentAt - 5_000)
      .map((e) => `${e.time - record.sentAt} ms: ${String(e.metadata.CURRENT_STATE)}`);
    return `term ${term.id} of controller-${term.controller + 1}; events of ${record.planned.serviceId} relative to sending: ${events.join(', ') || 'none'}`;
  }

  // ---- final convergence ----

  /**
   * What still differs from the desired state; [] when converged. Desired: one leader; every executor listed
   * ACTIVE; every service steady; an ACTIVE service has exactly instancesPerHost HEALTHY instances and running
   * containers on every host, a CONFIG_TESTING one exactly one cluster-wide, an INACTIVE one none; no container
   * of a service the leader does not list (destroyed, or never created).
   */
  convergenceGaps(sample: Sample): string[] {
    const view = sample.view;
    if (sample.leaders.length !== 1 || !view) return [`no single leader answering (leaders: ${sample.leaders.length})`];
    const gaps: string[] = [];
    for (const host of sample.hosts) if (!host.ok) gaps.push(`dockerd of host ${host.host + 1} does not answer`);
    this.options.executorIds.forEach((executorId, i) => {
      const listed = view.executors.find((e) => e.executorId === executorId);
      if (listed?.state !== 'ACTIVE') gaps.push(`executor of host ${i + 1} is ${listed?.state ?? 'not listed'}`);
    });
    const containers = sample.hosts.flatMap((h) => h.containers);
    for (const [serviceId, summary] of view.services) {
      if (!summary.state || !STEADY.has(summary.state)) gaps.push(`${serviceId} is ${summary.state ?? 'without a state machine'}`);
      const healthy = (view.instances.get(serviceId) ?? []).filter((i) => i.state === 'HEALTHY');
      const active = view.instances.get(serviceId) ?? [];
      const mine = containers.filter((c) => c.serviceId === serviceId);
      if (summary.activationState === 'ACTIVE') {
        this.options.executorIds.forEach((executorId, h) => {
          const n = healthy.filter((i) => i.executorId === executorId).length;
          const running = mine.filter((c) => c.host === h).length;
          if (n !== summary.instancesPerHost) gaps.push(`${serviceId}: ${n} HEALTHY on host ${h + 1}, want ${summary.instancesPerHost}`);
          if (running !== summary.instancesPerHost) gaps.push(`${serviceId}: ${running} containers on host ${h + 1}, want ${summary.instancesPerHost}`);
        });
      } else if (summary.activationState === 'CONFIG_TESTING') {
        if (healthy.length !== 1) gaps.push(`${serviceId}: ${healthy.length} HEALTHY config-test instances, want 1`);
        if (mine.length !== 1) gaps.push(`${serviceId}: ${mine.length} config-test containers, want 1`);
      } else {
        const which = active.map((i) => `${i.instanceId} ${i.state} on ${this.hostOf(i.executorId)}`).join(', ');
        if (active.length > 0) gaps.push(`${serviceId}: INACTIVE with ${active.length} active instances (${which})`);
        if (mine.length > 0) gaps.push(`${serviceId}: INACTIVE with ${mine.length} running containers`);
      }
    }
    const orphans = containers.filter((c) => !view.services.has(c.serviceId));
    if (orphans.length > 0) {
      gaps.push(`containers of services the leader does not list: ${orphans.map((c) => `${c.serviceId}/${c.instanceId} on host ${c.host + 1}`).join(', ')}`);
    }
    return gaps;
  }

  private hostOf(executorId: string): string {
    const index = this.options.executorIds.indexOf(executorId);
    return index < 0 ? `executor ${executorId}` : `host ${index + 1}`;
  }

  notConverged(at: number, withinMs: number, gaps: string[]): void {
    this.report(at, 'not-converged', `the cluster did not reach the desired state within ${Math.round(withinMs / 1000)} s`, gaps.join('\n'));
  }

  // ---- reporting ----

  private containerEvidence(view: LeaderView, containers: readonly ContainerFact[], serviceId: string, at: number): string {
    const lines = containers.map((c) => {
      const record = this.recordOf(view, c);
      const leaving = this.leavingSince.get(c.instanceId);
      return `  ${c.instanceId} container ${c.containerId.slice(0, 12)}: record ${record?.state ?? 'none'}${leaving !== undefined ? ` (leaving for ${at - leaving} ms)` : ''}`;
    });
    const history = (this.desired.get(serviceId) ?? []).map((d) => `${d.perHost}${d.configTesting ? ' (config testing)' : ''} since ${at - d.from} ms ago`);
    const inFlight = this.operations
      .filter((r) => r.planned.serviceId === serviceId && r.outcome === 'accepted' && (!this.ended.has(r) || this.ended.get(r)!.at > at - 60_000))
      .map((r) => `${describe(r)} (${this.ended.get(r)?.how ?? 'running'})`);
    return [...lines, `  desired per host: ${history.join(', ')}`, `  recent operations: ${inFlight.join('; ') || 'none'}`, `  ${summaryText(view, serviceId)}`].join('\n');
  }

  /** A level rule: reported when it starts to be broken, not again until it held once. */
  private episode(at: number, rule: Rule, key: string, message: string, evidence: string): void {
    if (this.open.has(key)) return;
    this.open.add(key);
    this.report(at, rule, message, evidence);
  }

  private report(at: number, rule: Rule, message: string, evidence: string): void {
    const violation = { at, rule, message, evidence };
    this.violations.push(violation);
    this.options.onViolation(violation);
  }
}

function describe(record: OperationRecord): string {
  const op = record.planned;
  return `${op.kind} ${op.serviceId} (planned at ${(op.atMs / 1000).toFixed(1)} s, accepted by controller-${(record.controller ?? -1) + 1})`;
}

function summaryText(view: LeaderView, serviceId: string): string {
  const s = view.services.get(serviceId);
  return s ? `summary: ${s.activationState}/${s.state ?? '-'} instancesPerHost=${s.instancesPerHost} healthy=${s.healthyInstances}` : 'summary: not listed';
}
