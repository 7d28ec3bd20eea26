import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { durationMs, failure, INSTANCE_LIVE_STATES, systemClock, type Clock } from '../../model/index.js';
import { REQUEST_ID_HEADER, newRequestId, safeRequestId } from '../../model/request-id.js';
import { StoreUnavailableError } from '../store/store.js';
import { NotLeaderError, type ControllerCore } from '../core.js';
import type { ControllerConfig } from '../config.js';
import type { ServerTlsMaterial } from '../../model/tls.js';
import { MetricsPolicy } from '../../model/monitoring.js';
import { ControllerMetrics } from '../metrics/metrics.js';
import { metricsRoutes } from './metrics.js';
import { Authenticator, DEFAULT_AUTH_OPTIONS, type AuthOptions } from './auth.js';
import { ApiError, jsonValidationError, notLeaderError } from './errors.js';
import { localServiceRoutes } from './localservices.js';
import { clusterRoutes } from './cluster.js';
import { executorRoutes } from './executors.js';
import { eventRoutes } from './events.js';
import { eventStreamRoutes, installEventStreams } from './event-stream.js';
import { HEALTH_ROUTES, healthRoutes } from './health.js';
import { internalRoutes } from './internal.js';
import { messageRoutes } from './controller-messages.js';
import { logRoutes, type LogProxyOptions } from './logs.js';
import { applicationRoutes } from './applications.js';
import { openApiRoutes } from './openapi.js';
import { uiRoutes } from './ui.js';
import { consoleRoutes } from './console.js';
import { defaultConsoleDir, packageVersion } from './console-pages.js';
import { installAccessGuard } from './access-guard.js';
import { DEFAULT_CONTROLLER_HTTP_LIMITS, type ControllerHttpLimits } from './limits.js';
import { registerLoginLimiter } from './login-limiter.js';
import { ROUTE_ACCESS } from './routes-access.js';
import './context.js';

export interface ControllerAppOptions {
  core: ControllerCore;
  config: ControllerConfig;
  /** A pino logger, `true` for fastify's default logger, `false`/absent for none. */
  logger?: FastifyBaseLogger | boolean;
  /**
   * Largest accepted request body. A local-service spec is a few KiB; inline configs can carry small files.
   * 1 MiB (fastify's and most proxies' default) is far above any sane spec and bounds memory per request.
   */
  bodyLimit?: number;
  clock?: Clock;
  auth?: Partial<AuthOptions>;
  logProxy?: Partial<LogProxyOptions>;
  /** Certificate and key (config `server.tls`): the API serves HTTPS only. */
  https?: ServerTlsMaterial;
  limits?: Partial<ControllerHttpLimits>;
  /** The built web console (index.html, assets/); default: dist/ui of this package. */
  consoleDir?: string;
  /** The process's metrics (server.ts shares them with the core); absent: a registry of this app's own. */
  metrics?: ControllerMetrics;
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/**
 * The controller's HTTP API as a fastify instance (not listening): the access guard (authentication, roles,
 * leader guard, audit; access-guard.ts), every route plugin, and the single error handler that maps typed
 * errors to Drove's envelopes (docs/design/api-compatibility.md#errors).
 */
export function buildControllerApp(opts: ControllerAppOptions): FastifyInstance {
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const limits = { ...DEFAULT_CONTROLLER_HTTP_LIMITS, ...opts.limits };
  const loggerOption =
    typeof opts.logger === 'object' ? { loggerInstance: opts.logger } : { logger: opts.logger ?? false };
  const app = Fastify({
    ...loggerOption,
    bodyLimit,
    // Timeouts against slow or idle clients (limits.ts says why each value). Node reads
    // `connectionsCheckingInterval` only when the server is created, so it goes into whichever server options
    // fastify uses: `https` when serving TLS, `http` otherwise.
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    ...(opts.https
      ? { https: { ...opts.https, connectionsCheckingInterval: limits.connectionsCheckingIntervalMs } }
      : { http: { connectionsCheckingInterval: limits.connectionsCheckingIntervalMs } }),
    // Keys of the request body such as __proto__ are an attack; reject rather than silently strip.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
    // docs/request-ids.md: the caller's id when it is safe to log, else a fresh one; logged as `requestId`.
    genReqId: (request: { headers: Record<string, string | string[] | undefined> }) =>
      safeRequestId(request.headers[REQUEST_ID_HEADER.toLowerCase()]) ?? newRequestId(),
    logController: new LogController({
      requestIdLogLabel: 'requestId',
      // Probes come every few seconds from every balancer; two log lines each would bury everything else.
      disableRequestLogging: (request: { routeOptions: { url?: string } }) => HEALTH_ROUTES.has(request.routeOptions.url ?? ''),
    }),
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;
  // Not a fastify option; the server reads it on every timeout check, so setting it now is enough.
  app.server.headersTimeout = limits.headersTimeoutMs;

  const { core, config } = opts;
  const authenticator = new Authenticator(
    config.userAuth,
    config.clusterAuth,
    config.options.disableReadAuth,
    opts.clock ?? systemClock,
    { ...DEFAULT_AUTH_OPTIONS, ...opts.auth },
    config.instanceAuth.secret === undefined
      ? undefined
      : {
          secret: config.instanceAuth.secret,
          lifetimeMs: durationMs(config.instanceAuth.tokenLifetime),
          // Only the leader knows the instances; a non-leader refuses the call right after authentication anyway.
          isLive: (serviceId, instanceId) => {
            if (!core.isLeader()) return true;
            const state = core.serviceInstance(serviceId, instanceId)?.state;
            return state !== undefined && INSTANCE_LIVE_STATES.has(state);
          },
        },
    limits,
  );
  app.addHook('onClose', async () => authenticator.close());

  // First of all hooks, so that every answer (refusals of the access guard included) names its request.
  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
  const metrics = opts.metrics ?? new ControllerMetrics();
  // Every request, refused ones included; the route is the matched pattern (bounded), never the raw URL.
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpRequestFinished(request.method, request.is404 ? undefined : request.routeOptions.url, reply.statusCode, reply.elapsedTime / 1000);
  });

  installBodyParsers(app);
  installAccessGuard(app, {
    table: ROUTE_ACCESS,
    authenticator,
    admission: registerLoginLimiter(app, { max: limits.loginAttemptsPerWindow, windowMs: limits.loginWindowMs }),
    core,
    auditedMethods: config.options.auditedHttpMethods,
    scheme: opts.https ? 'https' : 'http',
    metrics: new MetricsPolicy(config.monitoring, config.server.host),
  });

  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    const mapped = mapError(error, bodyLimit, core);
    if (mapped.statusCode >= 500) request.log.error({ err: error }, 'request failed');
    reply.code(mapped.statusCode);
    for (const [name, value] of Object.entries(mapped.headers)) reply.header(name, value);
    return reply.send(mapped.body);
  });

  app.setNotFoundHandler(async (request, reply) =>
    reply.code(404).send(failure(`HTTP 404 Not Found: no such resource ${request.method} ${request.url.split('?')[0]}`)),
  );

  const context = { core, config };
  void app.register(localServiceRoutes, context);
  void app.register(clusterRoutes, context);
  void app.register(executorRoutes, context);
  void app.register(eventRoutes, context);
  void app.register(eventStreamRoutes, { ...context, hub: installEventStreams(app, limits, opts.clock) });
  void app.register(healthRoutes, context);
  void app.register(internalRoutes, context);
  void app.register(messageRoutes, context);
  void app.register(logRoutes, { ...context, logProxy: opts.logProxy });
  void app.register(applicationRoutes);
  void app.register(openApiRoutes);
  void app.register(consoleRoutes, { ...context, authenticator, version: packageVersion() });
  void app.register(uiRoutes, { dir: opts.consoleDir ?? defaultConsoleDir() });
  void app.register(metricsRoutes, { ...context, metrics });
  return app;
}

/**
 * JSON is the only body type. An empty body of any type reads as "no body" (curl's `--data ''` on cancel sends an
 * empty form body); a non-empty body of another type is a 415 naming the expected type.
 */
function installBodyParsers(app: FastifyInstance): void {
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(/^application\/([\w.+-]+\+)?json/i, { parseAs: 'string' }, (request, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) return done(null, undefined);
    // fastify's default JSON parser answers through `done`; its type also allows a promise-returning parser.
    void defaultJson(request, body as string, done);
  });
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') return done(null, undefined);
    const type = request.headers['content-type'] ?? '(none)';
    done(jsonValidationError([`Unsupported content type ${type}: send the body as application/json`], 415), undefined);
  });
}

interface MappedError {
  statusCode: number;
  body: unknown;
  headers: Record<string, string>;
}

function mapError(error: FastifyError | Error, bodyLimit: number, core: Pick<ControllerCore, 'leaderAddress'>): MappedError {
  // Leadership ended while the request was under way: answered as the leader guard answers a follower.
  if (error instanceof NotLeaderError) error = notLeaderError(core.leaderAddress());
  if (error instanceof ApiError) return { statusCode: error.statusCode, body: error.body, headers: error.headers };
  if (error instanceof StoreUnavailableError) {
    return {
      statusCode: 503,
      body: failure(`State store unavailable, the request was not applied: ${error.message}`, { failure: error.message }),
      headers: { 'retry-after': '5' },
    };
  }
  const code = (error as FastifyError).code;
  const status = (error as FastifyError).statusCode;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return {
      statusCode: 413,
      body: jsonValidationError([`Request body is larger than the limit of ${bodyLimit} bytes`]).body,
      headers: {},
    };
  }
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return { statusCode: 415, body: jsonValidationError(['Unsupported content type: send the body as application/json']).body, headers: {} };
  }
  if (error instanceof SyntaxError || code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return { statusCode: 400, body: jsonValidationError([`Malformed JSON body: ${error.message}`]).body, headers: {} };
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { statusCode: status, body: jsonValidationError([error.message]).body, headers: {} };
  }
  return {
    statusCode: 500,
    body: failure('Unexpected Server error', { failure: error.message }),
    headers: {},
  };
}
