import { createParser } from 'eventsource-parser';
import type { DroveEvent, DroveEventsList } from '../../src/model/events.js';
import { authHeaders, get, queryString } from './api.js';

/**
 * The console's one live connection (docs/console.md, "Live updates"): the controller's event stream
 * `GET /apis/v1/cluster/events/stream` (docs/console.md#live-updates), read with fetch() and a streaming parser because
 * EventSource cannot send an Authorization header. Pages subscribe and re-read what an event touches; nothing
 * polls on a timer while the stream is up.
 *
 * A controller without the stream (404: an older drove-ts, or Drove itself) is polled instead through the
 * events API every POLL_INTERVAL_MS. A broken stream is resumed with the last event id; when the controller says
 * it lost events on the way (`event: lost`) or the connection was down, subscribers are told to re-read
 * everything (`resync`), since they may have missed a change.
 */

export const STREAM_PATH = '/apis/v1/cluster/events/stream';

/** Fallback polling: often enough that a rollout looks live, rare enough that 50 open consoles cost nothing. */
const POLL_INTERVAL_MS = 2_000;
/** Reconnect after a dropped stream: at once first, then backing off to this. */
const MAX_RETRY_MS = 10_000;

export type FeedStatus = 'connecting' | 'live' | 'polling' | 'down';

export interface FeedListener {
  event?: (event: DroveEvent) => void;
  /** Something may have been missed: re-read. */
  resync?: () => void;
  status?: (status: FeedStatus, detail: string) => void;
}

export class EventFeed {
  private readonly listeners = new Set<FeedListener>();
  private controller: AbortController | undefined;
  private lastEventId: string | undefined;
  /** The newest event time the poll has seen; undefined until the first poll asked the controller for it. */
  private pollSince: number | undefined;
  /** Ids of the events of the last poll: the next one asks from one millisecond earlier and skips these. */
  private polledIds = new Set<string>();
  private retryMs = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private currentStatus: FeedStatus = 'connecting';
  private detail = '';
  private stopped = true;

  get status(): FeedStatus {
    return this.currentStatus;
  }

  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    listener.status?.(this.currentStatus, this.detail);
    return () => void this.listeners.delete(listener);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private setStatus(status: FeedStatus, detail: string): void {
    this.currentStatus = status;
    this.detail = detail;
    for (const l of this.listeners) l.status?.(status, detail);
  }

  private emit(event: DroveEvent): void {
    for (const l of this.listeners) l.event?.(event);
  }

  private resync(): void {
    for (const l of this.listeners) l.resync?.();
  }

  private later(fn: () => void, ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(fn, ms);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.controller = new AbortController();
    const resumed = this.lastEventId !== undefined;
    let response: Response;
    try {
      response = await fetch(`${STREAM_PATH}${queryString({ lastEventId: this.lastEventId })}`, {
        credentials: 'omit',
        headers: { accept: 'text/event-stream', ...authHeaders() },
        signal: this.controller.signal,
      });
    } catch (error) {
      return this.retry(`the controller did not answer (${(error as Error).message})`);
    }
    if (response.status === 404) {
      // No stream on this controller: poll the events API, starting from now.
      this.setStatus('polling', `live updates every ${POLL_INTERVAL_MS / 1000} s (this controller has no event stream)`);
      return this.poll();
    }
    if (!response.ok || !response.body) {
      const text = await response.text().catch(() => '');
      return this.retry(`event stream answered ${response.status} ${messageOf(text)}`);
    }
    this.retryMs = 0;
    this.setStatus('live', 'live updates');
    // Whatever happened while we were away is unknown unless the controller resumed us without loss.
    if (!resumed) this.resync();
    const parser = createParser({
      onEvent: (message) => {
        if (message.id) this.lastEventId = message.id;
        if (message.event === 'lost') {
          this.resync();
          return;
        }
        try {
          this.emit(JSON.parse(message.data) as DroveEvent);
        } catch {
          // Not an event (a future message type): nothing to show.
        }
      },
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(value);
      }
    } catch (error) {
      if (this.stopped) return;
      return this.retry(`the event stream broke (${(error as Error).message})`);
    }
    return this.retry('the controller closed the event stream');
  }

  private retry(why: string): void {
    if (this.stopped) return;
    this.setStatus('down', `reconnecting: ${why}`);
    this.later(() => void this.connect(), this.retryMs);
    this.retryMs = Math.min(MAX_RETRY_MS, Math.max(500, this.retryMs * 2));
  }

  private async poll(): Promise<void> {
    if (this.stopped) return;
    try {
      if (this.pollSince === undefined) {
        // The controller's clock, not ours: its newest event time is where the first poll starts.
        this.pollSince = (await get<DroveEventsList>(`/apis/v1/cluster/events/latest${queryString({ lastSyncTime: 0, size: 0 })}`)).lastSyncTime;
      }
      // "Newer than lastSyncTime" would skip an event stamped with the same millisecond as the last one seen.
      const since = Math.max(0, this.pollSince - 1);
      const page = await get<DroveEventsList>(`/apis/v1/cluster/events/latest${queryString({ lastSyncTime: since, size: 1024 })}`);
      const events = [...page.events].filter((e) => !this.polledIds.has(e.id)).sort((a, b) => a.time - b.time);
      const newest = Math.max(this.pollSince, page.lastSyncTime);
      this.pollSince = newest;
      this.polledIds = new Set(page.events.filter((e) => e.time >= newest - 1).map((e) => e.id));
      for (const event of events) this.emit(event);
      if (this.currentStatus !== 'polling') {
        this.setStatus('polling', `live updates every ${POLL_INTERVAL_MS / 1000} s (this controller has no event stream)`);
        this.resync();
      }
    } catch (error) {
      this.setStatus('down', `cannot read events: ${(error as Error).message}`);
    }
    this.later(() => void this.poll(), POLL_INTERVAL_MS);
  }
}

function messageOf(text: string): string {
  try {
    const message = (JSON.parse(text) as { message?: unknown }).message;
    return typeof message === 'string' ? message : '';
  } catch {
    return '';
  }
}

/** The console's feed (one per page load). */
export const feed = new EventFeed();
