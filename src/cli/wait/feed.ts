import { sleep, type Clock, type DroveEvent, type DroveEventsList, type DroveEventType } from '../../model/index.js';
import { DroveCallError, DroveUnreachableError, type DroveClient } from '../client.js';
import { followEventStream, type StreamMessage, type StreamOutcome } from '../event-stream.js';

/**
 * The events a `--wait` reads between two looks at the service: the controller's server-sent event stream
 * (`GET /apis/v1/cluster/events/stream`) where the server has one, else the events poll API a Drove controller
 * has (`/apis/v1/cluster/events/latest`). Either way events only wake the watcher early and tell it what
 * happened between looks; what it decides rests on the read APIs (goal.ts), so a lost event costs a reason in
 * the display, never a wrong verdict.
 */

export interface FeedBatch {
  /** Oldest first. */
  events: DroveEvent[];
  /** Events were lost on the way (a resume the server could not serve, a poll page that overflowed). */
  lost: boolean;
}

export interface EventFeed {
  readonly kind: 'stream' | 'poll';
  /** What arrived since the last call; when nothing has, waits up to `ms` for something. */
  next(ms: number): Promise<FeedBatch>;
  close(): Promise<void>;
}

const POLL_PATH = '/apis/v1/cluster/events/latest';
const EVENT_TYPES: readonly DroveEventType[] = ['LOCAL_SERVICE_STATE_CHANGE', 'LOCAL_SERVICE_INSTANCE_STATE_CHANGE'];

export interface FeedOptions {
  clock: Clock;
  /** Between two polls of the events API: a second shows progress promptly and costs the leader nothing. */
  pollIntervalMs: number;
  /** Events asked for per poll; a full page means some may have been missed. */
  pollPageSize: number;
  /** Before reconnecting a stream that ended: long enough not to hammer a controller that is restarting. */
  reconnectDelayMs: number;
}

export const DEFAULT_FEED_OPTIONS: Omit<FeedOptions, 'clock'> = { pollIntervalMs: 1_000, pollPageSize: 1_024, reconnectDelayMs: 1_000 };

/**
 * Opens the stream, or falls back to polling when the path is unknown to the server (404) or refused as a bad
 * request without naming a leader (400): a controller that predates the stream. A 400 naming the leader is
 * this controller saying it is not the leader, and is thrown like any refusal.
 */
export async function openEventFeed(client: DroveClient, serviceId: string, options: FeedOptions): Promise<EventFeed> {
  try {
    return await StreamFeed.open(client, serviceId, options);
  } catch (error) {
    if (error instanceof DroveCallError && !(error instanceof DroveUnreachableError) && (error.httpStatus === 404 || (error.httpStatus === 400 && !error.leader))) {
      return PollFeed.open(client, serviceId, options);
    }
    throw error;
  }
}

class StreamFeed implements EventFeed {
  readonly kind = 'stream';
  private queue: DroveEvent[] = [];
  private lost = false;
  private wake: (() => void) | undefined;
  private lastEventId: number | undefined;
  private readonly abort = new AbortController();
  private pumping: Promise<void> = Promise.resolve();

  private constructor(
    private readonly client: DroveClient,
    private readonly serviceId: string,
    private readonly options: FeedOptions,
  ) {}

  /**
   * Resolves once the server has answered 200 with the stream, so that nothing sent after it is missed. A server
   * without the stream (404, or 400) is thrown as its refusal, for openEventFeed to fall back on polling.
   */
  static async open(client: DroveClient, serviceId: string, options: FeedOptions): Promise<StreamFeed> {
    const feed = new StreamFeed(client, serviceId, options);
    let opened!: () => void;
    const open = new Promise<undefined>((resolve) => {
      opened = () => resolve(undefined);
    });
    const first = feed.connect(opened);
    const before = await Promise.race([open, first]);
    // The stream gave up before it opened: its first answer was a refusal.
    if (before?.outcome === 'unsupported') throw before.refusal;
    feed.pumping = feed.pump(first);
    return feed;
  }

  async next(ms: number): Promise<FeedBatch> {
    if (this.queue.length === 0 && !this.lost) {
      await new Promise<void>((resolve) => {
        const cancel = this.options.clock.setTimer(() => resolve(), ms);
        this.wake = () => {
          cancel();
          resolve();
        };
      });
      this.wake = undefined;
    }
    const batch = { events: this.queue, lost: this.lost };
    this.queue = [];
    this.lost = false;
    return batch;
  }

  async close(): Promise<void> {
    this.abort.abort();
    this.wake?.();
    await this.pumping;
  }

  private connect(onOpen?: () => void): Promise<StreamOutcome> {
    const request = { types: EVENT_TYPES, serviceIds: [this.serviceId], ...(this.lastEventId !== undefined ? { lastEventId: this.lastEventId } : {}) };
    return followEventStream(this.client, request, { ...(onOpen ? { onOpen } : {}), onMessage: (message) => this.accept(message) }, this.abort.signal);
  }

  /** Reads until closed; a stream that ends or breaks is resumed from the last event id it delivered. */
  private async pump(first: Promise<StreamOutcome>): Promise<void> {
    let current: Promise<StreamOutcome> | undefined = first;
    while (!this.abort.signal.aborted) {
      try {
        await (current ?? this.connect());
      } catch {
        // Refused or unreachable: the watcher keeps looking at the read APIs meanwhile.
      }
      current = undefined;
      if (this.abort.signal.aborted) return;
      this.lost = true;
      this.wake?.();
      try {
        await sleep(this.options.clock, this.options.reconnectDelayMs, this.abort.signal);
      } catch {
        return;
      }
    }
  }

  private accept(message: StreamMessage): void {
    if (message.kind === 'lost') {
      this.lost = true;
    } else {
      this.lastEventId = message.id;
      this.queue.push(message.event);
    }
    this.wake?.();
  }
}

class PollFeed implements EventFeed {
  readonly kind = 'poll';

  private constructor(
    private readonly client: DroveClient,
    private readonly serviceId: string,
    private readonly options: FeedOptions,
    private lastSyncTime: number,
    /** False once the server refused the events API: the read APIs alone then drive the wait. */
    private enabled: boolean,
  ) {}

  /** Takes the server's newest event time as the start, so that only what happens from now on is read. */
  static async open(client: DroveClient, serviceId: string, options: FeedOptions): Promise<PollFeed> {
    try {
      const data = await client.get<DroveEventsList>(`${POLL_PATH}?size=1&lastSyncTime=0`);
      return new PollFeed(client, serviceId, options, data.lastSyncTime, true);
    } catch (error) {
      if (error instanceof DroveUnreachableError) throw error;
      return new PollFeed(client, serviceId, options, 0, false);
    }
  }

  async next(ms: number): Promise<FeedBatch> {
    await sleep(this.options.clock, Math.min(ms, this.options.pollIntervalMs));
    if (!this.enabled) return { events: [], lost: false };
    let data: DroveEventsList;
    try {
      data = await this.client.get<DroveEventsList>(`${POLL_PATH}?size=${this.options.pollPageSize}&lastSyncTime=${this.lastSyncTime}`);
    } catch (error) {
      if (error instanceof DroveUnreachableError) return { events: [], lost: true };
      this.enabled = false;
      return { events: [], lost: true };
    }
    this.lastSyncTime = data.lastSyncTime;
    const mine = data.events.filter((e) => e.metadata.LOCAL_SERVICE_ID === this.serviceId || e.metadata.SERVICE_ID === this.serviceId);
    // The API answers newest first.
    return { events: mine.reverse(), lost: data.events.length >= this.options.pollPageSize };
  }

  async close(): Promise<void> {}
}
