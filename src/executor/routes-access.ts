import type { FastifyInstance } from 'fastify';
import { CLUSTER_AUTH_HEADER } from '../model/executor.js';
import type { MetricsPolicy } from '../model/monitoring.js';
import { matchesAnySecret } from '../model/secret-compare.js';

/**
 * Who may call the executor: only controllers, proven by the CONTROLLER secret of `clusterAuth`. The EXECUTOR
 * secret is what every executor sends to the controllers, so accepting it here would let any executor host (or
 * anyone who read one host's config or traffic) start containers on every other host. The one exception is
 * `/metrics`, read by Prometheus under the `monitoring:` policy (open on loopback, else its bearer token).
 *
 * As on the controller, the decision reads the route fastify matched, from one table; a route missing from it
 * is refused (test/security/encoded-paths.test.ts checks the table covers every registered route).
 */
export type ExecutorAccess = 'controller' | 'metrics' | 'public';

/** `<METHOD> <route pattern as registered>` -> access. HEAD routes (fastify adds one per GET) use the GET rule. */
export const EXECUTOR_ROUTE_ACCESS: Readonly<Record<string, ExecutorAccess>> = {
  'POST /apis/v1/messages': 'controller',
  'GET /apis/v1/logs/filestream/:serviceId/:instanceId/list': 'controller',
  'GET /apis/v1/logs/filestream/:serviceId/:instanceId/read/:fileName': 'controller',
  'GET /apis/v1/logs/filestream/:serviceId/:instanceId/download/:fileName': 'controller',
  // health.ts: load balancers and supervisors probe without credentials (docs/health.md)
  'GET /livez': 'public',
  'GET /readyz': 'public',
  'GET /metrics': 'metrics',
};

export function executorRuleOf(method: string, url: string): ExecutorAccess | undefined {
  const key = `${method === 'HEAD' ? 'GET' : method} ${url}`;
  return Object.hasOwn(EXECUTOR_ROUTE_ACCESS, key) ? EXECUTOR_ROUTE_ACCESS[key] : undefined;
}

export const CONTROLLER_SECRET_REQUIRED = 'Cluster-Authorization with the CONTROLLER secret is required';
export const METRICS_TOKEN_REQUIRED =
  'The monitoring bearer token is required (Authorization: Bearer <monitoring.bearerToken>), or monitoring.metrics: open';
export const EXECUTOR_SECRET_REFUSED =
  'The EXECUTOR secret is not accepted here: only controllers (CONTROLLER secret) may call an executor';

interface ClusterSecret {
  nodeType: 'CONTROLLER' | 'EXECUTOR';
  secret: string;
}

/**
 * Public routes (the health endpoints) need nothing; `/metrics` follows the monitoring policy, else 401. Every
 * other request: 401 without the CONTROLLER secret (403 for an EXECUTOR secret, so a misconfigured node says what
 * is wrong), then 404 for a URL that matches no route, 403 for a route the table does not know. Before any body is
 * read.
 */
export function installExecutorGuard(app: FastifyInstance, secrets: readonly ClusterSecret[], metrics: Pick<MetricsPolicy, 'admits'>): void {
  const controllerSecrets = secrets.filter((s) => s.nodeType === 'CONTROLLER').map((s) => s.secret);
  const executorSecrets = secrets.filter((s) => s.nodeType === 'EXECUTOR').map((s) => s.secret);
  app.addHook('onRequest', async (request, reply) => {
    const method = String(request.routeOptions.method ?? request.method);
    const route = request.routeOptions.url;
    const rule = request.is404 || route === undefined ? undefined : executorRuleOf(method, route);
    if (rule === 'public') return;
    if (rule === 'metrics') {
      if (metrics.admits(request.headers)) return;
      return reply.code(401).header('www-authenticate', 'Bearer').send({ status: 'FAILED', message: METRICS_TOKEN_REQUIRED });
    }
    const presented = request.headers[CLUSTER_AUTH_HEADER.toLowerCase()];
    const secret = typeof presented === 'string' ? presented : undefined;
    if (secret === undefined || !matchesAnySecret(secret, controllerSecrets)) {
      if (secret !== undefined && matchesAnySecret(secret, executorSecrets)) {
        return reply.code(403).send({ status: 'FAILED', message: EXECUTOR_SECRET_REFUSED });
      }
      return reply.code(401).send({ status: 'FAILED', message: CONTROLLER_SECRET_REQUIRED });
    }
    if (request.is404) return;
    if (rule === undefined) {
      return reply.code(403).send({ status: 'FAILED', message: `No access rule for ${method} ${route}: refused (default deny)` });
    }
  });
}
