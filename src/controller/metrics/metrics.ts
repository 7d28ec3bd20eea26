import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LocalServiceOperationType } from '../../model/index.js';
import { monotonicSeconds, registerProcessMetrics, type MonotonicSeconds } from '../../model/process-metrics.js';
import type { ClusterMetricsSnapshot } from '../queries/metrics.js';
import type { ControllerMetricsHooks, JobKind, JobOutcome, OperationOutcome, PassResult } from './hooks.js';

/**
 * The controller's Prometheus metrics (README, "Monitoring", lists them; docs/metrics.md says how they are built).
 * Events are reported through the hooks (hooks.ts) by the engine, the reconciler, the store and the API as they
 * happen; the cluster's state (services, instances, executors, operations in flight) is not kept here but read from
 * the leader's view at every scrape (`render`), so the two can never disagree. Labels are bounded: service ids on
 * the state gauges only, route patterns (never raw URLs) on HTTP requests, no instance ids anywhere.
 */

/** Operations range from a record write (ms) to a rollout over a thousand hosts (minutes). */
const OPERATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];
/** A start job pulls an image and waits for health checks (seconds to minutes); a stop waits for the container's grace. */
const JOB_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];
/** A pass is in-memory planning over every service: well under a millisecond per service. */
const PASS_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** A SQLite transaction with fsync takes ~1 ms, an etcd transaction a network round trip and a raft commit. */
const STORE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** API calls answer from memory (ms); log downloads and proxied reads can take seconds. */
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export type StoreType = 'sqlite' | 'etcd';

export interface ControllerMetricsOptions {
  /** Adds the process and Node.js metrics (event-loop lag among them); once per registry, so off for embedded tests. */
  processMetrics?: boolean;
  /** Duration source; tests inject their own. */
  now?: MonotonicSeconds;
}

export class ControllerMetrics implements ControllerMetricsHooks {
  readonly registry = new Registry();
  private readonly now: MonotonicSeconds;

  private readonly leader: Gauge;
  private readonly maintenance: Gauge;
  private readonly serviceState: Gauge;
  private readonly serviceActivationState: Gauge;
  private readonly desired: Gauge;
  private readonly running: Gauge;
  private readonly healthy: Gauge;
  private readonly instances: Gauge;
  private readonly executors: Gauge;
  private readonly inFlight: Gauge;
  private readonly operationDuration: Histogram;
  private readonly jobDuration: Histogram;
  private readonly passDuration: Histogram;
  private readonly adjustments: Counter;
  private readonly storeWriteDuration: Histogram;
  private readonly electionsWon: Counter;
  private readonly stepDowns: Counter;
  private readonly httpDuration: Histogram;

  constructor(options: ControllerMetricsOptions = {}) {
    this.now = options.now ?? monotonicSeconds;
    const registers = [this.registry];
    const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers });
    this.leader = gauge('drove_leader', '1 while this controller is the leader, else 0');
    this.maintenance = gauge('drove_cluster_maintenance', '1 while the cluster is in maintenance mode (leader only)');
    this.serviceState = gauge('drove_local_service_state', 'Current state of the local service state machine, as a label (value 1; leader only)', ['service', 'state']);
    this.serviceActivationState = gauge(
      'drove_local_service_activation_state',
      'Activation state of the local service, as a label (value 1; leader only)',
      ['service', 'activation_state'],
    );
    this.desired = gauge('drove_local_service_instances_desired', 'Instances the reconciler aims at, as requiredInstances in the service summary: instancesPerHost on every eligible executor its tag constraint admits when ACTIVE, 1 when CONFIG_TESTING (leader only)', ['service']);
    this.running = gauge('drove_local_service_instances_running', 'Instances in UNREADY, READY or HEALTHY (leader only)', ['service']);
    this.healthy = gauge('drove_local_service_instances_healthy', 'HEALTHY instances: the healthyInstances of the service summary (leader only)', ['service']);
    this.instances = gauge('drove_local_service_instances', 'Instance records the leader holds, history included, by state (leader only)', ['service', 'state']);
    this.executors = gauge('drove_executors', 'Executors by state, REMOVED ones still remembered included (leader only)', ['state']);
    this.inFlight = gauge('drove_operations_in_flight', 'Operations accepted and not finished, by type (leader only)', ['type']);
    this.operationDuration = new Histogram({
      name: 'drove_operation_duration_seconds',
      help: 'Local service operations from acceptance to their end, by type and outcome (completed, cancelled, failed, ignored, aborted)',
      labelNames: ['type', 'outcome'],
      buckets: OPERATION_BUCKETS,
      registers,
    });
    this.jobDuration = new Histogram({
      name: 'drove_job_duration_seconds',
      help: 'Start and stop jobs of instances, retries included, by outcome (success, failure, aborted)',
      labelNames: ['job', 'outcome'],
      buckets: JOB_BUCKETS,
      registers,
    });
    this.passDuration = new Histogram({
      name: 'drove_reconciler_pass_duration_seconds',
      help: 'Reconciliation passes by result (completed, skipped in maintenance or disruption mode, failed); the count is the number of passes',
      labelNames: ['result'],
      buckets: PASS_BUCKETS,
      registers,
    });
    this.adjustments = new Counter({
      name: 'drove_reconciler_adjustments_total',
      help: 'ADJUST_INSTANCES operations the reconciler submitted: plans with instances to start or stop',
      registers,
    });
    this.storeWriteDuration = new Histogram({
      name: 'drove_store_write_duration_seconds',
      help: 'State store writes by store (sqlite, etcd), operation and outcome (success, failure)',
      labelNames: ['store', 'operation', 'outcome'],
      buckets: STORE_BUCKETS,
      registers,
    });
    this.electionsWon = new Counter({ name: 'drove_leader_elections_won_total', help: 'Leader terms this controller began', registers });
    this.stepDowns = new Counter({ name: 'drove_leader_step_downs_total', help: 'Leader terms of this controller that ended', registers });
    this.httpDuration = new Histogram({
      name: 'drove_http_request_duration_seconds',
      help: 'HTTP requests by method, route pattern ("unmatched" for unknown paths) and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: HTTP_BUCKETS,
      registers,
    });
    if (options.processMetrics) registerProcessMetrics(this.registry);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text, the state gauges set from `snapshot` (undefined: this controller does not lead). */
  render(snapshot: ClusterMetricsSnapshot | undefined): Promise<string> {
    this.setState(snapshot);
    return this.registry.metrics();
  }

  // ---- hooks ----

  operationStarted(type: LocalServiceOperationType): (outcome: OperationOutcome) => void {
    const started = this.now();
    return (outcome) => this.operationDuration.observe({ type, outcome }, this.now() - started);
  }

  jobStarted(job: JobKind): (outcome: JobOutcome) => void {
    const started = this.now();
    return (outcome) => this.jobDuration.observe({ job, outcome }, this.now() - started);
  }

  passStarted(): (result: PassResult, adjustments: number) => void {
    const started = this.now();
    return (result, adjustments) => {
      this.passDuration.observe({ result }, this.now() - started);
      if (adjustments > 0) this.adjustments.inc(adjustments);
    };
  }

  leadershipAcquired(): void {
    this.electionsWon.inc();
  }

  leadershipLost(): void {
    this.stepDowns.inc();
  }

  storeWriteStarted(store: StoreType, operation: string): (ok: boolean) => void {
    const started = this.now();
    return (ok) => this.storeWriteDuration.observe({ store, operation, outcome: ok ? 'success' : 'failure' }, this.now() - started);
  }

  /** `seconds` as the HTTP server measured it; `route` is the matched pattern, or undefined when none matched. */
  httpRequestFinished(method: string, route: string | undefined, statusCode: number, seconds: number): void {
    this.httpDuration.observe({ method, route: route ?? 'unmatched', status_code: String(statusCode) }, seconds);
  }

  private setState(snapshot: ClusterMetricsSnapshot | undefined): void {
    this.leader.set(snapshot ? 1 : 0);
    for (const g of [this.maintenance, this.serviceState, this.serviceActivationState, this.desired, this.running, this.healthy, this.instances, this.executors, this.inFlight]) {
      g.reset();
    }
    if (!snapshot) return;
    this.maintenance.set(snapshot.maintenance ? 1 : 0);
    for (const s of snapshot.services) {
      const service = s.serviceId;
      if (s.state) this.serviceState.set({ service, state: s.state }, 1);
      this.serviceActivationState.set({ service, activation_state: s.activationState }, 1);
      this.desired.set({ service }, s.desired);
      this.running.set({ service }, s.running);
      this.healthy.set({ service }, s.healthy);
      for (const [state, count] of Object.entries(s.instancesByState)) this.instances.set({ service, state }, count);
    }
    for (const [state, count] of Object.entries(snapshot.executorsByState)) this.executors.set({ state }, count);
    for (const [type, count] of Object.entries(snapshot.operationsInFlight)) this.inFlight.set({ type }, count);
  }
}
