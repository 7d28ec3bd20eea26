import { randomInt } from 'node:crypto';
import type { DroveEvent } from '../../model/index.js';

/**
 * The event stream's wire format (docs/events.md): server-sent events, one message per Drove event, ids that
 * order them, a `lost` message where a resume cannot be complete, and comment lines as heartbeats.
 */

/**
 * Stream ids are `<event time in ms><3-digit tag of this controller's log>`: times are strictly increasing in one
 * log, so ids are unique and ordered, and ids of another controller (or of an earlier run of this one) almost
 * always carry another tag, so a resume on the wrong log is recognised as one.
 */
const TAGS = 1000;

export function randomStreamTag(): number {
  return randomInt(TAGS);
}

export function streamId(time: number, tag: number): number {
  return time * TAGS + tag;
}

/** The event time an id names, when the id carries `tag`; undefined for an id of another log. */
export function timeOfStreamId(id: number, tag: number): number | undefined {
  return id % TAGS === tag ? Math.floor(id / TAGS) : undefined;
}

/** `data` is the event exactly as the poll API (`/apis/v1/cluster/events`) returns it, on one line. */
export function eventMessage(id: number, event: DroveEvent): string {
  return `id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * Sent before anything else when events after `from` (the id the client asked to resume after) may be missing:
 * every event from `to` on follows (null: this controller holds no event yet; all that follow are new).
 */
export function lostMessage(from: number, to: number | null): string {
  return `event: lost\ndata: ${JSON.stringify({ from, to })}\n\n`;
}

/** A comment line in a block of its own, so that parsers splitting on blank lines see it alone. */
export const HEARTBEAT = ': heartbeat\n\n';
