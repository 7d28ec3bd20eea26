import { createParser } from 'eventsource-parser';
import type { DroveEvent, DroveEventsList } from '../../src/model/events.js';
import { EVENT_STREAM_PATH, STREAM_SILENCE_MS } from '../../src/model/event-stream.js';
import { authHeaders, get, queryString } from './api.js';

/**
 * The console's one live connection (docs/console.md#live-updates): the controller's event stream, read with
 * fetch() and a streaming parser because EventSource cannot send an Authorization header. Pages subscribe and
 * re-read what an event touches; nothing polls on a timer while the stream is up.
 *
 * A dropped stream is resumed with `Last-Event-ID`. Where the controller cannot promise that nothing was lost
 * (`event: lost`: it restarted, another controller leads, the id is past its retention) or the console had no id
 * to resume from, subscribers are told to re-read everything (`resync`) and the header says that events may be
 * missing. A controller without the stream (its path answers 404 or 400: Drove, an older drove-ts) is polled
 * through the events API instead; a drove-ts follower's 400 ("not the leader") is no such answer, since its
 * events API refuses as well: the console says who leads and tries the stream again.
 */

/** Fallback polling: often enough that a rollout looks live, rare enough that 50 open consoles cost nothing. */
const POLL_INTERVAL_MS = 2_000;
/** Reconnect after a dropped stream: at once first, then backing off to this. */
const MAX_RETRY_MS = 10_000;
/** A refusal for too many streams (429) says when to come back; without a Retry-After, the controller's 5 s. */
const DEFAULT_RETRY_AFTER_MS = 5_000;
/** Drove's answer on a follower (docs/events.md): the stream and the events API both refuse there. */
const NOT_LEADER = 'This node is not the leader controller';

export type FeedStatus = 'connecting' | 'live' | 'polling' | 'down';

/** Why the console's events may be incomplete, for the header; undefined once the user has read it. */
export interface FeedNotice {
  /** When the console learnt it (epoch ms, this browser's clock). */
  at: number;
  text: string;
}

export interface FeedListener {
  event?: (event: DroveEvent) => void;
  /** Something may have been missed: re-read. */
  resync?: () => void;
  status?: (status: FeedStatus, detail: string) => void;
  notice?: (notice: FeedNotice | undefined) => void;
}

/** One start() to stop(): what its loops share. A stop or a new start leaves the loops of the old run idle. */
interface Run {
  abort: AbortController;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** The id of the last message the stream sent; undefined until one came. */
  lastEventId: string | undefined;
  /** A stream of this run has been open before: a new one must resume. */
  connectedBefore: boolean;
  retryMs: number;
  /** The newest event time the poll has seen; undefined until the first poll asked the controller for it. */
  pollSince: number | undefined;
  /** Ids of the events of the last poll: the next one asks from one millisecond earlier and skips these. */
  polledIds: Set<string>;
}

export class EventFeed {
  private readonly listeners = new Set<FeedListener>();
  private run: Run | undefined;
  private currentStatus: FeedStatus = 'connecting';
  private detail = '';
  private currentNotice: FeedNotice | undefined;

  get status(): FeedStatus {
    return this.currentStatus;
  }

  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    listener.status?.(this.currentStatus, this.detail);
    listener.notice?.(this.currentNotice);
    return () => void this.listeners.delete(listener);
  }

  /** Opens the stream (once per page: a second start while running does nothing). */
  start(): void {
    if (this.run) return;
    const run: Run = {
      abort: new AbortController(),
      timer: undefined,
      lastEventId: undefined,
      connectedBefore: false,
      retryMs: 0,
      pollSince: undefined,
      polledIds: new Set(),
    };
    this.run = run;
    this.setStatus('connecting', 'connecting to the event stream');
    void this.connect(run);
  }

  /** Closes the stream (logout, leaving the page); a later start() begins afresh. */
  stop(): void {
    const run = this.run;
    if (!run) return;
    this.run = undefined;
    run.abort.abort();
    if (run.timer) clearTimeout(run.timer);
    this.setNotice(undefined);
    // Whoever shows the status next must not see this run's.
    this.setStatus('connecting', 'not connected');
  }

  dismissNotice(): void {
    this.setNotice(undefined);
  }

  private setStatus(status: FeedStatus, detail: string): void {
    this.currentStatus = status;
    this.detail = detail;
    for (const l of this.listeners) l.status?.(status, detail);
  }

  private setNotice(notice: FeedNotice | undefined): void {
    this.currentNotice = notice;
    for (const l of this.listeners) l.notice?.(notice);
  }

  private emit(event: DroveEvent): void {
    for (const l of this.listeners) l.event?.(event);
  }

  /** Everything is read again; `missing` says why events may have been missed (none on the first connection). */
  private resync(missing?: string): void {
    if (missing) this.setNotice({ at: Date.now(), text: `Events may be missing: ${missing}. The page was read again.` });
    for (const l of this.listeners) l.resync?.();
  }

  private later(run: Run, fn: () => void, ms: number): void {
    if (this.run !== run) return;
    run.timer = setTimeout(fn, ms);
  }

  private async connect(run: Run): Promise<void> {
    if (this.run !== run) return;
    // Each connection has its own abort, so that a silent one can be given up without stopping the run.
    const connection = new AbortController();
    const giveUp = () => connection.abort();
    run.abort.signal.addEventListener('abort', giveUp);
    let silence: ReturnType<typeof setTimeout> | undefined;
    const heard = () => {
      if (silence) clearTimeout(silence);
      silence = setTimeout(giveUp, STREAM_SILENCE_MS);
    };
    const done = () => {
      if (silence) clearTimeout(silence);
      run.abort.signal.removeEventListener('abort', giveUp);
    };
    const resumeFrom = run.lastEventId;
    let response: Response;
    try {
      heard();
      response = await fetch(EVENT_STREAM_PATH, {
        credentials: 'omit',
        cache: 'no-store',
        headers: { accept: 'text/event-stream', ...authHeaders(), ...(resumeFrom === undefined ? {} : { 'last-event-id': resumeFrom }) },
        signal: connection.signal,
      });
    } catch (error) {
      done();
      return this.retry(run, connection.signal.aborted ? 'the controller did not answer in time' : `the controller did not answer (${(error as Error).message})`);
    }
    if (response.status === 404 || response.status === 400) {
      const message = messageOf(await response.text().catch(() => ''));
      done();
      if (message.text === NOT_LEADER) {
        return this.retry(run, message.leader ? `this controller does not lead; the leader is ${message.leader}` : 'this controller does not lead');
      }
      this.setStatus('polling', `live updates every ${POLL_INTERVAL_MS / 1000} s (this controller has no event stream)`);
      return this.poll(run);
    }
    if (!response.ok || !response.body) {
      const message = messageOf(await response.text().catch(() => ''));
      done();
      const wait = response.status === 429 ? retryAfterMs(response.headers.get('retry-after')) : undefined;
      return this.retry(run, `the event stream answered ${response.status} ${message.text}`.trimEnd(), wait);
    }
    if (this.run !== run) return done();
    run.retryMs = 0;
    this.setStatus('live', 'live updates from the event stream');
    if (!run.connectedBefore) this.resync();
    // No id to resume from: whatever happened while the stream was down is unknown.
    else if (resumeFrom === undefined) this.resync('the event stream dropped before it sent an event');
    run.connectedBefore = true;
    const parser = createParser({
      onEvent: (message) => {
        if (this.run !== run) return;
        if (message.id) run.lastEventId = message.id;
        if (message.event === 'lost') {
          this.resync('the controller could not resume the event stream where it broke (it restarted, another controller leads, or it no longer holds those events)');
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
        heard();
        const { done: ended, value } = await reader.read();
        if (ended) break;
        parser.feed(value);
      }
    } catch (error) {
      done();
      if (run.abort.signal.aborted) return;
      return this.retry(run, connection.signal.aborted ? `the event stream was silent for ${STREAM_SILENCE_MS / 1000} s` : `the event stream broke (${(error as Error).message})`);
    }
    done();
    return this.retry(run, 'the controller closed the event stream');
  }

  private retry(run: Run, why: string, waitMs?: number): void {
    if (this.run !== run) return;
    this.setStatus('down', `reconnecting: ${why}`);
    this.later(run, () => void this.connect(run), waitMs ?? run.retryMs);
    run.retryMs = Math.min(MAX_RETRY_MS, Math.max(500, run.retryMs * 2));
  }

  private async poll(run: Run): Promise<void> {
    if (this.run !== run) return;
    try {
      if (run.pollSince === undefined) {
        // The controller's clock, not ours: its newest event time is where the first poll starts.
        run.pollSince = (await get<DroveEventsList>(`/apis/v1/cluster/events/latest${queryString({ lastSyncTime: 0, size: 0 })}`, run.abort.signal)).lastSyncTime;
      }
      // "Newer than lastSyncTime" would skip an event stamped with the same millisecond as the last one seen.
      const since = Math.max(0, run.pollSince - 1);
      const page = await get<DroveEventsList>(`/apis/v1/cluster/events/latest${queryString({ lastSyncTime: since, size: 1024 })}`, run.abort.signal);
      if (this.run !== run) return;
      const events = [...page.events].filter((e) => !run.polledIds.has(e.id)).sort((a, b) => a.time - b.time);
      const newest = Math.max(run.pollSince, page.lastSyncTime);
      run.pollSince = newest;
      run.polledIds = new Set(page.events.filter((e) => e.time >= newest - 1).map((e) => e.id));
      for (const event of events) this.emit(event);
      if (this.currentStatus !== 'polling') {
        this.setStatus('polling', `live updates every ${POLL_INTERVAL_MS / 1000} s (this controller has no event stream)`);
        this.resync();
      }
    } catch (error) {
      if (this.run !== run) return;
      this.setStatus('down', `cannot read events: ${(error as Error).message}`);
    }
    this.later(run, () => void this.poll(run), POLL_INTERVAL_MS);
  }
}

/** The message of a Drove envelope, and the leader a follower names (`data.leader`). */
function messageOf(text: string): { text: string; leader?: string } {
  try {
    const body = JSON.parse(text) as { message?: unknown; data?: { leader?: unknown } };
    const leader = typeof body.data?.leader === 'string' ? body.data.leader : undefined;
    return { text: typeof body.message === 'string' ? body.message : '', ...(leader ? { leader } : {}) };
  } catch {
    return { text: '' };
  }
}

/** `Retry-After` in seconds (the controller's form); the controller's default when absent or not a number. */
function retryAfterMs(header: string | null): number {
  const seconds = Number(header);
  return header !== null && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : DEFAULT_RETRY_AFTER_MS;
}

/** The console's feed (one per page load). */
export const feed = new EventFeed();
