import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { systemClock, type Clock } from '../../model/index.js';
import type { ClusterAuthConfig, UserAuthConfig, UserRole } from '../config.js';
import { ApiError, failedError } from './errors.js';

/**
 * Authentication and authorization of controller requests (§6.1): cluster-node secrets first
 * (`Cluster-Authorization`), then instance tokens (`App-Instance-Authorization`, the JWT every container gets),
 * then HTTP Basic against the configured users. Without a `userAuth` section (or with
 * `enabled: false`) every caller is `default-user` with EXTERNAL_ROOT, as in Drove.
 */

export type PrincipalRole = UserRole | 'CLUSTER_NODE' | 'APPLICATION_INSTANCE';

export interface Principal {
  name: string;
  role: PrincipalRole;
}

/** What a route requires; one name per row of the reference access matrix. */
export type Access = 'read' | 'write' | 'maintenance' | 'logs' | 'cluster';

const ACCESS_ROLES: Record<Exclude<Access, 'read'>, readonly PrincipalRole[]> = {
  write: ['EXTERNAL_ROOT', 'EXTERNAL_READ_WRITE'],
  maintenance: ['EXTERNAL_ROOT', 'EXTERNAL_MAINTENANCE'],
  logs: ['EXTERNAL_ROOT', 'EXTERNAL_READ_WRITE', 'EXTERNAL_READ_ONLY'],
  cluster: ['CLUSTER_NODE'],
};

export interface AuthOptions {
  /**
   * How long a verified bcrypt password stays cached. bcrypt costs ~100 ms of CPU per check by design; caching
   * keeps a busy CLI or UI from burning a core. Drove caches for 30 min after last access; 5 min bounds how long
   * a removed user keeps working after a config change without restart (there is no hot reload).
   */
  bcryptCacheTtlMs: number;
  /** Entries kept in the cache (Drove: maximumSize=500). */
  bcryptCacheSize: number;
}

export const DEFAULT_AUTH_OPTIONS: AuthOptions = { bcryptCacheTtlMs: 5 * 60_000, bcryptCacheSize: 500 };

export const UNAUTHORIZED_MESSAGE = 'Credentials are required to access this resource.';

/** How instance tokens (`App-Instance-Authorization`) are checked. */
export interface InstanceTokenPolicy {
  /** `instanceAuth.secret`. */
  secret: string;
  /** `instanceAuth.tokenLifetime`: also the expiry of tokens issued without `exp` (before drove-ts set one). */
  lifetimeMs: number;
  /** False for an instance that is not (or no longer) running: its token is refused. */
  isLive(serviceId: string, instanceId: string): boolean;
}

export class Authenticator {
  private readonly bcryptCache = new Map<string, { ok: boolean; expires: number }>();
  private readonly secrets: Buffer[];

  constructor(
    private readonly userAuth: UserAuthConfig | undefined,
    clusterAuth: ClusterAuthConfig,
    private readonly disableReadAuth: boolean,
    private readonly clock: Clock = systemClock,
    private readonly options: AuthOptions = DEFAULT_AUTH_OPTIONS,
    private readonly instanceTokens?: InstanceTokenPolicy,
  ) {
    this.secrets = clusterAuth.secrets.map((s) => Buffer.from(s.secret, 'utf8'));
  }

  get userAuthEnabled(): boolean {
    return this.userAuth !== undefined && this.userAuth.enabled;
  }

  /** Resolves the caller or throws a 401 ApiError. */
  async authenticate(headers: Record<string, string | string[] | undefined>): Promise<Principal> {
    const clusterSecret = single(headers['cluster-authorization']);
    if (clusterSecret !== undefined && this.matchesSecret(clusterSecret)) {
      return { name: single(headers['nodeid']) ?? 'cluster-node', role: 'CLUSTER_NODE' };
    }
    const instanceToken = single(headers['app-instance-authorization']);
    if (instanceToken !== undefined && this.instanceTokens) {
      const { secret, lifetimeMs, isLive } = this.instanceTokens;
      const claims = verifyInstanceToken(instanceToken, secret, this.clock.now(), lifetimeMs);
      if (claims && isLive(claims.droveAppId, claims.droveInstanceId)) {
        return { name: `${claims.droveAppId}/${claims.droveInstanceId}`, role: 'APPLICATION_INSTANCE' };
      }
    }
    if (!this.userAuthEnabled) return { name: 'default-user', role: 'EXTERNAL_ROOT' };
    const credentials = parseBasic(single(headers['authorization']));
    if (credentials) {
      const user = this.userAuth!.users.find((u) => u.username === credentials.username);
      if (user && (await this.passwordMatches(credentials.username, credentials.password, user.password))) {
        return { name: user.username, role: user.role };
      }
    }
    throw unauthorized();
  }

  /** Throws a 403 ApiError when `principal` may not use a route that requires `access`. */
  authorize(principal: Principal, access: Access): void {
    if (access === 'read') return;
    if (access === 'logs' && this.disableReadAuth) return;
    if (hasRole(principal, access)) return;
    throw failedError(403, `User ${principal.name} with role ${principal.role} is not allowed to access this resource`);
  }

  private matchesSecret(candidate: string): boolean {
    const given = Buffer.from(candidate, 'utf8');
    return this.secrets.some((secret) => secret.length === given.length && timingSafeEqual(secret, given));
  }

  private async passwordMatches(username: string, given: string, stored: string): Promise<boolean> {
    if (this.userAuth!.encoding === 'PLAIN') {
      const a = Buffer.from(given, 'utf8');
      const b = Buffer.from(stored, 'utf8');
      return a.length === b.length && timingSafeEqual(a, b);
    }
    const key = createHash('sha256').update(`${username}\0${given}\0${stored}`).digest('hex');
    const now = this.clock.now();
    const cached = this.bcryptCache.get(key);
    if (cached && cached.expires > now) {
      // Re-insert so that Map order approximates least-recently-used.
      this.bcryptCache.delete(key);
      this.bcryptCache.set(key, { ok: cached.ok, expires: now + this.options.bcryptCacheTtlMs });
      return cached.ok;
    }
    let ok: boolean;
    try {
      ok = await bcrypt.compare(given, stored);
    } catch {
      ok = false;
    }
    this.bcryptCache.set(key, { ok, expires: now + this.options.bcryptCacheTtlMs });
    while (this.bcryptCache.size > this.options.bcryptCacheSize) {
      const oldest = this.bcryptCache.keys().next().value as string;
      this.bcryptCache.delete(oldest);
    }
    return ok;
  }
}

/** Whether the principal's role grants `access` (disableReadAuth aside): also what a route shows, e.g. secrets. */
export function hasRole(principal: Principal | undefined, access: Exclude<Access, 'read'>): boolean {
  return principal !== undefined && ACCESS_ROLES[access].includes(principal.role);
}

function unauthorized(): ApiError {
  return new ApiError(401, { status: 'FAILED', message: UNAUTHORIZED_MESSAGE }, { 'www-authenticate': 'Basic realm="realm"' });
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function parseBasic(header: string | undefined): { username: string; password: string } | undefined {
  if (!header) return undefined;
  const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

interface InstanceClaims {
  droveAppId: string;
  droveInstanceId: string;
}

/**
 * HS256 JWT as the controller issues to instances (issuer, audience and subject fixed by Drove), not expired at
 * `nowMs`: its `exp`, or for a token issued without one, `iat` + `lifetimeMs`.
 */
export function verifyInstanceToken(token: string, secret: string, nowMs: number, lifetimeMs: number): InstanceClaims | undefined {
  const parts = token.trim().replace(/^Bearer\s+/i, '').split('.');
  if (parts.length !== 3) return undefined;
  const [header, payload, signature] = parts as [string, string, string];
  const expected = createHmac('sha256', secret).update(`${header}.${payload}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const h = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: string };
    const p = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const audience = Array.isArray(p.aud) ? p.aud : [p.aud];
    if (h.alg !== 'HS256' || p.iss !== 'drove' || p.sub !== 'drove-controller' || !audience.includes('drove-application-instance')) {
      return undefined;
    }
    if (typeof p.droveAppId !== 'string' || typeof p.droveInstanceId !== 'string') return undefined;
    const expires = typeof p.exp === 'number' ? p.exp * 1000 : typeof p.iat === 'number' ? p.iat * 1000 + lifetimeMs : undefined;
    if (expires === undefined || nowMs >= expires) return undefined;
    return { droveAppId: p.droveAppId, droveInstanceId: p.droveInstanceId };
  } catch {
    return undefined;
  }
}
