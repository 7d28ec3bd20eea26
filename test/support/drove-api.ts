import { Agent, request } from 'undici';
import type { LocalServiceInstanceInfo, LocalServiceSummary } from '../../src/model/index.js';
import { waitUntil } from './wait.js';

/** A small client of the controller's Drove API for end-to-end tests (undici, Basic auth, envelopes). */

export interface Envelope<T = unknown> {
  status: 'SUCCESS' | 'FAILED';
  data?: T;
  message?: string;
}

export interface ApiReply<T = unknown> {
  statusCode: number;
  body: Envelope<T>;
}

export interface DroveEvent {
  type: string;
  id: string;
  time: number;
  metadata: Record<string, unknown>;
}

export interface ExecutorSummary {
  executorId: string;
  hostname: string;
  port: number;
  /** The hostname and the configured tags. */
  tags: string[];
  state: string;
}

export class DroveApi {
  private readonly agent: Agent;
  private readonly authorization: string;

  constructor(
    readonly baseUrl: string,
    credentials: { username: string; password: string },
    /** The CA of an https:// controller that the system roots do not know (tests make their own). */
    tls: { ca?: Buffer } = {},
  ) {
    this.agent = new Agent({ connections: 8, connect: { ...tls } });
    this.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
  }

  async call<T = unknown>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<ApiReply<T>> {
    const response = await request(`${this.baseUrl}${path}`, {
      method,
      dispatcher: this.agent,
      headers: { authorization: this.authorization, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.body.text();
    let parsed: Envelope<T>;
    try {
      parsed = JSON.parse(text) as Envelope<T>;
    } catch {
      throw new Error(`${method} ${path}: HTTP ${response.statusCode} with a non-JSON body: ${text.slice(0, 500)}`);
    }
    return { statusCode: response.statusCode, body: parsed };
  }

  /** GET that must succeed; returns `data`. */
  async get<T>(path: string): Promise<T> {
    const reply = await this.call<T>('GET', path);
    if (reply.statusCode !== 200 || reply.body.status !== 'SUCCESS') {
      throw new Error(`GET ${path}: HTTP ${reply.statusCode} ${JSON.stringify(reply.body)}`);
    }
    return reply.body.data as T;
  }

  /** POST /apis/v1/localservices/operations; returns the raw reply so tests can assert rejections too. */
  operation(body: Record<string, unknown>): Promise<ApiReply<{ serviceId: string }>> {
    return this.call('POST', '/apis/v1/localservices/operations', body);
  }

  /** An operation that must be accepted. */
  async accepted(body: Record<string, unknown>): Promise<string> {
    const reply = await this.operation(body);
    if (reply.statusCode !== 200 || reply.body.status !== 'SUCCESS') {
      throw new Error(`operation ${JSON.stringify(body).slice(0, 200)} rejected: HTTP ${reply.statusCode} ${JSON.stringify(reply.body)}`);
    }
    return reply.body.data!.serviceId;
  }

  cancel(serviceId: string): Promise<ApiReply> {
    return this.call('POST', `/apis/v1/localservices/operations/${encodeURIComponent(serviceId)}/cancel`);
  }

  /** The summary, or undefined when the service does not exist. */
  async service(serviceId: string): Promise<LocalServiceSummary | undefined> {
    const reply = await this.call<LocalServiceSummary>('GET', `/apis/v1/localservices/${encodeURIComponent(serviceId)}`);
    return reply.statusCode === 200 && reply.body.status === 'SUCCESS' ? reply.body.data : undefined;
  }

  instances(serviceId: string): Promise<LocalServiceInstanceInfo[]> {
    return this.get(`/apis/v1/localservices/${encodeURIComponent(serviceId)}/instances`);
  }

  oldInstances(serviceId: string): Promise<LocalServiceInstanceInfo[]> {
    return this.get(`/apis/v1/localservices/${encodeURIComponent(serviceId)}/instances/old`);
  }

  executors(): Promise<ExecutorSummary[]> {
    return this.get('/apis/v1/cluster/executors');
  }

  /** Events newer than `since`, oldest first. */
  async events(since = 0): Promise<DroveEvent[]> {
    const data = await this.get<{ events: DroveEvent[] }>(`/apis/v1/cluster/events/latest?lastSyncTime=${since}&size=100000`);
    return [...data.events].sort((a, b) => a.time - b.time);
  }

  /** Waits until the service is in `state` (and, optionally, a predicate over it holds). */
  waitForService(
    serviceId: string,
    state: string,
    extra: (summary: LocalServiceSummary) => boolean = () => true,
    timeoutMs?: number,
  ): Promise<LocalServiceSummary> {
    return waitUntil(
      `${serviceId} to reach ${state}`,
      async () => {
        const summary = await this.service(serviceId);
        if (summary?.state === state && extra(summary)) return summary;
        // Thrown so that a timeout reports what the service looked like last.
        throw new Error(`last summary: ${JSON.stringify(summary)}`);
      },
      timeoutMs !== undefined ? { timeoutMs } : {},
    );
  }

  /** Waits until the instance list satisfies `predicate`; returns it. */
  waitForInstances(
    serviceId: string,
    what: string,
    predicate: (instances: LocalServiceInstanceInfo[]) => boolean,
    timeoutMs?: number,
  ): Promise<LocalServiceInstanceInfo[]> {
    return waitUntil(
      `${serviceId}: ${what}`,
      async () => {
        const list = await this.instances(serviceId);
        if (predicate(list)) return list;
        throw new Error(`last instances: ${JSON.stringify(list.map((i) => [i.instanceId, i.executorId.slice(0, 8), i.state]))}`);
      },
      timeoutMs !== undefined ? { timeoutMs } : {},
    );
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

export const healthy = (list: LocalServiceInstanceInfo[]) => list.filter((i) => i.state === 'HEALTHY');
