import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../model/clock.js';
import type { MessageResponse } from '../model/executor.js';
import { REQUEST_ID_HEADER, safeRequestId } from '../model/request-id.js';
import type { ServerTlsMaterial } from '../model/tls.js';
import { errorText } from './checks.js';
import type { ExecutorConfig } from './config.js';
import { DEFAULT_EXECUTOR_HTTP_LIMITS, type ExecutorHttpLimits } from './http-limits.js';
import { registerHealthRoutes, type ExecutorReadiness } from './health.js';
import { registerLogRoutes } from './logs.js';
import { bestEffortHeader, respond } from './message-parser.js';
import { installExecutorGuard } from './routes-access.js';
import { prometheusContentType } from 'prom-client';
import { MetricsPolicy } from '../model/monitoring.js';
import { ExecutorMetrics } from './metrics/metrics.js';

export interface ExecutorAppOptions {
  config: Pick<ExecutorConfig, 'clusterAuth' | 'logDir'>;
  clock: Clock;
  /** The agent's message handler once it exists; undefined while the executor is still starting. */
  handler: () => MessageHandler | undefined;
  /** The executor's readiness once it runs; absent or undefined while it is still starting (health.ts). */
  readiness?: () => Promise<ExecutorReadiness> | undefined;
  limits?: Partial<ExecutorHttpLimits>;
  /** Certificate and key (config `server.tls`): the executor serves HTTPS only. */
  https?: ServerTlsMaterial;
  /** Who may read `/metrics` (config `monitoring:`); absent: nobody (not open, no token). */
  metricsPolicy?: MetricsPolicy;
  /** The exposition text of `/metrics`; absent: an empty registry's. */
  metrics?: () => Promise<string>;
}

/** `requestId`: the controller's `X-Request-Id` when it is safe to log (docs/request-ids.md). */
export type MessageHandler = (body: unknown, context: { requestId?: string }) => MessageResponse | Promise<MessageResponse>;

/**
 * The executor's HTTP surface as a fastify instance (not listening): the secret check, messages and logs
 * (docs/design/executor-protocol.md#executor-api).
 */
export function buildExecutorApp(opts: ExecutorAppOptions): FastifyInstance {
  const limits = { ...DEFAULT_EXECUTOR_HTTP_LIMITS, ...opts.limits };
  const app = Fastify({
    logger: false,
    bodyLimit: 16 * 1024 * 1024,
    // http-limits.ts says why each value. Node reads `connectionsCheckingInterval` only when the server is
    // created, so it goes into whichever server options fastify uses: `https` when serving TLS, `http` otherwise.
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    ...(opts.https
      ? { https: { ...opts.https, connectionsCheckingInterval: limits.connectionsCheckingIntervalMs } }
      : { http: { connectionsCheckingInterval: limits.connectionsCheckingIntervalMs } }),
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;
  // Not a fastify option; the server reads it on every timeout check, so setting it now is enough.
  app.server.headersTimeout = limits.headersTimeoutMs;

  installExecutorGuard(app, opts.config.clusterAuth.secrets, opts.metricsPolicy ?? new MetricsPolicy({ metrics: 'authenticated' }, ''));
  const empty = opts.metrics ? undefined : new ExecutorMetrics();
  const render = opts.metrics ?? (() => empty!.render(undefined));
  // Malformed JSON is answered like any malformed message: FAILED with the reason, not a parser error page.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, body === '' ? undefined : JSON.parse(body as string));
    } catch (error) {
      done(null, { __invalidJson: errorText(error) });
    }
  });
  // Routes in a plugin (loaded at ready), so that onRoute hooks added after this function returns see them.
  void app.register(async (routes) => {
    routes.post('/apis/v1/messages', async (req) => {
      const body = req.body as { __invalidJson?: string } | undefined;
      const now = opts.clock.now();
      if (body && typeof body === 'object' && '__invalidJson' in body) {
        return respond(bestEffortHeader(undefined, now), 'FAILED', `Invalid JSON: ${body.__invalidJson}`);
      }
      const handle = opts.handler();
      if (!handle) return respond(bestEffortHeader(body, now), 'FAILED', 'Executor is starting');
      const requestId = safeRequestId(req.headers[REQUEST_ID_HEADER.toLowerCase()]);
      return handle(body, requestId === undefined ? {} : { requestId });
    });
    registerLogRoutes(routes, opts.config.logDir, limits.maxConcurrentLogReads);
    registerHealthRoutes(routes, () => opts.readiness?.());
    // Prometheus text format (docs/metrics.md); the guard applies the monitoring policy.
    routes.get('/metrics', async (_request, reply) => reply.type(prometheusContentType).send(await render()));
  });
  return app;
}
