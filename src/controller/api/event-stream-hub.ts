import type { ServerResponse } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import type { Clock, DroveEvent, DroveEventType } from '../../model/index.js';
import type { EventFeed } from '../events.js';
import { HEARTBEAT, eventMessage, lostMessage, randomStreamTag, streamId, timeOfStreamId } from './sse.js';

/**
 * The open event streams of one controller API (docs/events.md). Every connection reads the event log through
 * its own cursor and writes only while its socket takes data: the log is the buffer, so a slow client costs the
 * controller a cursor and at most WRITE_CHUNK_BYTES of unsent data, and emitting an event never waits for a
 * client. A client that stops taking data while events for it keep coming is cut off (maxLagBytes); every
 * stream ends when the log forgets its events (leadership change, shutdown).
 */

export interface EventStreamLimits {
  maxStreams: number;
  heartbeatMs: number;
  maxLagBytes: number;
}

/** Which events a client asked for; an absent set means all. */
export interface EventFilter {
  types?: ReadonlySet<DroveEventType>;
  serviceIds?: ReadonlySet<string>;
}

/** Where a stream starts: new events only, everything held, or after an id a client saw (Last-Event-ID). */
export type StreamStart = { from: 'now' } | { from: 'start' } | { from: 'id'; id: number };

/**
 * A connection writes until this much is waiting in its socket, then waits for 'drain'. Four times Node's
 * default high-water mark: enough to keep a fast reader busy between drains, small enough that hundreds of
 * stalled clients hold only tens of MiB.
 */
export const WRITE_CHUNK_BYTES = 64 * 1024;

/** Events read from the log per step of a catch-up, so a long replay never copies the whole log at once. */
const READ_BATCH = 256;

export class EventStreamHub {
  private readonly connections = new Set<EventStreamConnection>();
  /** Each event's SSE message, built once for all connections. */
  private readonly messages = new WeakMap<DroveEvent, string>();
  /** Marks this log's ids (sse.ts). */
  readonly tag = randomStreamTag();
  private attached: { feed: EventFeed; detach: () => void } | undefined;
  private cancelHeartbeat: (() => void) | undefined;
  private cutOffCount = 0;

  constructor(
    private readonly clock: Clock,
    readonly limits: EventStreamLimits,
  ) {}

  get size(): number {
    return this.connections.size;
  }

  /** Connections closed because they fell behind (tests, and the figure in the cut-off log line). */
  get cutOff(): number {
    return this.cutOffCount;
  }

  /** Connections whose socket is full (waiting for 'drain'): clients that do not keep up right now. */
  waitingCount(): number {
    let waiting = 0;
    for (const connection of this.connections) if (connection.waitingForDrain) waiting++;
    return waiting;
  }

  /** Largest unsent data any open connection holds right now (tests assert the bound). */
  largestBuffer(): number {
    let largest = 0;
    for (const connection of this.connections) largest = Math.max(largest, connection.buffered);
    return largest;
  }

  full(): boolean {
    return this.connections.size >= this.limits.maxStreams;
  }

  /** Starts streaming to `response` (headers already sent by the caller). */
  open(feed: EventFeed, response: ServerResponse, filter: EventFilter, start: StreamStart, log: FastifyBaseLogger): void {
    // A client gone before this point would never send 'close' again: it must not hold a place.
    if (!response.socket || response.socket.destroyed) return;
    this.attach(feed);
    const connection = new EventStreamConnection(this, feed, response, filter, log);
    this.connections.add(connection);
    response.once('close', () => {
      connection.closed = true;
      this.connections.delete(connection);
      if (this.connections.size === 0) this.stopHeartbeat();
    });
    this.startHeartbeat();
    connection.begin(start);
  }

  /** Ends every stream: leadership changed (the log was cleared) or the server closes. */
  closeAll(): void {
    for (const connection of [...this.connections]) connection.close();
  }

  detach(): void {
    this.closeAll();
    this.attached?.detach();
    this.attached = undefined;
    this.stopHeartbeat();
  }

  message(event: DroveEvent): string {
    let text = this.messages.get(event);
    if (text === undefined) {
      text = eventMessage(streamId(event.time, this.tag), event);
      this.messages.set(event, text);
    }
    return text;
  }

  countCutOff(): number {
    return ++this.cutOffCount;
  }

  private attach(feed: EventFeed): void {
    if (this.attached?.feed === feed) return;
    this.attached?.detach();
    const unsubscribe = feed.subscribe((event) => {
      for (const connection of this.connections) connection.onEvent(event);
    });
    const unreset = feed.onReset(() => this.closeAll());
    this.attached = {
      feed,
      detach: () => {
        unsubscribe();
        unreset();
      },
    };
  }

  private startHeartbeat(): void {
    if (this.cancelHeartbeat) return;
    this.cancelHeartbeat = this.clock.setTimer(() => {
      this.cancelHeartbeat = undefined;
      for (const connection of this.connections) connection.heartbeat();
      if (this.connections.size > 0) this.startHeartbeat();
    }, this.limits.heartbeatMs);
  }

  private stopHeartbeat(): void {
    this.cancelHeartbeat?.();
    this.cancelHeartbeat = undefined;
  }
}

class EventStreamConnection {
  closed = false;
  /** Time of the last event written or passed over (the filter did not match). */
  private cursor = 0;
  /** Waiting for 'drain': the socket holds WRITE_CHUNK_BYTES or more. */
  private waiting = false;
  /** Bytes of events for this client emitted while it was waiting. */
  private behind = 0;

  constructor(
    private readonly hub: EventStreamHub,
    private readonly feed: EventFeed,
    private readonly response: ServerResponse,
    private readonly filter: EventFilter,
    private readonly log: FastifyBaseLogger,
  ) {
    // A write to a socket the peer reset is reported here; 'close' follows and ends the connection.
    response.on('error', () => undefined);
  }

  get buffered(): number {
    return this.response.writableLength;
  }

  get waitingForDrain(): boolean {
    return this.waiting;
  }

  begin(start: StreamStart): void {
    const horizon = this.feed.horizon();
    if (start.from === 'now') {
      this.cursor = this.feed.newestTime();
    } else if (start.from === 'start') {
      this.cursor = horizon;
    } else {
      const time = timeOfStreamId(start.id, this.hub.tag);
      // An id of this log within what it holds resumes exactly; anything else (another controller's id, one from
      // before a sweep or a leadership change, one this log never issued) cannot be vouched for.
      if (time !== undefined && time >= horizon && time <= this.feed.newestTime()) {
        this.cursor = time;
      } else {
        this.write(lostMessage(start.id, this.oldestHeldId()));
        this.cursor = horizon;
      }
    }
    this.pump();
  }

  onEvent(event: DroveEvent): void {
    if (this.closed) return;
    if (!this.waiting) return this.pump();
    if (!this.matches(event)) return;
    this.behind += Buffer.byteLength(this.hub.message(event));
    if (this.response.writableLength + this.behind > this.hub.limits.maxLagBytes) this.cutOff();
  }

  heartbeat(): void {
    // A stalled socket gains nothing from more bytes; a moving one shows life through its events.
    if (!this.closed && !this.waiting) this.response.write(HEARTBEAT);
  }

  /** Orderly end (what was written still goes out); a stalled socket would never flush, so it is destroyed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.waiting) this.response.destroy();
    else this.response.end();
  }

  /** Writes what the log holds after the cursor until the socket is full or the client is caught up. */
  private pump(): void {
    if (this.closed || this.waiting) return;
    const horizon = this.feed.horizon();
    // The log swept events this client had not been sent yet (it lagged past the retention).
    if (this.cursor < horizon) {
      this.write(lostMessage(streamId(this.cursor, this.hub.tag), this.oldestHeldId()));
      this.cursor = horizon;
    }
    for (;;) {
      const batch = this.feed.after(this.cursor, READ_BATCH);
      if (batch.length === 0) return;
      for (const event of batch) {
        this.cursor = event.time;
        if (!this.matches(event)) continue;
        this.write(this.hub.message(event));
        if (this.response.writableLength >= WRITE_CHUNK_BYTES) return this.waitForDrain();
      }
    }
  }

  private waitForDrain(): void {
    this.waiting = true;
    this.behind = 0;
    this.response.once('drain', () => {
      this.waiting = false;
      this.behind = 0;
      this.pump();
    });
  }

  private cutOff(): void {
    const count = this.hub.countCutOff();
    this.log.warn(
      { unsentBytes: this.response.writableLength + this.behind, limitBytes: this.hub.limits.maxLagBytes, cutOffSoFar: count },
      'event stream client cut off: it does not take the events sent to it',
    );
    this.closed = true;
    this.response.destroy();
  }

  private write(text: string): void {
    this.response.write(text);
  }

  private matches(event: DroveEvent): boolean {
    const { types, serviceIds } = this.filter;
    if (types && !types.has(event.type)) return false;
    if (!serviceIds) return true;
    const serviceId = event.metadata.LOCAL_SERVICE_ID ?? event.metadata.SERVICE_ID;
    return serviceId !== undefined && serviceIds.has(String(serviceId));
  }

  private oldestHeldId(): number | null {
    const oldest = this.feed.after(this.feed.horizon(), 1)[0];
    return oldest ? streamId(oldest.time, this.hub.tag) : null;
  }
}
