import type { Logger } from 'pino';
import type { Clock } from '../model/clock.js';
import type { ControllerMessage, ExecutorResourceSnapshot } from '../model/executor.js';
import type { LocalServiceInstanceInfo } from '../model/instance.js';
import type { ControllerClient } from './controller-client.js';

/**
 * Bound on undelivered reports while no leader answers (oldest dropped first): a few hundred instances going
 * through a full lifecycle fit; the heartbeat carries the current state of every live instance anyway.
 */
const MAX_PENDING_REPORTS = 10_000;

export interface ReporterOptions {
  /** Changes within this window go out as one message. */
  batchWindowMs: number;
  /** First retry delay while the leader cannot be reached; doubles up to `retryMaxMs`. */
  retryInitialMs: number;
  retryMaxMs: number;
  /**
   * A report the leader answered (but did not accept) this many times is dropped: it will never be accepted,
   * and the next heartbeat carries the instance anyway. Unreachable leaders never drop reports.
   */
  maxAnsweredFailures: number;
}

/**
 * Instance state reports (§6.8): every change goes to the leader at once; changes close together are batched
 * (LOCAL_SERVICE_INSTANCE_STATE_REPORTS); undelivered reports are kept (latest per instance) and retried with
 * backoff, so a terminal state reached while no leader answers is still reported later.
 */
export class Reporter {
  /** Every change in order: the leader turns each into an instance state-change event. */
  private pending: LocalServiceInstanceInfo[] = [];
  private readonly answeredFailures = new Map<string, number>();
  private cancelTimer: (() => void) | undefined;
  private inFlight: Promise<void> | undefined;
  private retryDelay: number;
  private closed = false;

  constructor(
    private readonly client: ControllerClient,
    private readonly snapshot: () => ExecutorResourceSnapshot,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: ReporterOptions,
  ) {
    this.retryDelay = options.retryInitialMs;
  }

  report(info: LocalServiceInstanceInfo): void {
    if (this.closed) return;
    this.pending.push(info);
    if (this.pending.length > MAX_PENDING_REPORTS) this.pending.splice(0, this.pending.length - MAX_PENDING_REPORTS);
    this.schedule(this.options.batchWindowMs);
  }

  /** Reports not yet delivered (tests, diagnostics). */
  pendingCount(): number {
    return this.pending.length;
  }

  private schedule(ms: number): void {
    if (this.cancelTimer || this.inFlight || this.closed) return;
    this.cancelTimer = this.clock.setTimer(() => {
      this.cancelTimer = undefined;
      this.inFlight = this.flush().finally(() => {
        this.inFlight = undefined;
        if (this.pending.length > 0) this.schedule(this.lastFailed ? this.retryDelay : this.options.batchWindowMs);
      });
    }, ms);
  }

  private lastFailed = false;

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const header = this.client.header();
    const resourceSnapshot = this.snapshot();
    const message: ControllerMessage =
      batch.length === 1
        ? { type: 'LOCAL_SERVICE_INSTANCE_STATE_REPORT', header, resourceSnapshot, instanceInfo: batch[0]! }
        : { type: 'LOCAL_SERVICE_INSTANCE_STATE_REPORTS', header, resourceSnapshot, instanceInfos: batch };
    const result = await this.client.send(message);
    this.logger.debug({ status: result.status, count: batch.length, states: batch.map((i) => i.state) }, 'instance reports sent');
    if (result.status === 'ACCEPTED') {
      this.lastFailed = false;
      this.retryDelay = this.options.retryInitialMs;
      for (const info of batch) this.answeredFailures.delete(info.instanceId);
      return;
    }
    this.lastFailed = true;
    this.logger.warn({ status: result.status, reason: result.message, count: batch.length }, 'instance report not delivered; will retry');
    const retry: LocalServiceInstanceInfo[] = [];
    for (const info of batch) {
      if (result.status !== 'UNREACHABLE') {
        const failures = (this.answeredFailures.get(info.instanceId) ?? 0) + 1;
        if (failures >= this.options.maxAnsweredFailures) {
          this.answeredFailures.delete(info.instanceId);
          this.logger.error({ instanceId: info.instanceId, state: info.state }, 'leader keeps refusing this report; dropped');
          continue;
        }
        this.answeredFailures.set(info.instanceId, failures);
      }
      retry.push(info);
    }
    // Undelivered reports go back ahead of the ones that arrived meanwhile, keeping the order of changes.
    this.pending = [...retry, ...this.pending];
    this.retryDelay = Math.min(this.retryDelay * 2, this.options.retryMaxMs);
  }

  /** Tries to deliver what is pending once more, then stops. */
  async close(): Promise<void> {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    if (this.inFlight) await this.inFlight;
    this.closed = true;
    if (this.pending.length > 0) await this.flush();
  }
}
