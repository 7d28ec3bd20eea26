import type { PrincipalRole } from './auth.js';
import { CONSOLE_ASSETS_PREFIX, CONSOLE_PAGES } from './console-pages.js';

/**
 * Who may call which route: the one table the access guard (access-guard.ts) reads, keyed by the route as
 * fastify matched it (`request.routeOptions.method` + `.url`), never by the raw request URL, so no spelling of a
 * path (percent-encoding, absolute-form targets, trailing slashes) can reach a route under another route's rule.
 * A route missing here is refused (default deny); test/security/encoded-paths.test.ts fails when one is missing.
 * The levels follow Drove's access matrix (docs/security.md, "Authorization and abuse limits").
 */

/**
 * - `public`: no credentials: the health endpoints `/livez` and `/readyz`, and the web console's pages and assets,
 *   which hold no data (Drove leaves no `/apis` route open).
 * - `read`: any authenticated principal, as Drove's class-level "permit all" (users of every role, cluster
 *   nodes, instance tokens).
 * - `metrics`: the `monitoring:` policy of the config (model/monitoring.ts): no credentials when metrics are open
 *   (by default only on a loopback address), else its bearer token or, as `read`, any authenticated principal.
 * - `write`, `maintenance`, `logs`, `cluster`: the roles listed in ACCESS_ROLES.
 */
export type Access = 'public' | 'read' | 'metrics' | 'write' | 'maintenance' | 'logs' | 'cluster';

export const ACCESS_ROLES: Record<Exclude<Access, 'public' | 'read' | 'metrics'>, readonly PrincipalRole[]> = {
  write: ['EXTERNAL_ROOT', 'EXTERNAL_READ_WRITE'],
  maintenance: ['EXTERNAL_ROOT', 'EXTERNAL_MAINTENANCE'],
  logs: ['EXTERNAL_ROOT', 'EXTERNAL_READ_WRITE', 'EXTERNAL_READ_ONLY'],
  cluster: ['CLUSTER_NODE'],
};

export interface RouteRule {
  access: Access;
  /**
   * On a controller that is not the leader: Drove's 400 (default); a 303 to the leader for console pages
   * (`redirect-to-leader`, also on `public` rules: the console's pages); a 307 to the same route and query on the
   * leader (`redirect-same-route`, for routes without path parameters whose clients follow redirects but not
   * `data.leader`, such as Prometheus); or served here (`serve`, for what every controller answers for itself). A
   * `public` rule without `redirect-to-leader` answers on every controller (health endpoints, the console's assets).
   */
  onFollower?: 'redirect-to-leader' | 'redirect-same-route' | 'serve';
}

const open: RouteRule = { access: 'public' };
const read: RouteRule = { access: 'read' };
const write: RouteRule = { access: 'write' };
const maintenance: RouteRule = { access: 'maintenance' };
const logs: RouteRule = { access: 'logs' };
const cluster: RouteRule = { access: 'cluster' };
/** A console page holds no data (its data calls are API calls with the user's credentials), so the login form loads. */
const consolePage: RouteRule = { access: 'public', onFollower: 'redirect-to-leader' };

/** `<METHOD> <route pattern as registered>` -> rule. HEAD routes (fastify adds one per GET) use the GET rule. */
export const ROUTE_ACCESS: Readonly<Record<string, RouteRule>> = {
  // localservices.ts
  'POST /apis/v1/localservices/validate/spec': read,
  'POST /apis/v1/localservices/operations': write,
  'POST /apis/v1/localservices/operations/:serviceId/cancel': write,
  'GET /apis/v1/localservices': read,
  'GET /apis/v1/localservices/:serviceId': read,
  'GET /apis/v1/localservices/:serviceId/spec': read,
  'GET /apis/v1/localservices/:serviceId/instances': read,
  'GET /apis/v1/localservices/:serviceId/instances/old': read,
  'GET /apis/v1/localservices/:serviceId/instances/:instanceId': read,
  // cluster.ts
  'GET /apis/v1/ping': read,
  'GET /apis/v1/cluster': read,
  'GET /apis/v1/cluster/dashboard': read,
  'POST /apis/v1/cluster/maintenance/set': maintenance,
  'POST /apis/v1/cluster/maintenance/unset': maintenance,
  // executors.ts
  'GET /apis/v1/cluster/executors': read,
  'GET /apis/v1/cluster/executors/:executorId': read,
  'POST /apis/v1/cluster/executors/blacklist': maintenance,
  'POST /apis/v1/cluster/executors/unblacklist': maintenance,
  'POST /apis/v1/cluster/executors/:executorId/blacklist': maintenance,
  'POST /apis/v1/cluster/executors/:executorId/unblacklist': maintenance,
  // events.ts
  'GET /apis/v1/cluster/events/latest': read,
  'GET /apis/v1/cluster/events/summary': read,
  'GET /apis/v1/cluster/events': read,
  // event-stream.ts
  'GET /apis/v1/cluster/events/stream': read,
  // internal.ts, messages.ts: executors only
  'GET /apis/v1/internal/cluster/resources/reserved': cluster,
  'GET /apis/v1/internal/cluster/executors/:executorId/instances/last': cluster,
  'GET /apis/v1/internal/cluster/executors/:executorId/instances/current': cluster,
  'POST /apis/v1/messages': cluster,
  // logs.ts
  'GET /apis/v1/logfiles/localservices/:serviceId/:instanceId/list': logs,
  'GET /apis/v1/logfiles/localservices/:serviceId/:instanceId/read/:fileName': logs,
  'GET /apis/v1/logfiles/localservices/:serviceId/:instanceId/download/:fileName': logs,
  // applications.ts
  'GET /apis/v1/applications': read,
  'GET /apis/v1/applications/:appId/instances': read,
  'GET /apis/v1/applications/:appId/instances/old': read,
  'GET /apis/v1/applications/:appId': read,
  'GET /apis/v1/endpoints': read,
  'GET /apis/v1/tasks': read,
  // openapi.ts
  'GET /apis/openapi.json': read,
  // console.ts: the web console's reads
  'GET /apis/v1/console/whoami': read,
  'GET /apis/v1/console/fleet': read,
  'GET /apis/v1/console/search': read,
  // health.ts: load balancers and supervisors probe without credentials (docs/health.md)
  'GET /livez': open,
  'GET /readyz': open,
  // ui.ts: the console's pages and assets (docs/console.md), and Drove's view paths, which redirect to the pages
  ...Object.fromEntries(CONSOLE_PAGES.map((page) => [`GET ${page}`, consolePage])),
  [`GET ${CONSOLE_ASSETS_PREFIX}*`]: open,
  'GET /apis/ui/*': { access: 'read', onFollower: 'redirect-to-leader' },
  // metrics.ts: every controller reports its own metrics; discovery lists the leader's instances
  'GET /metrics': { access: 'metrics', onFollower: 'serve' },
  'GET /apis/v1/discovery/prometheus': { access: 'read', onFollower: 'redirect-same-route' },
};

export type RouteTable = Readonly<Record<string, RouteRule>>;

/** The rule of a matched route, undefined when the table has none (the guard then refuses the request). */
export function ruleOf(table: RouteTable, method: string, url: string): RouteRule | undefined {
  const key = `${method === 'HEAD' ? 'GET' : method} ${url}`;
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** Human-readable roles of an access level (OpenAPI descriptions, docs). */
export function rolesOf(access: Access): string {
  if (access === 'public') return 'anyone, no credentials';
  if (access === 'read') return 'any authenticated principal';
  if (access === 'metrics') return 'anyone when metrics are open (monitoring.metrics), else the monitoring bearer token or any authenticated principal';
  return ACCESS_ROLES[access].join(', ');
}
