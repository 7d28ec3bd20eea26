import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LocalServiceInstanceInfo } from '../../model/instance.js';
import { monotonicSeconds, registerProcessMetrics, type MonotonicSeconds } from '../../model/process-metrics.js';
import { INSTANCE_FAILED_STATES, LOCAL_SERVICE_INSTANCE_STATES, type LocalServiceInstanceState } from '../../model/states.js';
import type { ContainerStats } from '../runtime/runtime.js';

/**
 * The executor's Prometheus metrics (README, "Monitoring", lists them; docs/metrics.md says how they are built).
 * The instance state machines report pulls and checks through InstanceMetrics; state changes come from the instance
 * engine's change listener; CPU and memory from the stats collector (stats.ts); the instances by state are read from
 * the engine at every scrape (`render`).
 * Per-instance series carry `service` and `instance_id` (not `instance`: Prometheus sets that label to the target)
 * and are removed when the instance ends.
 */

export const CHECK_KINDS = ['readiness', 'health'] as const;
export type CheckKind = (typeof CHECK_KINDS)[number];
/** `aborted`: a stop request interrupted the pull. */
export type PullOutcome = 'success' | 'failure' | 'aborted';

/** What an instance state machine reports (instances/instance.ts). */
export interface InstanceMetrics {
  pullStarted(): (outcome: PullOutcome) => void;
  /** One readiness or health probe; `mode` is the check's type (HTTP, CMD). */
  checkStarted(kind: CheckKind, mode: string): (healthy: boolean) => void;
}

/** Image pulls: cached layers take a second, a large image over a slow link minutes (Drove's timeout is 15 min). */
const PULL_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900];
/** HTTP probes answer in ms on the host; CMD probes start a process in the container (tens of ms); timeouts ~1 s. */
const CHECK_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface ExecutorMetricsOptions {
  processMetrics?: boolean;
  now?: MonotonicSeconds;
}

/** What the scrape reads of the executor at that moment. */
export interface ExecutorMetricsSnapshot {
  instanceStates: readonly LocalServiceInstanceState[];
}

export class ExecutorMetrics implements InstanceMetrics {
  readonly registry = new Registry();
  private readonly now: MonotonicSeconds;
  private readonly instances: Gauge;
  private readonly cpu: Counter;
  private readonly memory: Gauge;
  private readonly memoryLimit: Gauge;
  private readonly statsFailures: Counter;
  private readonly pullDuration: Histogram;
  private readonly checkDuration: Histogram;
  private readonly starts: Counter;
  private readonly failures: Counter;
  private readonly restarts: Counter;
  /** CPU seconds last read per instance: the counter grows by the difference. */
  private readonly cpuSeen = new Map<string, { service: string; seconds: number }>();
  /** Services whose last instance here failed: the next instance started here for one is a restart. */
  private readonly failedServices = new Set<string>();

  constructor(options: ExecutorMetricsOptions = {}) {
    this.now = options.now ?? monotonicSeconds;
    const registers = [this.registry];
    this.instances = new Gauge({ name: 'drove_executor_instances', help: 'Instances on this executor by state', labelNames: ['state'], registers });
    this.cpu = new Counter({
      name: 'drove_executor_instance_cpu_seconds_total',
      help: 'CPU time used by the instance container, user and system (Docker stats API, read every containerStatsInterval)',
      labelNames: ['service', 'instance_id'],
      registers,
    });
    this.memory = new Gauge({
      name: 'drove_executor_instance_memory_bytes',
      help: 'Memory used by the instance container without reclaimable page cache, as docker stats shows it',
      labelNames: ['service', 'instance_id'],
      registers,
    });
    this.memoryLimit = new Gauge({
      name: 'drove_executor_instance_memory_limit_bytes',
      help: 'Memory limit of the instance container',
      labelNames: ['service', 'instance_id'],
      registers,
    });
    this.statsFailures = new Counter({ name: 'drove_executor_container_stats_failures_total', help: 'Docker stats reads that failed', registers });
    this.pullDuration = new Histogram({
      name: 'drove_executor_image_pull_duration_seconds',
      help: 'Image pulls by outcome (success, failure, aborted by a stop request)',
      labelNames: ['outcome'],
      buckets: PULL_BUCKETS,
      registers,
    });
    this.checkDuration = new Histogram({
      name: 'drove_executor_check_duration_seconds',
      help: 'Readiness and health probes by check, mode (HTTP, CMD) and result (pass, fail); failures are the fail count',
      labelNames: ['check', 'mode', 'result'],
      buckets: CHECK_BUCKETS,
      registers,
    });
    this.starts = new Counter({
      name: 'drove_executor_instance_starts_total',
      help: 'Instances started on this executor (re-adopted ones after an executor restart not included)',
      labelNames: ['service'],
      registers,
    });
    this.failures = new Counter({
      name: 'drove_executor_instance_failures_total',
      help: 'Instances that failed here, by the state they entered (PROVISIONING_FAILED, START_FAILED, READINESS_CHECK_FAILED, UNHEALTHY, LOST)',
      labelNames: ['service', 'state'],
      registers,
    });
    this.restarts = new Counter({
      name: 'drove_executor_instance_restarts_total',
      help: 'Instances started here for a service whose previous instance here had failed: its replacements',
      labelNames: ['service'],
      registers,
    });
    if (options.processMetrics) registerProcessMetrics(this.registry);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(snapshot: ExecutorMetricsSnapshot | undefined): Promise<string> {
    this.instances.reset();
    if (snapshot) {
      const counts = new Map<LocalServiceInstanceState, number>(LOCAL_SERVICE_INSTANCE_STATES.map((s) => [s, 0]));
      for (const state of snapshot.instanceStates) counts.set(state, counts.get(state)! + 1);
      for (const [state, count] of counts) this.instances.set({ state }, count);
    }
    return this.registry.metrics();
  }

  // ---- InstanceMetrics ----

  pullStarted(): (outcome: PullOutcome) => void {
    const started = this.now();
    return (outcome) => this.pullDuration.observe({ outcome }, this.now() - started);
  }

  checkStarted(check: CheckKind, mode: string): (healthy: boolean) => void {
    const started = this.now();
    return (healthy) => this.checkDuration.observe({ check, mode, result: healthy ? 'pass' : 'fail' }, this.now() - started);
  }

  // ---- instance changes (InstanceEngine.onChange: one call per state entered) ----

  instanceChanged(info: LocalServiceInstanceInfo): void {
    const service = info.serviceId;
    if (info.state === 'PENDING') {
      this.starts.inc({ service });
      if (this.failedServices.delete(service)) this.restarts.inc({ service });
    }
    if (INSTANCE_FAILED_STATES.has(info.state)) {
      this.failures.inc({ service, state: info.state });
      this.failedServices.add(service);
    }
  }

  // ---- container stats (stats.ts) ----

  containerStats(service: string, instanceId: string, stats: ContainerStats): void {
    const labels = { service, instance_id: instanceId };
    const previous = this.cpuSeen.get(instanceId)?.seconds ?? 0;
    // A reading below the last one means the counter restarted (a re-adopted container's cgroup): count from 0 again.
    const increase = stats.cpuSeconds >= previous ? stats.cpuSeconds - previous : stats.cpuSeconds;
    this.cpu.inc(labels, increase);
    this.cpuSeen.set(instanceId, { service, seconds: stats.cpuSeconds });
    this.memory.set(labels, stats.memoryBytes);
    if (stats.memoryLimitBytes !== undefined) this.memoryLimit.set(labels, stats.memoryLimitBytes);
  }

  containerStatsFailed(): void {
    this.statsFailures.inc();
  }

  /** Drops the series of instances not in `live` (they ended), so ended instances do not stay exposed forever. */
  keepContainerStatsOf(live: ReadonlySet<string>): void {
    for (const [instanceId, { service }] of this.cpuSeen) {
      if (live.has(instanceId)) continue;
      const labels = { service, instance_id: instanceId };
      this.cpu.remove(labels);
      this.memory.remove(labels);
      this.memoryLimit.remove(labels);
      this.cpuSeen.delete(instanceId);
    }
  }
}
