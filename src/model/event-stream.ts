/**
 * The controller's event stream as its clients see it (docs/events.md): the CLI, the web console and the
 * controller that serves it share these. Pure: the console's bundle imports this file.
 */

/** Not one of Drove's paths: a Drove controller answers it 404 (or 400), and clients poll its events API instead. */
export const EVENT_STREAM_PATH = '/apis/v1/cluster/events/stream';

/** The server sends a heartbeat every 15 s; three missed mean the connection is gone. */
export const STREAM_SILENCE_MS = 45_000;
