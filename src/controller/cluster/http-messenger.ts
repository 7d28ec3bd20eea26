import { Agent, request } from 'undici';
import {
  CLUSTER_AUTH_HEADER,
  NODE_ID_HEADER,
  REQUEST_ID_HEADER,
  type ExecutorAddress,
  type ExecutorMessage,
  type MessageResponse,
  type MessageResponseStatus,
  MESSAGE_RESPONSE_STATUSES,
} from '../../model/index.js';
import { certificateRefusal, type PeerTlsOptions } from '../../model/tls.js';
import type { ExecutorMessenger, MessageContext } from './messenger.js';

export interface HttpExecutorMessengerOptions {
  /** Sent as `NodeId`. */
  controllerHostname: string;
  /** The CONTROLLER secret from `clusterAuth`; sent as `Cluster-Authorization`. */
  clusterSecret: string | undefined;
  /** An executor answers messages at once (work is queued), so a slow answer means it is unwell. */
  requestTimeoutMs?: number;
  /**
   * Verification of executors that serve HTTPS (config `clusterTls`). Verified by default: the CONTROLLER secret
   * goes only to a host whose certificate names the address the executor reported.
   */
  tls?: PeerTlsOptions;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** HTTP/1.1 pipelining depth on an executor's one connection: above instancesPerHost of the usual local services. */
export const MESSAGES_IN_FLIGHT_PER_EXECUTOR = 8;

/**
 * Controller -> executor messages over HTTP(S), `POST <scheme>://<host>:<port>/apis/v1/messages`
 * (docs/design/executor-protocol.md#transport). Never rejects: an unreachable executor, a non-200 answer or an
 * unreadable body is a FAILED response whose `message` says why.
 */
export class HttpExecutorMessenger implements ExecutorMessenger {
  private readonly agent: Agent;
  private readonly timeoutMs: number;

  constructor(private readonly options: HttpExecutorMessengerOptions) {
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const tls = options.tls ?? { rejectUnauthorized: true };
    // One connection per executor: a connection per concurrent message (four STARTs at instancesPerHost 4) held ~4
    // open files per executor on the controller, over 20,000 at 5,000 executors, beyond a common open-files limit
    // (EMFILE; docs/scale.md). Messages to one executor are pipelined on it: an executor answers each at once (it
    // acts on it afterwards), and one at a time the fourth START of a host waited for three round trips first.
    this.agent = new Agent({
      connect: { timeout: this.timeoutMs, ...tls },
      keepAliveTimeout: 30_000,
      connections: 1,
      pipelining: MESSAGES_IN_FLIGHT_PER_EXECUTOR,
    });
  }

  async send(address: ExecutorAddress, message: ExecutorMessage, context: MessageContext = {}): Promise<MessageResponse> {
    const scheme = address.transportType === 'HTTPS' ? 'https' : 'http';
    const url = `${scheme}://${address.hostname}:${address.port}/apis/v1/messages`;
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      [NODE_ID_HEADER]: this.options.controllerHostname,
    };
    if (this.options.clusterSecret) headers[CLUSTER_AUTH_HEADER] = this.options.clusterSecret;
    if (context.requestId !== undefined) headers[REQUEST_ID_HEADER] = context.requestId;
    const failed = (reason: string): MessageResponse => ({ header: message.header, status: 'FAILED', message: reason });
    try {
      const response = await request(url, {
        method: 'POST',
        headers,
        body: JSON.stringify(message),
        dispatcher: this.agent,
        // Pipelined (see the agent): every message is idempotent at the executor (docs/design/executor-protocol.md#transport),
        // which undici requires because when a connection breaks it sends the ones behind its head again, and none
        // blocks the pipeline (the executor answers at once; undici assumes every POST may).
        idempotent: true,
        blocking: false,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      const text = await response.body.text();
      if (response.statusCode !== 200) {
        return failed(`Executor ${address.executorId} answered HTTP ${response.statusCode}: ${text.slice(0, 200)}`);
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return failed(`Executor ${address.executorId} answered with a body that is not JSON`);
      }
      const status = (body as { status?: unknown } | null)?.status;
      if (typeof status !== 'string' || !MESSAGE_RESPONSE_STATUSES.includes(status as MessageResponseStatus)) {
        return failed(`Executor ${address.executorId} answered without a valid status`);
      }
      const reason = (body as { message?: unknown }).message;
      return {
        header: message.header,
        status: status as MessageResponseStatus,
        ...(typeof reason === 'string' ? { message: reason } : {}),
      };
    } catch (error) {
      return failed(`Executor ${address.executorId} at ${url} unreachable: ${certificateRefusal(error) ?? (error as Error).message}`);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
