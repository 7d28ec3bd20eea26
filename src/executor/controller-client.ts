import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Agent, request } from 'undici';
import type { Clock } from '../model/clock.js';
import type { ControllerMessage, MessageHeader, MessageResponseStatus } from '../model/executor.js';
import { CLUSTER_AUTH_HEADER, NODE_ID_HEADER } from '../model/executor.js';
import { certificateRefusal, type PeerTlsOptions } from '../model/tls.js';
import { errorText } from './checks.js';

/**
 * The executor's view of the controllers: finds the leader among the configured endpoints (the only one that answers
 * GET /apis/v1/ping with 200 SUCCESS, docs/design/executor-protocol.md#finding-the-leader), sends it messages and
 * reads its internal APIs. Any failure forgets the leader, so the next call looks for it again (leadership may have
 * moved).
 */
export interface ControllerClientOptions {
  endpoints: readonly string[];
  secret: string;
  nodeId: string;
  clock: Clock;
  logger: Logger;
  /** Per-request timeout: a healthy leader answers in milliseconds; a hung one must not stall reports. */
  requestTimeoutMs?: number;
  /**
   * Verification of https:// endpoints (config `clusterTls`). Verified by default: this executor's secret goes
   * only to a controller whose certificate the configured CA signed for the endpoint's host.
   */
  tls?: PeerTlsOptions;
}

/**
 * UNREACHABLE: no leader took the message (network error, or a non-200 such as a former leader's 400).
 * TOO_LARGE: the leader refused the body as larger than its limit (HTTP 413); only a smaller message can pass.
 * Otherwise the leader's own answer, of which only ACCEPTED means delivered.
 */
export type SendStatus = MessageResponseStatus | 'UNREACHABLE' | 'TOO_LARGE';

export class ControllerClient {
  private leader: string | undefined;
  /** Reports, pings and GETs. */
  private readonly dispatcher: Agent;
  /** Heartbeats only (see the constructor). */
  private readonly heartbeats: Agent;
  private readonly timeoutMs: number;

  constructor(private readonly options: ControllerClientOptions) {
    this.timeoutMs = options.requestTimeoutMs ?? 5_000;
    // One connection per controller for heartbeats and one for everything else, instead of one per concurrent
    // request: an uncapped pool held ~4 sockets per executor at start-up (ping, first heartbeat, report flush,
    // readiness GET at once), which at 5,000 executors is over 20,000 fds on the controller (EMFILE) and as many
    // accepts in its backlog. Heartbeats get their own connection so they never queue behind a slow report or GET:
    // a heartbeat that waits is how a busy leader comes to think a live executor is gone. The rest take turns,
    // which costs a report at most one GET's round trip.
    const agent = () =>
      new Agent({
        connect: { timeout: this.timeoutMs, ...(options.tls ?? { rejectUnauthorized: true }) },
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        connections: 1,
      });
    this.dispatcher = agent();
    this.heartbeats = agent();
  }

  get currentLeader(): string | undefined {
    return this.leader;
  }

  private headers(): Record<string, string> {
    return {
      [CLUSTER_AUTH_HEADER]: this.options.secret,
      [NODE_ID_HEADER]: this.options.nodeId,
      'content-type': 'application/json',
    };
  }

  /**
   * Pings every endpoint at once; the first that says it is the leader wins, without waiting for the others: a
   * paused or cut-off controller never answers, and waiting out its timeout on every look would keep this executor
   * silent long enough for the new leader to declare it gone.
   */
  async findLeader(): Promise<string | undefined> {
    const found = await new Promise<string | undefined>((resolve) => {
      let pending = this.options.endpoints.length;
      if (pending === 0) resolve(undefined);
      for (const endpoint of this.options.endpoints) {
        const base = endpoint.replace(/\/+$/, '');
        void this.isLeader(base).then((leads) => {
          if (leads) resolve(base);
          else if (--pending === 0) resolve(undefined);
        });
      }
    });
    if (found !== this.leader) this.options.logger.info({ leader: found ?? null }, found ? 'leader found' : 'no leader answers');
    this.leader = found;
    return found;
  }

  private async isLeader(base: string): Promise<boolean> {
    try {
      const res = await request(`${base}/apis/v1/ping`, { method: 'GET', headers: this.headers(), dispatcher: this.dispatcher });
      const body = (await res.body.json().catch(() => undefined)) as { status?: string } | undefined;
      return res.statusCode === 200 && body?.status === 'SUCCESS';
    } catch (error) {
      // An unreachable controller is routine (it is down, or another one leads); a refused certificate is a
      // misconfiguration or an impostor, and the operator must hear about it on every look.
      const refusal = certificateRefusal(error);
      if (refusal) this.options.logger.warn({ endpoint: base, reason: refusal }, 'controller endpoint refused');
      return false;
    }
  }

  private async leaderUrl(): Promise<string | undefined> {
    return this.leader ?? (await this.findLeader());
  }

  header(): MessageHeader {
    return { id: randomUUID(), senderType: 'EXECUTOR', direction: 'REQUEST', messageTime: this.options.clock.now() };
  }

  /** Sends a message to the leader (statuses: SendStatus). */
  async send(message: ControllerMessage): Promise<{ status: SendStatus; message?: string }> {
    const leader = await this.leaderUrl();
    if (!leader) return { status: 'UNREACHABLE' };
    try {
      const res = await request(`${leader}/apis/v1/messages`, {
        method: 'POST',
        headers: this.headers(),
        body: JSON.stringify(message),
        dispatcher: message.type === 'EXECUTOR_SNAPSHOT' ? this.heartbeats : this.dispatcher,
      });
      const body = (await res.body.json().catch(() => undefined)) as { status?: MessageResponseStatus; message?: string } | undefined;
      // The leader answered, so it stays the leader; the same body would be refused again.
      if (res.statusCode === 413) return { status: 'TOO_LARGE', message: `HTTP 413${body?.message ? `: ${body.message}` : ''}` };
      if (res.statusCode !== 200) {
        // The leader filter answers 400 on a node that lost leadership: no leader was reached; look again.
        this.leader = undefined;
        return { status: 'UNREACHABLE', message: `HTTP ${res.statusCode}${body?.message ? `: ${body.message}` : ''}` };
      }
      return { status: body?.status ?? 'FAILED', ...(body?.message ? { message: body.message } : {}) };
    } catch (error) {
      this.leader = undefined;
      return { status: 'UNREACHABLE', message: errorText(error) };
    }
  }

  /** GET of a leader API answering Drove's envelope; undefined unless 200 SUCCESS. */
  async get<T>(path: string): Promise<T | undefined> {
    const leader = await this.leaderUrl();
    if (!leader) return undefined;
    try {
      const res = await request(`${leader}${path}`, { method: 'GET', headers: this.headers(), dispatcher: this.dispatcher });
      const body = (await res.body.json().catch(() => undefined)) as { status?: string; data?: T } | undefined;
      if (res.statusCode !== 200) {
        this.leader = undefined;
        return undefined;
      }
      return body?.status === 'SUCCESS' ? body.data : undefined;
    } catch (error) {
      this.options.logger.debug({ path, error: errorText(error) }, 'leader call failed');
      this.leader = undefined;
      return undefined;
    }
  }

  /**
   * Aborts what is still in flight instead of waiting for it: the reporter has drained its backlog before this is
   * called, and what remains can only be a ping to a controller that never answers (paused, cut off), which would
   * otherwise hold the executor's shutdown for the whole request timeout.
   */
  async close(): Promise<void> {
    await Promise.all([this.dispatcher.destroy().catch(() => undefined), this.heartbeats.destroy().catch(() => undefined)]);
  }
}
