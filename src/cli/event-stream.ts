import { createParser } from 'eventsource-parser';
import type { DroveEvent } from '../model/index.js';
import type { DroveCallError, DroveClient } from './client.js';
import { EVENT_STREAM_PATH, STREAM_SILENCE_MS } from '../model/event-stream.js';

/**
 * The client side of the controller's event stream (docs/events.md): one connection, parsed with
 * eventsource-parser, until the server ends it or `signal` aborts. Commands that follow events (`cluster events
 * --follow`, `--wait`) build on this; a server without the stream (Drove) answers its path 404 or 400.
 */

export type StreamMessage =
  | { kind: 'event'; id: number; event: DroveEvent }
  | { kind: 'lost'; from: number; to: number | null };

export interface StreamRequest {
  types?: readonly string[];
  serviceIds?: readonly string[];
  /** Resume after this id (0: every event the controller holds); absent: new events only. */
  lastEventId?: number;
}

/**
 * `unsupported`: the server answered 404 or 400, with what it said: Drove has no event stream (its 404), and a
 * drove-ts follower answers 400 naming the leader. `ended`: the server closed the stream (leadership moved, the
 * controller stopped, or this client fell too far behind) or the connection broke. `stopped`: `signal` aborted
 * it. Any other refusal is thrown as the server's error.
 */
export type StreamOutcome = { outcome: 'unsupported'; refusal: DroveCallError } | { outcome: 'ended' | 'stopped' };

function parseData(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export async function followEventStream(
  client: DroveClient,
  request: StreamRequest,
  handlers: { onOpen?: () => void; onMessage: (message: StreamMessage) => void },
  signal: AbortSignal,
): Promise<StreamOutcome> {
  const query = new URLSearchParams();
  for (const type of request.types ?? []) query.append('type', type);
  for (const serviceId of request.serviceIds ?? []) query.append('serviceId', serviceId);
  const headers: Record<string, string> = request.lastEventId !== undefined ? { 'last-event-id': String(request.lastEventId) } : {};
  const path = `${EVENT_STREAM_PATH}${query.size > 0 ? `?${query}` : ''}`;
  let response;
  try {
    response = await client.openStream(path, headers, STREAM_SILENCE_MS, signal);
  } catch (error) {
    if (signal.aborted) return { outcome: 'stopped' };
    throw error;
  }
  if (response.statusCode === 404 || response.statusCode === 400) return { outcome: 'unsupported', refusal: await client.streamRefusal(response) };
  if (response.statusCode !== 200) throw await client.streamRefusal(response);
  handlers.onOpen?.();
  const parser = createParser({
    onEvent: (message) => {
      const data = parseData(message.data);
      // Not JSON: not a message of this protocol (a proxy's page, a server of another kind); passed over.
      if (data === undefined) return;
      if (message.event === 'lost') {
        const { from, to } = data as { from: number; to: number | null };
        handlers.onMessage({ kind: 'lost', from, to });
        return;
      }
      handlers.onMessage({ kind: 'event', id: Number(message.id), event: data as DroveEvent });
    },
  });
  // Streaming decode: a chunk may end inside a multi-byte character.
  const decoder = new TextDecoder();
  try {
    for await (const chunk of response.body) parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
  } catch {
    // A reset or a silence past STREAM_SILENCE_MS ends the stream like a close by the server.
  }
  return { outcome: signal.aborted ? 'stopped' : 'ended' };
}
