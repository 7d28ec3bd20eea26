import type { Clock, ExecutorSummary, LocalServiceInstanceInfo, LocalServiceSpec, LocalServiceSummary } from '../../model/index.js';
import { DroveCallError, DroveUnreachableError, type DroveClient } from '../client.js';
import { OperationFailure } from '../exit-codes.js';
import { describeProgress, formatElapsed, type ProgressDisplay } from './display.js';
import { DEFAULT_FEED_OPTIONS, openEventFeed, type EventFeed } from './feed.js';
import { assess, DEFAULT_MAX_START_FAILURES, DEFAULT_START_GRACE_MS, newHistory, recordEvent, type Progress, type Snapshot, type Verdict, type WaitGoal } from './goal.js';

/**
 * `--wait`: looks at the service before the operation is submitted (what to replace, which instances are old),
 * opens the event feed (so nothing after the submission is missed), submits, then looks again whenever events
 * arrive or a tick passes, until the goal is met, the operation fails, or `--timeout` passes.
 */

export interface WaitRequest {
  serviceId: string;
  /** The command, for the display and messages: `activate`, `restart`, ... */
  operation: string;
  /** The goal, from the service as it was before the operation (e.g. the healthy instances a restart replaces). */
  goal: (before: Snapshot) => WaitGoal;
  timeoutMs: (goal: WaitGoal) => number;
  /** Posts the operation and prints that it was accepted. */
  submit: () => Promise<void>;
}

export interface WatchOptions {
  /** Display refresh and poll period: a second shows progress promptly and costs the leader nothing. */
  tickMs: number;
  /**
   * With the event stream, the read APIs are asked at least this often even when no event comes: the verdict
   * rests on them, and a stream can go quiet without breaking.
   */
  streamLookMs: number;
  startGraceMs: number;
  maxStartFailures: number;
}

export const DEFAULT_WATCH_OPTIONS: WatchOptions = {
  tickMs: 1_000,
  streamLookMs: 5_000,
  startGraceMs: DEFAULT_START_GRACE_MS,
  maxStartFailures: DEFAULT_MAX_START_FAILURES,
};

export interface WatchDeps {
  client: DroveClient;
  clock: Clock;
  display: ProgressDisplay;
  options?: WatchOptions;
}

export interface WaitResult {
  progress: Progress;
  elapsedMs: number;
  feed: EventFeed['kind'];
}

export async function takeSnapshot(client: DroveClient, serviceId: string): Promise<Snapshot> {
  const base = `/apis/v1/localservices/${encodeURIComponent(serviceId)}`;
  const absent = <T>(value: T) => (error: unknown) => {
    if (isNotFound(error)) return value;
    throw error;
  };
  const [summary, instances, executors, spec] = await Promise.all([
    client.get<LocalServiceSummary>(base).catch(absent(undefined)),
    client.get<LocalServiceInstanceInfo[]>(`${base}/instances`).catch(absent([])),
    client.get<ExecutorSummary[]>('/apis/v1/cluster/executors'),
    // For its placement policy: which executors the service runs on (Drove has the same path).
    client.get<LocalServiceSpec>(`${base}/spec`).catch(absent(undefined)),
  ]);
  return { summary, instances, executors, placementPolicy: spec?.placementPolicy };
}

/** Drove's read APIs say "no such service" with HTTP 200 and a FAILED envelope; a 404 means the same. */
export function isNotFound(error: unknown): boolean {
  return error instanceof DroveCallError && !(error instanceof DroveUnreachableError) && (error.httpStatus === 200 || error.httpStatus === 404);
}

export async function submitAndWait(deps: WatchDeps, request: WaitRequest): Promise<WaitResult> {
  const { client, clock, display } = deps;
  const options = deps.options ?? DEFAULT_WATCH_OPTIONS;
  const { serviceId } = request;
  const before = await takeSnapshot(client, serviceId);
  const goal = request.goal(before);
  const history = newHistory(before.instances);
  const feed = await openEventFeed(client, serviceId, { clock, ...DEFAULT_FEED_OPTIONS, pollIntervalMs: options.tickMs });
  try {
    await request.submit();
    const started = clock.now();
    const deadline = started + request.timeoutMs(goal);
    let latest: { progress: Progress; verdict: Verdict } | undefined;
    let lookedAt = Number.NEGATIVE_INFINITY;
    let dirty = true;
    let note: string | undefined;
    for (;;) {
      const now = clock.now();
      if (dirty || feed.kind === 'poll' || now - lookedAt >= options.streamLookMs) {
        try {
          const snapshot = await takeSnapshot(client, serviceId);
          latest = assess(goal, snapshot, history, {
            elapsedMs: clock.now() - started,
            startGraceMs: options.startGraceMs,
            maxStartFailures: options.maxStartFailures,
          });
          note = undefined;
        } catch (error) {
          // A controller restarting or failing over: keep trying until the deadline.
          if (!(error instanceof DroveUnreachableError)) throw error;
          note = `no answer from the controller, retrying: ${error.message}`;
        }
        lookedAt = now;
        dirty = false;
      }
      const elapsedMs = clock.now() - started;
      if (latest) display.show({ serviceId, operation: request.operation, elapsedMs, progress: latest.progress, note });
      if (latest?.verdict.status === 'done') {
        display.close();
        return { progress: latest.progress, elapsedMs, feed: feed.kind };
      }
      if (latest?.verdict.status === 'failed') {
        display.close();
        throw new OperationFailure(`${request.operation} ${serviceId} failed: ${latest.verdict.reason}`);
      }
      if (clock.now() >= deadline) {
        display.close();
        const where = latest ? `: ${describeProgress(latest.progress, true)}` : '';
        throw new OperationFailure(
          `Timed out after ${formatElapsed(elapsedMs)} waiting for ${request.operation} ${serviceId}${where}${note ? ` (${note})` : ''}; ` +
            'the operation goes on: look again with `drove localservices summary`',
        );
      }
      const batch = await feed.next(Math.max(0, Math.min(options.tickMs, deadline - clock.now())));
      for (const event of batch.events) recordEvent(history, serviceId, event);
      if (batch.events.length > 0 || batch.lost) dirty = true;
    }
  } finally {
    await feed.close();
  }
}
