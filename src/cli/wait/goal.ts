import {
  executorTakes,
  INSTANCE_LIVE_STATES,
  isSteady,
  LOCAL_SERVICE_STATES,
  type ActivationState,
  type DroveEvent,
  type ExecutorSummary,
  type LocalServiceInstanceInfo,
  type LocalServiceInstanceState,
  type LocalServiceState,
  type LocalServiceSummary,
  type PlacementPolicy,
} from '../../model/index.js';

/**
 * What `--wait` waits for, per operation, and how far along it is: pure functions of what the controller's read
 * APIs show (a snapshot) and of what was seen on the way (history, fed by events and earlier snapshots). Done is
 * decided on the snapshot alone (level-based: a lost event never makes a wait finish early or hang), events only
 * add what a snapshot cannot show: states passed between two looks and why an instance failed (docs/cli.md#--wait).
 */

export type WaitGoal =
  /** create: the service is stored and at rest (INACTIVE). */
  | { kind: 'created' }
  /** activate (ACTIVE), conftest (CONFIG_TESTING): in that state with every desired instance healthy. */
  | { kind: 'running'; activation: 'ACTIVE' | 'CONFIG_TESTING' }
  /** update: the new count is stored and, for a running service, converged. */
  | { kind: 'count'; instancesPerHost: number }
  /** deactivate: INACTIVE with no instance left. */
  | { kind: 'inactive' }
  /** restart, lsinstances replace: none of `targets` left, the service converged again. */
  | { kind: 'replaced'; targets: ReadonlySet<string> }
  /** lsinstances kill: none of `targets` left (the reconciler starts fresh ones; not waited for). */
  | { kind: 'stopped'; targets: ReadonlySet<string> }
  /** cancelop: back at rest, converged to its activation (INACTIVE after an emergency deactivation). */
  | { kind: 'settled' }
  /** destroy: the service is gone. */
  | { kind: 'destroyed' };

export interface Snapshot {
  /** Undefined: the controller does not know the service (not created yet, or destroyed). */
  summary: LocalServiceSummary | undefined;
  /** The service's instances in active states (`/instances`). */
  instances: readonly LocalServiceInstanceInfo[];
  executors: readonly ExecutorSummary[];
  /**
   * The spec's placement policy: a tag constraint leaves executors out (docs/design/placement.md#tag-constraints),
   * and nothing is waited for there. Undefined: a plain LOCAL service (or one not known yet).
   */
  placementPolicy?: PlacementPolicy | undefined;
}

export interface Failure {
  instanceId: string;
  /** The executor's host name when known, else its id. */
  host: string;
  state: LocalServiceInstanceState;
  reason: string;
  /** Started during the wait: its failure is the operation's. An older instance failing is shown, not fatal. */
  started: boolean;
}

/** States in which an instance has failed (Drove's error states, plus unhealthy and lost). */
export const FAILED_INSTANCE_STATES: ReadonlySet<LocalServiceInstanceState> = new Set([
  'PROVISIONING_FAILED',
  'START_FAILED',
  'READINESS_CHECK_FAILED',
  'UNHEALTHY',
  'LOST',
]);

/** What was seen since the wait began; `recordState` and `recordFailure` keep it. */
export interface WaitHistory {
  /** Instances that existed before the operation was submitted. */
  readonly baseline: ReadonlySet<string>;
  /** A working (not steady) state was seen: the operation was picked up. */
  busy: boolean;
  /** The steady state seen after an instance started during the wait failed: the operation ended failing. */
  endedAfterFailure: LocalServiceState | undefined;
  emergency: boolean;
  /** The service was seen to exist (a later absence means it was destroyed). */
  existed: boolean;
  /** Executors that ran an instance of the service at some look: the hosts a deactivation must clear. */
  readonly hosts: Set<string>;
  readonly failures: Failure[];
}

export function newHistory(baseline: readonly Pick<LocalServiceInstanceInfo, 'instanceId' | 'executorId'>[]): WaitHistory {
  return {
    baseline: new Set(baseline.map((i) => i.instanceId)),
    busy: false,
    endedAfterFailure: undefined,
    emergency: false,
    existed: false,
    hosts: new Set(baseline.map((i) => i.executorId)),
    failures: [],
  };
}

export function recordState(history: WaitHistory, state: LocalServiceState): void {
  if (!isSteady(state)) history.busy = true;
  if (state === 'EMERGENCY_DEACTIVATION_REQUESTED') history.emergency = true;
  if (isSteady(state) && history.failures.some((f) => f.started)) history.endedAfterFailure ??= state;
}

/** Adds a failure once per instance and state; returns whether it was new. */
export function recordFailure(history: WaitHistory, failure: Omit<Failure, 'started'>): boolean {
  if (history.failures.some((f) => f.instanceId === failure.instanceId && f.state === failure.state)) return false;
  history.failures.push({ ...failure, started: !history.baseline.has(failure.instanceId) });
  return true;
}

/**
 * What an event of the service adds: states passed between two looks, and instance failures with their reason.
 * Returns the failure when the event reported a new one, for the display.
 */
export function recordEvent(history: WaitHistory, serviceId: string, event: DroveEvent): Failure | undefined {
  const m = event.metadata;
  if (event.type === 'LOCAL_SERVICE_STATE_CHANGE' && m.LOCAL_SERVICE_ID === serviceId && typeof m.CURRENT_STATE === 'string') {
    if ((LOCAL_SERVICE_STATES as readonly string[]).includes(m.CURRENT_STATE)) recordState(history, m.CURRENT_STATE as LocalServiceState);
    return undefined;
  }
  if (event.type !== 'LOCAL_SERVICE_INSTANCE_STATE_CHANGE' || m.SERVICE_ID !== serviceId) return undefined;
  const state = m.CURRENT_STATE as LocalServiceInstanceState;
  if (!FAILED_INSTANCE_STATES.has(state) || typeof m.INSTANCE_ID !== 'string') return undefined;
  const failure = {
    instanceId: m.INSTANCE_ID,
    host: String(m.EXECUTOR_HOST ?? m.EXECUTOR_ID ?? '?'),
    state,
    reason: typeof m.ERROR === 'string' ? m.ERROR : '',
  };
  return recordFailure(history, failure) ? history.failures[history.failures.length - 1] : undefined;
}

export interface Progress {
  /** The service's state, or GONE when the controller does not know it. */
  state: LocalServiceState | 'GONE';
  activation?: ActivationState;
  hosts?: { done: number; total: number; waitingOn: string[] };
  healthy?: { count: number; desired: number };
  /** Targeted instances (replace, kill, restart) still present. */
  remaining?: number;
  failures: readonly Failure[];
}

export type Verdict = { status: 'waiting' } | { status: 'done' } | { status: 'failed'; reason: string };

export interface AssessOptions {
  /** Time since the operation was accepted, ms. */
  elapsedMs: number;
  /**
   * How long a steady service with its targets still present counts as "not picked up yet" rather than "ended
   * without doing it", when no working state was seen: the service runner takes an accepted operation at once, so
   * a few seconds are plenty.
   */
  startGraceMs: number;
  /**
   * Instances started during the wait that may fail before the wait gives up while the operation still runs:
   * the controller retries a failed start until the op spec's timeout, so a broken spec (a bad image, a check
   * that never passes) would otherwise keep a terminal or a CI job waiting for minutes after the cause showed.
   */
  maxStartFailures: number;
}

export const DEFAULT_START_GRACE_MS = 10_000;
/** 3: one failed start can be bad luck (a pull that timed out); three in one rollout are the spec or the hosts. */
export const DEFAULT_MAX_START_FAILURES = 3;

export function assess(goal: WaitGoal, snapshot: Snapshot, history: WaitHistory, options: AssessOptions): { progress: Progress; verdict: Verdict } {
  const { summary } = snapshot;
  if (summary === undefined) {
    const progress: Progress = { state: 'GONE', failures: history.failures };
    if (goal.kind === 'destroyed') return { progress, verdict: { status: 'done' } };
    if (goal.kind === 'created' && !history.existed) return { progress, verdict: { status: 'waiting' } };
    return { progress, verdict: { status: 'failed', reason: 'the service no longer exists (it was destroyed)' } };
  }
  history.existed = true;
  const state = summary.state ?? summary.activationState;
  recordState(history, state);
  const live = snapshot.instances.filter((i) => INSTANCE_LIVE_STATES.has(i.state));
  for (const i of live) {
    history.hosts.add(i.executorId);
    if (FAILED_INSTANCE_STATES.has(i.state)) {
      const host = i.localInfo?.hostname ?? snapshot.executors.find((e) => e.executorId === i.executorId)?.hostname ?? i.executorId;
      recordFailure(history, { instanceId: i.instanceId, host, state: i.state, reason: i.errorMessage ?? '' });
    }
  }
  const targets = goal.kind === 'replaced' || goal.kind === 'stopped' ? goal.targets : undefined;
  const remaining = targets ? live.filter((i) => targets.has(i.instanceId)).length : undefined;
  const shape = convergence(summary, live, snapshot.executors, history, targets, snapshot.placementPolicy);
  const progress: Progress = { state, activation: summary.activationState, ...shape.progress, remaining, failures: history.failures };
  const steady = isSteady(state);
  const verdict = (status: 'done' | 'waiting'): { progress: Progress; verdict: Verdict } => ({ progress, verdict: { status } });

  let done: boolean;
  switch (goal.kind) {
    case 'created':
      done = steady;
      break;
    case 'running':
      done = state === goal.activation && shape.converged;
      break;
    case 'count':
      done = steady && summary.instancesPerHost === goal.instancesPerHost && shape.converged;
      break;
    case 'inactive':
      done = state === 'INACTIVE' && shape.converged;
      break;
    case 'replaced':
      done = steady && remaining === 0 && shape.converged;
      break;
    case 'stopped':
      done = steady && remaining === 0;
      break;
    case 'settled':
      done = steady && shape.converged;
      break;
    case 'destroyed':
      done = false;
      break;
  }
  if (done) return verdict('done');

  const fail = (reason: string) => ({ progress, verdict: { status: 'failed', reason } as Verdict });
  const stopsInstances = goal.kind === 'inactive' || goal.kind === 'settled' || goal.kind === 'destroyed';
  if (history.emergency && !stopsInstances) {
    return fail('the operation was cancelled: the service is being deactivated (emergency deactivation)');
  }
  if (targets && steady && remaining! > 0 && (history.busy || options.elapsedMs > options.startGraceMs)) {
    return fail(`the operation ended in state ${state} with ${remaining} of the targeted instances still present`);
  }
  const started = history.failures.filter((f) => f.started);
  // Seen at rest after a failure, even when the look now shows the reconciler's next attempt running.
  if (history.endedAfterFailure && !stopsInstances) {
    return fail(
      `${started.length} new instance(s) failed and the operation ended (${history.endedAfterFailure}); last: ${describeFailure(started[started.length - 1]!)}`,
    );
  }
  if (started.length >= options.maxStartFailures && !stopsInstances) {
    return fail(
      `${started.length} new instances failed, last: ${describeFailure(started[started.length - 1]!)}; the controller goes on retrying ` +
        "(see 'drove lsinstances list --old'; 'drove localservices cancelop' stops it)",
    );
  }
  if (goal.kind === 'running' && steady && history.busy && summary.activationState !== goal.activation) {
    return fail(`the service went ${state} instead of ${goal.activation}`);
  }
  if (goal.kind === 'inactive' && steady && history.busy && summary.activationState !== 'INACTIVE') {
    return fail(`the service went ${state} instead of INACTIVE`);
  }
  return verdict('waiting');
}

export function describeFailure(f: Failure): string {
  // One line: a multi-line reason (a stack, a Docker message) would break a redrawn display.
  const reason = f.reason.replace(/\s+/g, ' ').trim();
  return `${f.instanceId} on ${f.host}: ${f.state}${reason ? `: ${reason}` : ''}`;
}

/**
 * Hosts done / total and healthy / desired for the service's activation, as the reconciler plans it
 * (src/controller/reconcile/plan.ts): `instancesPerHost` on every executor that takes the service (eligible, and
 * with the tags its constraint asks for: `executorTakes`, the controller's own rule) when ACTIVE, one instance
 * cluster-wide when CONFIG_TESTING, none when INACTIVE. An executor in crash-loop backoff still takes it: its
 * failures are what the wait reports.
 */
function convergence(
  summary: LocalServiceSummary,
  live: readonly LocalServiceInstanceInfo[],
  executors: readonly ExecutorSummary[],
  history: WaitHistory,
  targets: ReadonlySet<string> | undefined,
  placementPolicy: PlacementPolicy | undefined,
): { converged: boolean; progress: Pick<Progress, 'hosts' | 'healthy'> } {
  const hostOf = new Map(executors.map((e) => [e.executorId, e.hostname]));
  const name = (executorId: string) => hostOf.get(executorId) ?? executorId;
  const healthy = live.filter((i) => i.state === 'HEALTHY');
  switch (summary.activationState) {
    case 'ACTIVE': {
      const eligible = executors.filter((e) => executorTakes({ state: e.state, nodeData: e }, placementPolicy)).map((e) => e.executorId);
      const perHost = summary.instancesPerHost;
      const waitingOn = eligible.filter((id) => {
        const here = live.filter((i) => i.executorId === id);
        const ok = here.filter((i) => i.state === 'HEALTHY' && !targets?.has(i.instanceId)).length;
        return !(ok === perHost && here.length === perHost);
      });
      const elsewhere = live.some((i) => !eligible.includes(i.executorId));
      const healthyCount = healthy.filter((i) => eligible.includes(i.executorId)).length;
      return {
        converged: waitingOn.length === 0 && !elsewhere,
        progress: {
          hosts: { done: eligible.length - waitingOn.length, total: eligible.length, waitingOn: waitingOn.map(name) },
          healthy: { count: healthyCount, desired: perHost * eligible.length },
        },
      };
    }
    case 'CONFIG_TESTING': {
      const converged = live.length === 1 && live[0]!.state === 'HEALTHY' && !targets?.has(live[0]!.instanceId);
      return {
        converged,
        progress: { hosts: { done: converged ? 1 : 0, total: 1, waitingOn: [] }, healthy: { count: healthy.length, desired: 1 } },
      };
    }
    case 'INACTIVE': {
      // Nothing ran anywhere: there is nothing to count.
      if (history.hosts.size === 0) return { converged: live.length === 0, progress: {} };
      // Hosts that ran an instance when the wait began or since: done once none is left there.
      const waitingOn = [...history.hosts].filter((id) => live.some((i) => i.executorId === id));
      return {
        converged: live.length === 0,
        progress: {
          hosts: { done: history.hosts.size - waitingOn.length, total: history.hosts.size, waitingOn: waitingOn.map(name) },
        },
      };
    }
  }
}
