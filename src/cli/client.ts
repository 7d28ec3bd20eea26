import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Agent, request, type Dispatcher } from 'undici';
import type { ClusterConnection } from './config.js';

/**
 * HTTP client for the controller's REST API. Unwraps Drove's envelope the way the Python CLI does (HTTP 200 and
 * `status == SUCCESS` required), but keeps the server's message and every validation error for display.
 */

export class DroveCallError extends Error {
  constructor(
    message: string,
    readonly httpStatus: number | undefined,
    readonly validationErrors: string[] = [],
    readonly leader?: string,
  ) {
    super(message);
    this.name = 'DroveCallError';
  }
}

/** No answer at all: connection refused, DNS, TLS, or a request that timed out. */
export class DroveUnreachableError extends DroveCallError {
  constructor(message: string) {
    super(message, undefined);
    this.name = 'DroveUnreachableError';
  }
}

interface Envelope {
  status?: unknown;
  message?: unknown;
  data?: unknown;
}

export class DroveClient {
  private readonly dispatcher: Dispatcher;

  constructor(private readonly connection: ClusterConnection) {
    this.dispatcher = new Agent({
      connect: { timeout: connection.timeoutMs, rejectUnauthorized: !connection.insecure },
      headersTimeout: connection.timeoutMs,
      bodyTimeout: connection.timeoutMs,
    });
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  /** A non-enveloped JSON call (log endpoints); any status but 200 is an error, as in the Python CLI. */
  async getRaw<T>(path: string): Promise<T> {
    const response = await this.send('GET', path);
    const text = await this.readText(response);
    if (response.statusCode !== 200) {
      throw new DroveCallError(describeRawFailure(response.statusCode, text), response.statusCode);
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new DroveCallError(`Server answered with a body that is not JSON: ${text.slice(0, 500)}`, 200);
    }
  }

  /**
   * Opens a server-sent event stream (docs/events.md). The body may stay silent for at most `silenceMs` (the
   * server sends heartbeats) before the read fails as a timeout; `signal` ends it (Ctrl-C).
   */
  openStream(path: string, headers: Record<string, string>, silenceMs: number, signal: AbortSignal): Promise<Dispatcher.ResponseData> {
    return this.send('GET', path, undefined, { headers: { accept: 'text/event-stream', ...headers }, bodyTimeout: silenceMs, signal });
  }

  /** Streams a GET to a file; returns the number of bytes written. */
  async download(path: string, file: string): Promise<number> {
    const response = await this.send('GET', path);
    if (response.statusCode !== 200) {
      const text = await response.body.text();
      throw new DroveCallError(describeRawFailure(response.statusCode, text), response.statusCode);
    }
    let size = 0;
    response.body.on('data', (chunk: Buffer) => {
      size += chunk.length;
    });
    await pipeline(response.body, createWriteStream(file));
    return size;
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const response = await this.send(method, path, body);
    const text = await this.readText(response);
    const envelope = parseEnvelope(text);
    const refusal = refusalOf(response.statusCode, text, envelope);
    if (refusal) throw refusal;
    const answer = envelope as Envelope;
    // The Python CLI hands the command `data` when the key exists, else the envelope (cancel relies on that).
    return ('data' in answer ? answer.data : answer) as T;
  }

  /** The error a non-200 answer of openStream stands for, as any other call reports it. */
  async streamRefusal(response: Dispatcher.ResponseData): Promise<DroveCallError> {
    const text = await this.readText(response);
    return refusalOf(response.statusCode, text, parseEnvelope(text)) ?? new DroveCallError(`[${response.statusCode}] ${text.slice(0, 500)}`, response.statusCode);
  }

  /** A body that stalls mid-way is a timeout like any other, reported the same way. */
  private async readText(response: Dispatcher.ResponseData): Promise<string> {
    try {
      return await response.body.text();
    } catch (error) {
      throw new DroveUnreachableError(`Reading the answer of ${this.connection.endpoint} failed: ${networkMessage(error)}`);
    }
  }

  private async send(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    extra: { headers?: Record<string, string>; bodyTimeout?: number; signal?: AbortSignal } = {},
  ): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = { accept: 'application/json', ...extra.headers };
    if (this.connection.username !== undefined && this.connection.password !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${this.connection.username}:${this.connection.password}`).toString('base64')}`;
    } else if (this.connection.authHeader) {
      headers.authorization = this.connection.authHeader;
    }
    let payload: string | undefined;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    const url = `${this.connection.endpoint}${path}`;
    if (this.connection.debug) process.stderr.write(`> ${method} ${url}${payload ? ` ${payload}` : ''}\n`);
    try {
      const response = await request(url, {
        method,
        headers,
        body: payload,
        dispatcher: this.dispatcher,
        ...(extra.bodyTimeout !== undefined ? { bodyTimeout: extra.bodyTimeout } : {}),
        ...(extra.signal ? { signal: extra.signal } : {}),
      });
      if (this.connection.debug) process.stderr.write(`< ${response.statusCode} ${method} ${url}\n`);
      return response;
    } catch (error) {
      if (extra.signal?.aborted) throw error;
      throw new DroveUnreachableError(`Cannot reach ${this.connection.endpoint}: ${networkMessage(error)}`);
    }
  }
}

function parseEnvelope(text: string): Envelope | undefined {
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Envelope) : undefined;
  } catch {
    return undefined;
  }
}

/** What a Drove envelope answer that is not 200 SUCCESS says, with every validation message; undefined if it is. */
function refusalOf(statusCode: number, text: string, envelope: Envelope | undefined): DroveCallError | undefined {
  if (!envelope) {
    const detail = text.trim() === '' ? '(empty body)' : text.slice(0, 500);
    return new DroveCallError(`[${statusCode}] ${detail}`, statusCode);
  }
  if (statusCode === 200 && envelope.status === 'SUCCESS') return undefined;
  const data = (envelope.data ?? {}) as { validationErrors?: unknown; leader?: unknown; failure?: unknown };
  const errors = Array.isArray(data.validationErrors) ? data.validationErrors.map(String) : [];
  const leader = typeof data.leader === 'string' ? data.leader : undefined;
  let message = typeof envelope.message === 'string' ? envelope.message : text.slice(0, 500);
  if (typeof data.failure === 'string') message += `: ${data.failure}`;
  if (leader) message += ` (the leader is ${leader}; point --endpoint at it)`;
  return new DroveCallError(
    statusCode === 200 ? message : `[${statusCode} - ${String(envelope.status)}] ${message}`,
    statusCode,
    errors,
    leader,
  );
}

function describeRawFailure(status: number, text: string): string {
  if (status === 204) return 'Drove call failed with status: 204 (no such instance, or its executor is gone)';
  return `Drove call failed with status: ${status}${text ? ` ${text.slice(0, 500)}` : ''}`;
}

function networkMessage(error: unknown): string {
  const e = error as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return `request timed out (${code})`;
  }
  if (code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'SELF_SIGNED_CERT_IN_CHAIN' || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE') {
    return `TLS certificate not trusted (${code}); use --insecure to skip verification`;
  }
  return `${e.cause?.message ?? e.message ?? String(error)}${code ? ` (${code})` : ''}`;
}
