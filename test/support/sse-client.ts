import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { waitUntil } from './wait.js';

/**
 * Clients of the controller's event stream for tests, over real sockets: a reading client that parses what it
 * gets (eventsource-parser, as the CLI does), and a slow one that never reads.
 */

export interface StreamedEvent {
  id: number;
  type: string;
  event: { type: string; id: string; time: number; metadata: Record<string, string | number> };
}

export class SseClient {
  readonly messages: EventSourceMessage[] = [];
  comments = 0;
  ended = false;
  private constructor(
    readonly status: number,
    readonly headers: IncomingMessage['headers'],
    readonly body: string,
    private readonly req: ClientRequest,
    readonly closed: Promise<void>,
  ) {}

  /** Resolves once the response headers are in (and, for a non-200, the whole body). */
  static open(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = request(url, { method, headers: { accept: 'text/event-stream', ...headers } });
      req.on('error', reject);
      req.on('response', (res) => {
        let finish!: () => void;
        const closed = new Promise<void>((r) => (finish = r));
        if (res.statusCode !== 200) {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => {
            finish();
            resolve(new SseClient(res.statusCode ?? 0, res.headers, body, req, closed));
          });
          return;
        }
        const client = new SseClient(200, res.headers, '', req, closed);
        const parser = createParser({
          onEvent: (message) => client.messages.push(message),
          onComment: () => client.comments++,
        });
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => parser.feed(chunk));
        const done = () => {
          client.ended = true;
          finish();
        };
        res.on('end', done);
        res.on('close', done);
        res.on('error', done);
        resolve(client);
      });
      req.end();
    });
  }

  /** The Drove events received (not `lost` messages), in order. */
  events(): StreamedEvent[] {
    return this.messages
      .filter((m) => m.event !== 'lost')
      .map((m) => ({ id: Number(m.id), type: m.event ?? '', event: JSON.parse(m.data) as StreamedEvent['event'] }));
  }

  lost(): Array<{ from: number; to: number | null }> {
    return this.messages.filter((m) => m.event === 'lost').map((m) => JSON.parse(m.data) as { from: number; to: number | null });
  }

  lastId(): number | undefined {
    return this.events().at(-1)?.id;
  }

  async waitForEvents(count: number, timeoutMs = 20_000): Promise<StreamedEvent[]> {
    await waitUntil(`${count} streamed events`, () => this.events().length >= count, {
      timeoutMs,
      detail: () => `got ${this.events().length}`,
    });
    return this.events();
  }

  /** Disconnects (the server sees the socket close). */
  close(): void {
    this.req.destroy();
  }
}

/**
 * A client that sends its request and never reads a byte: the server's writes fill the kernel buffers, then its
 * own. A paused socket does not see the server close it either, so `readToEnd()` resumes reading and resolves
 * when the connection ends: promptly for a connection the server closed, never for one it keeps open.
 */
export class StalledClient {
  readonly socket: Socket;
  private readonly closed: Promise<void>;
  received = 0;

  constructor(port: number, path: string, headers: Record<string, string>) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.pause();
    const lines = [`GET ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Accept: text/event-stream'];
    for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
    this.socket.on('connect', () => this.socket.write(`${lines.join('\r\n')}\r\n\r\n`));
    this.socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  /** Reads (and counts) whatever is pending until the connection ends. */
  readToEnd(): Promise<void> {
    this.socket.on('data', (chunk: Buffer) => (this.received += chunk.length));
    this.socket.resume();
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
