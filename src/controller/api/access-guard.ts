import type { FastifyInstance } from 'fastify';
import type { ControllerCore } from '../core.js';
import { claimedName, type Authenticator } from './auth.js';
import { failedError, notLeaderError } from './errors.js';
import type { MetricsPolicy } from '../../model/monitoring.js';
import type { LoginAdmission } from './login-limiter.js';
import { ruleOf, type RouteTable } from './routes-access.js';
import { consolePagePath } from './ui.js';

export interface AccessGuardOptions {
  table: RouteTable;
  authenticator: Authenticator;
  admission: LoginAdmission;
  core: Pick<ControllerCore, 'isLeader' | 'leaderAddress'>;
  /** Methods whose every request is audited (Drove's `auditedHttpMethods`); 401 and 403 are audited always. */
  auditedMethods: readonly string[];
  /**
   * Scheme of the console redirect to the leader: this controller's own. Controllers of one cluster are
   * configured alike, so a leader serves TLS exactly when this one does.
   */
  scheme: 'http' | 'https';
  /** Who may read `/metrics` without credentials (`metrics` access: open, or the bearer token). */
  metrics: Pick<MetricsPolicy, 'admits'>;
}

/**
 * Authentication, role check, leader guard and audit of every request, all decided on the route fastify
 * matched (`request.routeOptions`) and its rule in the route table, never on the raw URL (the router decodes
 * percent-escapes and accepts absolute-form targets, so the raw URL is not what is served).
 *
 * Order, as Drove's filters: authenticate (401), check the role (403), then the leader guard (400, or 303 for
 * console pages). Public rules skip the first two; only those that redirect followers meet the leader guard. A
 * URL that matches no route asks for credentials too (401), so that probing cannot map the API or slip past
 * authentication through the not-found path; an authenticated caller then gets the 404.
 */
export function installAccessGuard(app: FastifyInstance, options: AccessGuardOptions): void {
  const { table, authenticator, admission, core } = options;
  const audited = new Set(options.auditedMethods.map((m) => m.toUpperCase()));

  app.addHook('onRequest', async (request, reply) => {
    // A route registered for several methods (the console's assets: HEAD and GET) is looked up by the one asked.
    const registered = request.routeOptions.method;
    const method = Array.isArray(registered) ? request.method : String(registered ?? request.method);
    const route = request.routeOptions.url;
    const rule = request.is404 || route === undefined ? undefined : ruleOf(table, method, route);
    if (rule?.access === 'public') {
      // Public rules answer here without credentials, except the console's pages, which send followers on.
      if (rule.onFollower !== 'redirect-to-leader') return;
    } else {
      if (rule?.access === 'metrics' && options.metrics.admits(request.headers)) return;
      request.principal = await authenticator.authenticate(request.headers, () => admission(request));
      if (request.is404) return;
      if (!rule) {
        request.log.error({ method, route }, 'route has no rule in the route table; refused');
        throw failedError(403, `No access rule for ${method} ${route}: refused (default deny)`);
      }
      authenticator.authorize(request.principal, rule.access);
    }
    if (!core.isLeader() && rule.onFollower !== 'serve') {
      const leader = core.leaderAddress();
      if (rule.onFollower === 'redirect-to-leader' && leader) {
        return reply.redirect(`${options.scheme}://${leader}${consolePagePath(request.params, request.url)}`, 303);
      }
      if (rule.onFollower === 'redirect-same-route' && leader) {
        return reply.redirect(`${options.scheme}://${leader}${route}${queryString(request.query)}`, 307);
      }
      throw notLeaderError(leader);
    }
  });

  app.addHook('onResponse', async (request, reply) => {
    const status = reply.statusCode;
    if (status !== 401 && status !== 403 && !audited.has(request.method)) return;
    const principal = request.principal;
    const route = request.is404 ? undefined : request.routeOptions.url;
    request.log.info(
      {
        audit: true,
        user: principal?.name ?? claimedName(request.headers) ?? null,
        authenticated: principal !== undefined,
        role: principal?.role ?? null,
        method: request.method,
        route: route ?? null,
        // The raw target only where no route matched: it is then the one thing that says what was asked.
        ...(route === undefined ? { path: request.url.slice(0, 200) } : {}),
        status,
      },
      'audit',
    );
  });
}

/** The parsed query, encoded again (`?a=1&a=2`), or nothing when there is none. */
function queryString(query: unknown): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    for (const one of [value].flat()) if (typeof one === 'string') params.append(name, one);
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}
