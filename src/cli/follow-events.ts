import type { DroveEvent, DroveEventsList } from '../model/index.js';
import type { DroveCallError, DroveClient } from './client.js';
import type { Interrupt } from './commands/lsinstances.js';
import { followEventStream, type StreamMessage } from './event-stream.js';

/**
 * `drove cluster events --follow`: the newest `count` events first (as the one-off command shows them, oldest
 * first), then every new one as it happens, each once. From the controller's event stream where there is one
 * (drove-ts), by polling `/apis/v1/cluster/events/latest` every second where there is none (Drove).
 */

export interface FollowOptions {
  type?: string;
  count: number;
  print: (event: DroveEvent) => void;
  /** Messages that are not events (lost events, reconnects): stderr. */
  note: (text: string) => void;
}

/** How long a broken stream is reconnected before the command gives up: a leader election takes seconds. */
const RECONNECT_FOR_MS = 30_000;
const RECONNECT_EVERY_MS = 1_000;
const POLL_EVERY_MS = 1_000;

export async function followEvents(client: DroveClient, options: FollowOptions, stop: Interrupt): Promise<void> {
  const streamed = await followStream(client, options, stop);
  if (streamed === 'unsupported') await followByPolling(client, options, stop);
}

async function followStream(client: DroveClient, options: FollowOptions, stop: Interrupt): Promise<'unsupported' | 'done'> {
  const types = options.type ? [options.type] : [];
  // Events streamed before the history is printed wait here; history events are not printed twice.
  let held: DroveEvent[] | undefined = [];
  const inHistory = new Set<string>();
  let lastId: number | undefined;
  let history: Promise<void> = Promise.resolve();
  // Ctrl-C, or a history that could not be read (the command then fails with its error).
  const abort = new AbortController();
  stop.signal.addEventListener('abort', () => abort.abort(), { once: true });
  let historyFailed: Error | undefined;
  const show = (event: DroveEvent) => {
    if (!inHistory.has(event.id)) options.print(event);
  };
  const onMessage = (message: StreamMessage) => {
    if (message.kind === 'lost') {
      options.note(`Events after id ${message.from} may be missing (the controller restarted, leadership moved, or they were older than its retention); going on from ${message.to ?? 'the next event'}`);
      return;
    }
    lastId = message.id;
    if (held) held.push(message.event);
    else show(message.event);
  };
  // Subscribed first, then the history: an event between the two is in one or both, and printed once.
  const onOpen = () => {
    history = (async () => {
      const page = await client.get<DroveEventsList>(`/apis/v1/cluster/events/latest?size=${options.count}&lastSyncTime=0`);
      const events = page.events.filter((e) => !options.type || e.type === options.type).reverse();
      for (const event of events) {
        inHistory.add(event.id);
        options.print(event);
      }
      for (const event of held ?? []) show(event);
      held = undefined;
    })().catch((error: unknown) => {
      historyFailed = error instanceof Error ? error : new Error(String(error));
      abort.abort();
    });
  };

  let result = await followEventStream(client, { types }, { onOpen, onMessage }, abort.signal);
  if (result.outcome === 'unsupported') return 'unsupported';
  await history;
  if (historyFailed) throw historyFailed;
  // The server ended the stream (leadership moved, the controller restarted, this client lagged): resume after
  // the last event seen, or from everything the (new) leader holds if none came yet.
  let giveUpAt = Date.now() + RECONNECT_FOR_MS;
  let refusal: DroveCallError | Error | undefined;
  while (result.outcome !== 'stopped' && !stop.stopped) {
    if (Date.now() > giveUpAt) throw refusal ?? new Error('The event stream could not be resumed');
    await stop.sleep(RECONNECT_EVERY_MS);
    if (stop.stopped) break;
    let opened = false;
    try {
      result = await followEventStream(client, { types, lastEventId: lastId ?? 0 }, { onOpen: () => (opened = true), onMessage }, abort.signal);
      if (result.outcome === 'unsupported') refusal = result.refusal;
    } catch (error) {
      refusal = error as Error;
      result = { outcome: 'ended' };
    }
    if (opened) giveUpAt = Date.now() + RECONNECT_FOR_MS;
  }
  return 'done';
}

/** Drove's way: the server's lastSyncTime is handed back (not the client clock, as Drove's CLI does), so nothing is lost or repeated. */
async function followByPolling(client: DroveClient, options: FollowOptions, stop: Interrupt): Promise<void> {
  let lastSyncTime = 0;
  while (!stop.stopped) {
    const page = await client.get<DroveEventsList>(`/apis/v1/cluster/events/latest?size=${options.count}&lastSyncTime=${lastSyncTime}`);
    lastSyncTime = page.lastSyncTime;
    const events = options.type ? page.events.filter((e) => e.type === options.type) : page.events;
    for (const event of [...events].reverse()) options.print(event);
    await stop.sleep(POLL_EVERY_MS);
  }
}
