import { hostname as osHostname } from 'node:os';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { request as httpRequest, Agent } from 'undici';
import {
  CLUSTER_AUTH_HEADER,
  NODE_ID_HEADER,
  failure,
  isInstanceId,
  isLogFileName,
  isServiceId,
  type ExecutorAddress,
} from '../../model/index.js';
import { ConcurrencyGate } from '../../model/concurrency-gate.js';
import { certificateRefusal, peerTlsOptions } from '../../model/tls.js';
import type { ApiContext } from './context.js';
import { ApiError } from './errors.js';

/**
 * Log-file proxy (docs/design/api-compatibility.md#log-files): the controller forwards to the executor running the
 * instance, authenticating as a cluster node. Unknown instance or executor: 204, as Drove.
 */

export interface LogProxyOptions {
  /** Time to the executor's response headers; a healthy executor answers list/read from local disk in ms. */
  headersTimeoutMs: number;
  /** Max silence while streaming a body; generous because downloads of large rotated logs stream for a while. */
  bodyTimeoutMs: number;
  connectTimeoutMs: number;
  /**
   * Log requests proxied at the same time; one more is answered 429 at once. Each holds a connection to an
   * executor and a read buffers up to 4 MiB: 32 covers many open UI tailers and CLI `logs -f` while bounding
   * that memory to ~128 MiB.
   */
  maxConcurrentReads: number;
}

export const DEFAULT_LOG_PROXY_OPTIONS: LogProxyOptions = {
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 60_000,
  connectTimeoutMs: 5_000,
  maxConcurrentReads: 32,
};

type LogParams = { serviceId: string; instanceId: string };

export async function logRoutes(
  app: FastifyInstance,
  { core, config, logProxy }: ApiContext & { logProxy?: Partial<LogProxyOptions> },
): Promise<void> {
  const options = { ...DEFAULT_LOG_PROXY_OPTIONS, ...logProxy };
  const dispatcher = new Agent({
    // Verified like the executor messenger (cluster/http-messenger.ts): the CONTROLLER secret goes with every read.
    connect: { timeout: options.connectTimeoutMs, ...peerTlsOptions(config.clusterTls) },
    headersTimeout: options.headersTimeoutMs,
    bodyTimeout: options.bodyTimeoutMs,
  });
  app.addHook('onClose', async () => dispatcher.close());
  const nodeId = config.server.hostname ?? osHostname();
  const secret = config.clusterAuth.secrets.find((s) => s.nodeType === 'CONTROLLER')?.secret;

  const forward = async (reply: FastifyReply, address: ExecutorAddress, path: string, stream: boolean) => {
    const url = `${address.transportType === 'HTTPS' ? 'https' : 'http'}://${address.hostname}:${address.port}${path}`;
    const headers: Record<string, string> = { [NODE_ID_HEADER]: nodeId };
    if (secret) headers[CLUSTER_AUTH_HEADER] = secret;
    let response;
    try {
      response = await httpRequest(url, { method: 'GET', headers, dispatcher });
    } catch (error) {
      return reply
        .code(502)
        .send({
          error: `Executor ${address.hostname}:${address.port} could not be reached: ${certificateRefusal(error) ?? (error as Error).message}`,
        });
    }
    if (response.statusCode !== 200) {
      const text = await response.body.text();
      // The executor's 4xx is about the request (bad file name, path escape): pass it on as it is.
      if (response.statusCode >= 400 && response.statusCode < 500) {
        return reply.code(response.statusCode).type('application/json').send(jsonOrError(text));
      }
      return reply.code(502).send({ error: `Executor call returned: ${response.statusCode} body: ${text.slice(0, 2000)}` });
    }
    const contentType = response.headers['content-type'];
    if (typeof contentType === 'string') reply.type(contentType);
    if (!stream) return reply.code(200).send(await response.body.text());
    return reply.code(200).send(response.body);
  };

  const prefix = '/apis/v1/logfiles/localservices/:serviceId/:instanceId';
  const target = (p: LogParams) => `/apis/v1/logs/filestream/${encodeURIComponent(p.serviceId)}/${encodeURIComponent(p.instanceId)}`;
  const gate = new ConcurrencyGate(options.maxConcurrentReads);
  // A route hook, so it runs after the access guard: callers that are refused never take a slot.
  const logs = {
    onRequest: async (_request: FastifyRequest, reply: FastifyReply) => {
      const release = gate.tryAcquire();
      if (!release) {
        throw new ApiError(429, failure(`Too many log reads in progress (at most ${gate.limit}), retry in a moment`), { 'retry-after': '1' });
      }
      // 'close' comes once the response is sent, streamed or cut off by the client.
      reply.raw.once('close', release);
    },
  };
  /**
   * The ids and file name become the executor URL: they are checked before it is built (a file name `..` would
   * otherwise send the CONTROLLER secret to another executor route). Refused: 400, as the executor answers.
   */
  const invalid = (reply: FastifyReply, p: LogParams & { fileName?: string }) => {
    const error = !isServiceId(p.serviceId)
      ? `Invalid service id: ${p.serviceId}`
      : !isInstanceId(p.instanceId)
        ? `Invalid instance id: ${p.instanceId}`
        : p.fileName !== undefined && !isLogFileName(p.fileName)
          ? `Invalid log file name: ${p.fileName}`
          : undefined;
    return error === undefined ? undefined : reply.code(400).send({ error });
  };

  app.get<{ Params: LogParams }>(`${prefix}/list`, logs, async (request, reply) => {
    const refused = invalid(reply, request.params);
    if (refused) return refused;
    const address = core.instanceExecutorAddress(request.params.serviceId, request.params.instanceId);
    if (!address) return reply.code(204).send();
    return forward(reply, address, `${target(request.params)}/list`, false);
  });

  app.get<{ Params: LogParams & { fileName: string }; Querystring: { offset?: string; length?: string } }>(
    `${prefix}/read/:fileName`,
    logs,
    async (request, reply) => {
      const refused = invalid(reply, request.params);
      if (refused) return refused;
      const address = core.instanceExecutorAddress(request.params.serviceId, request.params.instanceId);
      if (!address) return reply.code(204).send();
      const query = new URLSearchParams();
      query.set('offset', request.query.offset ?? '-1');
      query.set('length', request.query.length ?? '-1');
      return forward(reply, address, `${target(request.params)}/read/${encodeURIComponent(request.params.fileName)}?${query}`, false);
    },
  );

  app.get<{ Params: LogParams & { fileName: string }; Querystring: { rename?: string } }>(
    `${prefix}/download/:fileName`,
    logs,
    async (request, reply) => {
      const refused = invalid(reply, request.params);
      if (refused) return refused;
      const { serviceId, instanceId, fileName } = request.params;
      const address = core.instanceExecutorAddress(serviceId, instanceId);
      if (!address) return reply.code(204).send();
      const name =
        request.query.rename === 'true' ? `${serviceId}_${instanceId}_${fileName}-${timestamp(new Date())}` : fileName;
      reply.header('content-disposition', `attachment; filename=${name.replace(/[^\w.-]/g, '_')}`);
      reply.type('application/octet-stream');
      return forward(reply, address, `${target(request.params)}/download/${encodeURIComponent(fileName)}`, true);
    },
  );
}

function jsonOrError(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { error: text.slice(0, 2000) };
  }
}

/** `yyyy-MM-dd_HH-mm-ss`, as Drove names renamed downloads. */
function timestamp(date: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())}_${p(date.getHours())}-${p(date.getMinutes())}-${p(date.getSeconds())}`;
}
