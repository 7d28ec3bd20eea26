import type { FastifyInstance } from 'fastify';
import { DROVE_EVENT_TYPES, failure, systemClock, type Clock, type DroveEventType } from '../../model/index.js';
import { EVENT_STREAM_PATH } from '../../model/event-stream.js';
import type { ApiContext } from './context.js';
import { ApiError, commandValidationError } from './errors.js';
import { EventStreamHub, type EventFilter, type StreamStart } from './event-stream-hub.js';
import type { ControllerHttpLimits } from './limits.js';

/**
 * `GET /apis/v1/cluster/events/stream`: the event log as server-sent events (docs/events.md), filtered by event
 * type and service id, resumable with `Last-Event-ID` (or `?lastEventId=` for clients that cannot set headers).
 * Read access and the leader guard as for the poll APIs (`/apis/v1/cluster/events...`, which stay as Drove has
 * them); this path is not one of Drove's.
 */

type StreamQuery = { Querystring: { type?: string | string[]; serviceId?: string | string[]; lastEventId?: string | string[] } };

export interface EventStreamContext extends ApiContext {
  hub: EventStreamHub;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The open event streams (tests read their figures). */
    eventStreams: EventStreamHub;
  }
}

const KNOWN_TYPES: ReadonlySet<string> = new Set(DROVE_EVENT_TYPES);

/**
 * The hub of `app`'s event streams, on `app.eventStreams`. They end before the server closes: open streams
 * would otherwise hold close() until their clients leave.
 */
export function installEventStreams(
  app: FastifyInstance,
  limits: Pick<ControllerHttpLimits, 'maxEventStreams' | 'eventStreamHeartbeatMs' | 'eventStreamMaxLagBytes'>,
  clock: Clock = systemClock,
): EventStreamHub {
  const hub = new EventStreamHub(clock, {
    maxStreams: limits.maxEventStreams,
    heartbeatMs: limits.eventStreamHeartbeatMs,
    maxLagBytes: limits.eventStreamMaxLagBytes,
  });
  app.decorate('eventStreams', hub);
  app.addHook('preClose', async () => hub.detach());
  return hub;
}

export async function eventStreamRoutes(app: FastifyInstance, { core, hub }: EventStreamContext): Promise<void> {
  app.get<StreamQuery>(EVENT_STREAM_PATH, async (request, reply) => {
    const errors: string[] = [];
    const filter = parseFilter(request.query, errors);
    const start = parseStart(request.headers['last-event-id'], request.query.lastEventId, errors);
    if (errors.length > 0) throw commandValidationError(errors);
    if (hub.full()) {
      throw new ApiError(429, failure(`Too many event streams open (at most ${hub.limits.maxStreams}), retry in a moment`), { 'retry-after': '5' });
    }
    const feed = core.eventFeed();
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      // nginx buffers proxied responses unless told not to; a buffered stream delivers nothing until it is full.
      'x-accel-buffering': 'no',
    });
    if (request.method === 'HEAD') return raw.end();
    raw.flushHeaders();
    // Subscribed before anything is written, so the 200 a client sees means no event can fall between.
    hub.open(feed, raw, filter, start, request.log);
  });
}

function parseFilter(query: StreamQuery['Querystring'], errors: string[]): EventFilter {
  const types = values(query.type);
  for (const type of types) {
    if (!KNOWN_TYPES.has(type)) errors.push(`type: unknown event type "${type}" (known: ${DROVE_EVENT_TYPES.join(', ')})`);
  }
  const serviceIds = values(query.serviceId);
  if (serviceIds.some((id) => id === '')) errors.push('serviceId: must not be empty');
  return {
    ...(types.length > 0 ? { types: new Set(types as DroveEventType[]) } : {}),
    ...(serviceIds.length > 0 ? { serviceIds: new Set(serviceIds) } : {}),
  };
}

/** The header wins: a browser's EventSource sends it on every reconnect while its URL keeps the first query. */
function parseStart(header: string | string[] | undefined, query: string | string[] | undefined, errors: string[]): StreamStart {
  const [name, given] = header !== undefined ? ['Last-Event-ID', header] : ['lastEventId', query];
  if (given === undefined) return { from: 'now' };
  const list = values(given);
  if (list.length !== 1) {
    errors.push(`${name}: give one id, got ${list.length}`);
    return { from: 'now' };
  }
  const text = list[0]!.trim();
  const id = Number(text);
  if (!/^\d{1,16}$/.test(text) || !Number.isSafeInteger(id)) {
    errors.push(`${name}: must be a non-negative integer (the id of an event this stream sent, or 0 for all events held), got "${list[0]}"`);
    return { from: 'now' };
  }
  return id === 0 ? { from: 'start' } : { from: 'id', id };
}

function values(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}
