import { SeededRandom } from './random.js';
import { MAX_INSTANCES_PER_HOST, SOAK_SERVICES, type SoakService } from './services.js';

/**
 * The soak's schedule: every operation and fault with its time relative to the start, as a pure function of the
 * seed and the length. Nothing here looks at the cluster, so a seed always replays the same schedule.
 *
 * Operations are chosen from a model of each service (exists? activation state, instancesPerHost) that assumes
 * every scheduled operation takes effect. The model mostly matches the cluster, so most operations are valid for
 * the service's real state; some are refused on purpose (`expectRefusal`), and others get refused because the
 * model ran ahead of the cluster (a fault, an operation still running): both are counted, neither is a failure.
 */

export const OPERATION_KINDS = [
  'CREATE',
  'DEPLOY_TEST_INSTANCE',
  'ACTIVATE',
  'UPDATE_INSTANCE_COUNT',
  'ADJUST_INSTANCES',
  'RESTART',
  'REPLACE_INSTANCES',
  'STOP_INSTANCES',
  'DEACTIVATE',
  'DESTROY',
  'CANCEL',
] as const;
export type OperationKind = (typeof OPERATION_KINDS)[number];

export const FAULT_KINDS = [
  'KILL_LEADER',
  'KILL_FOLLOWER',
  'PAUSE_LEADER',
  'KILL_EXECUTOR',
  'KILL_CONTAINERS',
  'RESTART_DOCKERD',
  'ETCD_MEMBER_DOWN',
  'ETCD_QUORUM_LOSS',
  'PARTITION_EXECUTOR',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface OpSpecChoice {
  timeout: string;
  parallelism: number;
}

export interface PlannedOperation {
  atMs: number;
  serviceId: string;
  kind: OperationKind;
  instancesPerHost?: number;
  stopFirst?: boolean;
  opSpec?: OpSpecChoice;
  /**
   * STOP_INSTANCES / REPLACE_INSTANCES: which healthy instances, as dice resolved against the sorted healthy list
   * when the operation runs (instance ids are only known then). Empty for REPLACE means "all".
   */
  picks?: number[];
  /** STOP_INSTANCES of an instance id that does not exist: refused by the validator. */
  bogusInstance?: boolean;
  /** The model says the cluster should refuse it (chosen to check refusals). */
  expectRefusal: boolean;
}

export interface PlannedFault {
  atMs: number;
  /** When the fault is undone (the process restarted, the member back, the rule removed); atMs for instant ones. */
  healAtMs: number;
  kind: FaultKind;
  /** Executor host, etcd member(s) or follower choice, depending on the kind (dice resolved at run time). */
  target: number;
  /** A second etcd member for quorum loss; how many containers for KILL_CONTAINERS. */
  extra: number;
}

export interface Schedule {
  seed: number;
  durationMs: number;
  operations: PlannedOperation[];
  faults: PlannedFault[];
}

export interface ScheduleShape {
  hosts: number;
  etcdMembers: number;
}

/** How the schedule is paced; each value says why. */
export const SCHEDULE_PACING = {
  /** First operations of each service: right after the start, staggered so the creates do not collide. */
  firstOperationMs: 500,
  staggerMs: 700,
  /** Gap between two operations on one service: long enough for most to finish (a rollout takes 2-6 s). */
  operationGapMs: [3_000, 11_000] as const,
  /** After an operation that replaces instances one by one, wait longer, or the next is refused as pending. */
  longOperationGapMs: [8_000, 18_000] as const,
  /** A cancel follows its operation after this long: sometimes mid-way, sometimes after it finished. */
  cancelDelayMs: [200, 2_500] as const,
  cancelProbability: 0.3,
  /** Faults start once the services had time to come up (creates + activations take ~5 s). */
  firstFaultMs: 12_000,
  /** Gap between the starts of two faults. */
  faultGapMs: [4_000, 11_000] as const,
  /** At most this many faults at once (on disjoint parts: controllers, etcd, one host each). */
  maxConcurrentFaults: 2,
  /** Nothing new starts this close to the end, so that every fault is healed before the chaos phase ends. */
  quietTailMs: 3_000,
} as const;

/** How long each fault lasts before it is undone, per kind (ms, from-to). */
const FAULT_DURATION_MS: Record<FaultKind, readonly [number, number]> = {
  // Shorter and longer than the lease TTL (3 s): a quick restart and a long absence.
  KILL_LEADER: [2_000, 12_000],
  KILL_FOLLOWER: [2_000, 12_000],
  // Below and above the lease TTL: a pause the leader survives and one after which it must step down.
  PAUSE_LEADER: [1_000, 8_000],
  // Below and above staleExecutorAge (10 s): the executor is kept, or removed and its instances marked LOST.
  KILL_EXECUTOR: [2_000, 18_000],
  KILL_CONTAINERS: [0, 0],
  RESTART_DOCKERD: [0, 0],
  ETCD_MEMBER_DOWN: [3_000, 15_000],
  ETCD_QUORUM_LOSS: [3_000, 12_000],
  PARTITION_EXECUTOR: [3_000, 18_000],
};

/** What each fault occupies: two faults run at once only on disjoint parts. */
function faultResource(kind: FaultKind, target: number): string {
  switch (kind) {
    case 'KILL_LEADER':
    case 'KILL_FOLLOWER':
    case 'PAUSE_LEADER':
      return 'controllers';
    case 'ETCD_MEMBER_DOWN':
    case 'ETCD_QUORUM_LOSS':
      return 'etcd';
    default:
      return `host:${target}`;
  }
}

/** The model's view of one service. */
interface ServiceModel {
  exists: boolean;
  activation: 'INACTIVE' | 'ACTIVE' | 'CONFIG_TESTING';
  instancesPerHost: number;
}

type Choice = { kind: OperationKind; valid: boolean };

/** Weighted choices for a service in a given model state; `valid: false` entries are deliberate refusals. */
function choices(model: ServiceModel, service: SoakService): Array<readonly [Choice, number]> {
  const c = (kind: OperationKind, weight: number, valid = true) => [{ kind, valid }, weight] as const;
  if (!model.exists) return [c('CREATE', 9), c('ACTIVATE', 0.6, false), c('CANCEL', 0.3, false)];
  switch (model.activation) {
    case 'INACTIVE':
      return [
        c('ACTIVATE', 6),
        c('DEPLOY_TEST_INSTANCE', 1.5),
        c('ADJUST_INSTANCES', 0.8),
        c('UPDATE_INSTANCE_COUNT', service.hostLevel ? 0.3 : 1, !service.hostLevel),
        c('DESTROY', 1),
        c('CREATE', 0.3, false),
        c('DEACTIVATE', 0.3, false),
        c('RESTART', 0.3, false),
        c('CANCEL', 0.2, false),
      ];
    case 'ACTIVE':
      return [
        c('DEACTIVATE', 1.3),
        c('UPDATE_INSTANCE_COUNT', service.hostLevel ? 0.3 : 1.5, !service.hostLevel),
        c('ADJUST_INSTANCES', 1),
        c('RESTART', 2),
        c('REPLACE_INSTANCES', 1.5),
        c('STOP_INSTANCES', 1.5),
        c('ACTIVATE', 0.3, false),
        c('DESTROY', 0.3, false),
        c('DEPLOY_TEST_INSTANCE', 0.2, false),
        c('CANCEL', 0.2, false),
      ];
    case 'CONFIG_TESTING':
      return [
        c('ACTIVATE', 3),
        c('DEACTIVATE', 2),
        c('RESTART', 1),
        c('REPLACE_INSTANCES', 0.5),
        c('STOP_INSTANCES', 0.5),
        c('ADJUST_INSTANCES', 0.5),
        c('UPDATE_INSTANCE_COUNT', 0.3, false),
        c('DESTROY', 0.3, false),
      ];
  }
}

/** The operation kinds that replace instances one after the other and so take a while. */
const LONG_OPERATIONS: ReadonlySet<OperationKind> = new Set(['RESTART', 'REPLACE_INSTANCES']);
const CANCELLABLE: ReadonlySet<OperationKind> = new Set(['RESTART', 'REPLACE_INSTANCES', 'ADJUST_INSTANCES']);

/** Kinds not scheduled yet weigh this much more, so that a short soak still covers every kind. */
const COVERAGE_BOOST = 5;

function maybeOpSpec(random: SeededRandom): OpSpecChoice | undefined {
  return random.chance(0.6) ? { timeout: '20 seconds', parallelism: random.int(1, 3) } : undefined;
}

function planOperation(
  random: SeededRandom,
  atMs: number,
  service: SoakService,
  model: ServiceModel,
  unseen: Set<OperationKind>,
): PlannedOperation {
  const options = choices(model, service).map(
    ([choice, weight]) => [choice, choice.valid && unseen.has(choice.kind) ? weight * COVERAGE_BOOST : weight] as const,
  );
  const { kind, valid } = random.weighted(options);
  const op: PlannedOperation = { atMs, serviceId: service.id, kind, expectRefusal: !valid };
  switch (kind) {
    case 'CREATE':
      op.instancesPerHost = service.initialInstances;
      break;
    case 'UPDATE_INSTANCE_COUNT': {
      // A different count from the model's, up or down.
      const other = [1, 2, MAX_INSTANCES_PER_HOST].filter((n) => n !== model.instancesPerHost);
      op.instancesPerHost = random.pick(other);
      break;
    }
    case 'ADJUST_INSTANCES': {
      const spec = maybeOpSpec(random);
      if (spec) op.opSpec = spec;
      break;
    }
    case 'RESTART': {
      // A host-level service binds a fixed port: start-first cannot work there, so it mostly restarts stop-first.
      op.stopFirst = random.chance(service.hostLevel ? 0.8 : 0.5);
      const spec = maybeOpSpec(random);
      if (spec) op.opSpec = spec;
      break;
    }
    case 'REPLACE_INSTANCES': {
      op.stopFirst = random.chance(service.hostLevel ? 0.8 : 0.4);
      op.picks = random.chance(0.3) ? [] : Array.from({ length: random.int(1, 2) }, () => random.int(0, 1_000));
      const spec = maybeOpSpec(random);
      if (spec) op.opSpec = spec;
      break;
    }
    case 'STOP_INSTANCES': {
      op.picks = Array.from({ length: random.int(1, 2) }, () => random.int(0, 1_000));
      // Now and then an id that does not exist: the validator must refuse it by name.
      if (valid && random.chance(0.1)) {
        op.bogusInstance = true;
        op.expectRefusal = true;
      }
      const spec = maybeOpSpec(random);
      if (spec) op.opSpec = spec;
      break;
    }
    default:
      break;
  }
  if (valid) unseen.delete(kind);
  return op;
}

/** The model after the operation, assuming it took effect. */
function applyToModel(model: ServiceModel, op: PlannedOperation): void {
  if (op.expectRefusal) return;
  switch (op.kind) {
    case 'CREATE':
      Object.assign(model, { exists: true, activation: 'INACTIVE', instancesPerHost: op.instancesPerHost! });
      break;
    case 'ACTIVATE':
      model.activation = 'ACTIVE';
      break;
    case 'DEPLOY_TEST_INSTANCE':
      model.activation = 'CONFIG_TESTING';
      break;
    case 'DEACTIVATE':
      model.activation = 'INACTIVE';
      break;
    case 'DESTROY':
      model.exists = false;
      break;
    case 'UPDATE_INSTANCE_COUNT':
      model.instancesPerHost = op.instancesPerHost!;
      break;
    case 'CANCEL':
      // Cancelling an adjust or replace of a running service deactivates it (emergency deactivation).
      model.activation = 'INACTIVE';
      break;
    default:
      break;
  }
}

function operationsOf(random: SeededRandom, durationMs: number): PlannedOperation[] {
  const operations: PlannedOperation[] = [];
  const unseen = new Set<OperationKind>(OPERATION_KINDS);
  const models = new Map(SOAK_SERVICES.map((s) => [s.id, { exists: false, activation: 'INACTIVE', instancesPerHost: s.initialInstances } as ServiceModel]));
  const next = new Map(SOAK_SERVICES.map((s, i) => [s.id, SCHEDULE_PACING.firstOperationMs + i * SCHEDULE_PACING.staggerMs]));
  const end = durationMs - SCHEDULE_PACING.quietTailMs;
  for (;;) {
    // The service whose next operation comes first (ties: list order), so the stream is one time-ordered list.
    let service: SoakService | undefined;
    for (const s of SOAK_SERVICES) if (!service || next.get(s.id)! < next.get(service.id)!) service = s;
    const atMs = next.get(service!.id)!;
    if (atMs > end) break;
    const model = models.get(service!.id)!;
    const op = planOperation(random, atMs, service!, model, unseen);
    operations.push(op);
    const before = { ...model };
    applyToModel(model, op);
    const [gapMin, gapMax] = LONG_OPERATIONS.has(op.kind) ? SCHEDULE_PACING.longOperationGapMs : SCHEDULE_PACING.operationGapMs;
    let gap = random.int(gapMin, gapMax);
    const running = before.exists && before.activation !== 'INACTIVE';
    if (!op.expectRefusal && CANCELLABLE.has(op.kind) && running && random.chance(SCHEDULE_PACING.cancelProbability)) {
      const delay = random.int(...SCHEDULE_PACING.cancelDelayMs);
      const cancel: PlannedOperation = { atMs: atMs + delay, serviceId: service!.id, kind: 'CANCEL', expectRefusal: false };
      if (cancel.atMs <= end) {
        operations.push(cancel);
        applyToModel(model, cancel);
        unseen.delete('CANCEL');
        gap = Math.max(gap, delay + SCHEDULE_PACING.operationGapMs[0]);
      }
    }
    next.set(service!.id, atMs + gap);
  }
  return operations.sort((a, b) => a.atMs - b.atMs);
}

function faultsOf(random: SeededRandom, durationMs: number, shape: ScheduleShape): PlannedFault[] {
  const faults: PlannedFault[] = [];
  const end = durationMs - SCHEDULE_PACING.quietTailMs;
  // First a shuffled round of every kind (coverage), then kinds at random.
  const firstRound = random.shuffle(FAULT_KINDS);
  let atMs = SCHEDULE_PACING.firstFaultMs;
  while (atMs < end) {
    const kind = firstRound.shift() ?? random.pick(FAULT_KINDS);
    const target = kind === 'ETCD_MEMBER_DOWN' || kind === 'ETCD_QUORUM_LOSS' ? random.int(0, shape.etcdMembers - 1) : random.int(0, shape.hosts - 1);
    const extra =
      kind === 'ETCD_QUORUM_LOSS'
        ? (target + random.int(1, shape.etcdMembers - 1)) % shape.etcdMembers
        : kind === 'KILL_CONTAINERS'
          ? random.int(1, 2)
          : kind === 'KILL_FOLLOWER'
            ? random.int(0, 1_000)
            : 0;
    const [min, max] = FAULT_DURATION_MS[kind];
    const resource = faultResource(kind, target);
    // Start once the part is free and fewer than the maximum faults are running.
    let start = atMs;
    for (;;) {
      const active = faults.filter((f) => f.atMs <= start && f.healAtMs > start);
      const busy = active.find((f) => faultResource(f.kind, f.target) === resource);
      if (busy) {
        start = busy.healAtMs + 500;
        continue;
      }
      if (active.length >= SCHEDULE_PACING.maxConcurrentFaults) {
        start = Math.min(...active.map((f) => f.healAtMs)) + 500;
        continue;
      }
      break;
    }
    const duration = random.int(min, max);
    if (start + duration > end) break;
    faults.push({ atMs: start, healAtMs: start + duration, kind, target, extra });
    atMs = start + random.int(...SCHEDULE_PACING.faultGapMs);
  }
  return faults.sort((a, b) => a.atMs - b.atMs);
}

export function buildSchedule(seed: number, durationMs: number, shape: ScheduleShape): Schedule {
  // Two streams from one seed: the number of operations does not shift the faults (and vice versa).
  const root = new SeededRandom(seed);
  const operationsRandom = new SeededRandom(root.int(0, 0xffff_ffff));
  const faultsRandom = new SeededRandom(root.int(0, 0xffff_ffff));
  return {
    seed,
    durationMs,
    operations: operationsOf(operationsRandom, durationMs),
    faults: faultsOf(faultsRandom, durationMs, shape),
  };
}

/** One line per entry, for printing a schedule (and checking that two runs of a seed planned the same). */
export function describeSchedule(schedule: Schedule): string[] {
  const at = (ms: number) => `${(ms / 1000).toFixed(1).padStart(7)} s`;
  const lines = [
    ...schedule.operations.map((o) => ({
      atMs: o.atMs,
      text: `${at(o.atMs)}  op    ${o.kind} ${o.serviceId}${o.instancesPerHost ? ` instancesPerHost=${o.instancesPerHost}` : ''}${o.stopFirst !== undefined ? ` stopFirst=${o.stopFirst}` : ''}${o.opSpec ? ` parallelism=${o.opSpec.parallelism}` : ''}${o.bogusInstance ? ' (unknown instance id)' : ''}${o.expectRefusal ? ' [expect refusal]' : ''}`,
    })),
    ...schedule.faults.map((f) => ({
      atMs: f.atMs,
      text: `${at(f.atMs)}  fault ${f.kind} target=${f.target}${f.extra ? ` extra=${f.extra}` : ''}${f.healAtMs > f.atMs ? ` healed at ${at(f.healAtMs).trim()}` : ''}`,
    })),
  ];
  return lines.sort((a, b) => a.atMs - b.atMs).map((l) => l.text);
}
