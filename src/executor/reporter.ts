import type { Logger } from 'pino';
import { RetryDelay } from '../model/backoff.js';
import type { Clock } from '../model/clock.js';
import type { ControllerMessage, ExecutorResourceSnapshot } from '../model/executor.js';
import type { LocalServiceInstanceInfo } from '../model/instance.js';
import type { ControllerClient } from './controller-client.js';

/**
 * Bound on undelivered reports while no leader answers (oldest dropped first): a few hundred instances going
 * through a full lifecycle fit; the heartbeat carries the current state of every live instance anyway.
 */
const MAX_PENDING_REPORTS = 10_000;

/**
 * Largest report message sent: half the controller's 1 MiB body limit (DEFAULT_BODY_LIMIT of its API), so that
 * a backlog goes out in several messages the leader accepts instead of one it refuses with 413 forever. A leader
 * with a lower limit answers 413 and the reporter halves the size from there on.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 512 * 1024;

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
  /** Report messages are cut to at most this many bytes of JSON (default DEFAULT_MAX_MESSAGE_BYTES). */
  maxMessageBytes?: number;
}

/**
 * Instance state reports (docs/design/executor-protocol.md#instance-reports): every change goes to the leader at
 * once; changes close together are batched (LOCAL_SERVICE_INSTANCE_STATE_REPORTS); undelivered reports are kept in
 * order and retried with backoff, so a terminal state reached while no leader answers is still reported later.
 */
export class Reporter {
  /** Every change in order: the leader turns each into an instance state-change event. */
  private pending: LocalServiceInstanceInfo[] = [];
  private readonly answeredFailures = new Map<string, number>();
  private cancelTimer: (() => void) | undefined;
  private inFlight: Promise<unknown> | undefined;
  private readonly retry: RetryDelay;
  /** Set while the leader is not taking reports: the pause before the next try. */
  private retryInMs: number | undefined;
  private closed = false;
  /** Shrinks on every 413, so that no message the leader refused as too large is ever sent again unchanged. */
  private messageBytes: number;

  constructor(
    private readonly client: ControllerClient,
    private readonly snapshot: () => ExecutorResourceSnapshot,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: ReporterOptions,
  ) {
    this.retry = new RetryDelay(options.retryInitialMs, options.retryMaxMs);
    this.messageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
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
        if (this.pending.length > 0) this.schedule(this.retryInMs ?? this.options.batchWindowMs);
      });
    }, ms);
  }

  /** The oldest pending reports that fit in one message beside `overhead` bytes (always at least one). */
  private takeChunk(overhead: number): { batch: LocalServiceInstanceInfo[]; bytes: number } {
    let bytes = overhead;
    let count = 0;
    while (count < this.pending.length) {
      const size = Buffer.byteLength(JSON.stringify(this.pending[count])) + 1;
      if (count > 0 && bytes + size > this.messageBytes) break;
      bytes += size;
      count++;
    }
    return { batch: this.pending.splice(0, count), bytes };
  }

  private async flush(): Promise<boolean> {
    if (this.pending.length === 0) return true;
    const header = this.client.header();
    const resourceSnapshot = this.snapshot();
    const overhead = Buffer.byteLength(JSON.stringify({ type: 'LOCAL_SERVICE_INSTANCE_STATE_REPORTS', header, resourceSnapshot, instanceInfos: [] }));
    const { batch, bytes } = this.takeChunk(overhead);
    const message: ControllerMessage =
      batch.length === 1
        ? { type: 'LOCAL_SERVICE_INSTANCE_STATE_REPORT', header, resourceSnapshot, instanceInfo: batch[0]! }
        : { type: 'LOCAL_SERVICE_INSTANCE_STATE_REPORTS', header, resourceSnapshot, instanceInfos: batch };
    const result = await this.client.send(message);
    this.logger.debug({ status: result.status, count: batch.length, states: batch.map((i) => i.state) }, 'instance reports sent');
    if (result.status === 'ACCEPTED') {
      this.delivered();
      for (const info of batch) this.answeredFailures.delete(info.instanceId);
      return true;
    }
    if (result.status === 'TOO_LARGE') {
      // The leader is there and answering: go on at once, with messages of half this size.
      this.delivered();
      if (batch.length === 1) {
        this.logger.error({ instanceId: batch[0]!.instanceId, state: batch[0]!.state, bytes }, 'report larger than the leader accepts; dropped');
        return true;
      }
      this.messageBytes = Math.floor(bytes / 2);
      this.logger.warn({ count: batch.length, bytes, nextMaxBytes: this.messageBytes }, 'leader refused the report message as too large; sending smaller ones');
      this.pending = [...batch, ...this.pending];
      return true;
    }
    this.retryInMs = this.retry.next();
    this.logger.warn({ status: result.status, reason: result.message, count: batch.length, retryInMs: this.retryInMs }, 'instance report not delivered; will retry');
    const again: LocalServiceInstanceInfo[] = [];
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
      again.push(info);
    }
    // Undelivered reports go back ahead of the ones that arrived meanwhile, keeping the order of changes.
    this.pending = [...again, ...this.pending];
    return false;
  }

  private delivered(): void {
    this.retryInMs = undefined;
    this.retry.reset();
  }

  /** Tries once more to deliver what is pending (message after message while the leader takes them), then stops. */
  async close(): Promise<void> {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    if (this.inFlight) await this.inFlight;
    this.closed = true;
    while (this.pending.length > 0 && (await this.flush()));
  }
}
