import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { failure, systemClock, type Clock } from '../../model/index.js';
import { matchesAnySecret, secretEquals } from '../../model/secret-compare.js';
import type { ClusterAuthConfig, UserAuthConfig, UserRole } from '../config.js';
import { ApiError, failedError } from './errors.js';
import { DEFAULT_CONTROLLER_HTTP_LIMITS, type ControllerHttpLimits } from './limits.js';
import { PasswordQueueFullError, PasswordVerifier, bcryptCost } from './password-verifier.js';
import { ACCESS_ROLES, type Access } from './routes-access.js';

/**
 * Authentication and authorization of controller requests (docs/design/api-compatibility.md#authentication):
 * cluster-node secrets first (`Cluster-Authorization`), then instance tokens (`App-Instance-Authorization`, the JWT
 * every container gets), then HTTP Basic against the configured users. Without a `userAuth` section (or with
 * `enabled: false`) every caller is `default-user` with EXTERNAL_ROOT, as in Drove.
 * Which routes need what is the route table's business (routes-access.ts); this file only says who the caller is.
 */

export type PrincipalRole = UserRole | 'CLUSTER_NODE' | 'APPLICATION_INSTANCE';

export interface Principal {
  name: string;
  role: PrincipalRole;
}

export interface AuthOptions {
  /**
   * How long a verified login (user, password) stays cached; failed ones are never cached, so a flood of
   * wrong passwords cannot push real users out of the cache. bcrypt costs ~100 ms of CPU per check by design; caching
   * keeps a busy CLI or UI from burning a core. Drove caches for 30 min after last access; 5 min bounds how long
   * a removed user keeps working after a config change without restart (there is no hot reload).
   */
  bcryptCacheTtlMs: number;
  /** Entries kept in the cache (Drove: maximumSize=500). */
  bcryptCacheSize: number;
}

export const DEFAULT_AUTH_OPTIONS: AuthOptions = { bcryptCacheTtlMs: 5 * 60_000, bcryptCacheSize: 500 };

export const UNAUTHORIZED_MESSAGE = 'Credentials are required to access this resource.';

/** Called just before a credential check the cache cannot answer; throws (429) to refuse it (login-limiter.ts). */
export type AdmitVerification = () => Promise<void>;

/** How instance tokens (`App-Instance-Authorization`) are checked. */
export interface InstanceTokenPolicy {
  /** `instanceAuth.secret`. */
  secret: string;
  /** `instanceAuth.tokenLifetime`: also the expiry of tokens issued without `exp` (before drove-ts set one). */
  lifetimeMs: number;
  /** False for an instance that is not (or no longer) running: its token is refused. */
  isLive: (serviceId: string, instanceId: string) => boolean;
}

export class Authenticator {
  /** Verified logins only (see AuthOptions.bcryptCacheTtlMs). */
  private readonly verifiedCache = new Map<string, number>();
  /** Checks in progress, so that concurrent requests with the same credentials share one verification. */
  private readonly inFlight = new Map<string, Promise<boolean>>();
  private readonly secrets: string[];
  private passwords: PasswordVerifier | undefined;

  constructor(
    private readonly userAuth: UserAuthConfig | undefined,
    clusterAuth: ClusterAuthConfig,
    private readonly disableReadAuth: boolean,
    private readonly clock: Clock = systemClock,
    private readonly options: AuthOptions = DEFAULT_AUTH_OPTIONS,
    private readonly instanceTokens?: InstanceTokenPolicy,
    /** Threads and queue of bcrypt verification, started on first use (limits.ts). */
    private readonly passwordLimits: Pick<ControllerHttpLimits, 'passwordWorkers' | 'passwordQueue'> = DEFAULT_CONTROLLER_HTTP_LIMITS,
  ) {
    this.secrets = clusterAuth.secrets.map((s) => s.secret);
  }

  get userAuthEnabled(): boolean {
    return this.userAuth !== undefined && this.userAuth.enabled;
  }

  /** Resolves the caller or throws a 401 ApiError (429 when `admit` refuses a check the cache cannot answer). */
  async authenticate(
    headers: Record<string, string | string[] | undefined>,
    admit: AdmitVerification = async () => undefined,
  ): Promise<Principal> {
    const clusterSecret = single(headers['cluster-authorization']);
    if (clusterSecret !== undefined && matchesAnySecret(clusterSecret, this.secrets)) {
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
    if (!credentials) throw unauthorized();
    const user = this.userAuth!.users.find((u) => u.username === credentials.username);
    const key = createHash('sha256').update(`${credentials.username}\0${credentials.password}\0${user?.password ?? ''}`).digest('hex');
    if (user && this.cached(key)) return { name: user.username, role: user.role };
    let check = this.inFlight.get(key);
    if (!check) {
      check = admit()
        .then(() => this.passwordMatches(credentials.password, user?.password))
        .finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, check);
    }
    if (!(await check) || !user) throw unauthorized();
    this.remember(key);
    return { name: user.username, role: user.role };
  }

  /** Throws a 403 ApiError when `principal` may not use a route that requires `access`. */
  authorize(principal: Principal, access: Access): void {
    if (this.permits(principal, access)) return;
    throw failedError(403, `User ${principal.name} with role ${principal.role} is not allowed to access this resource`);
  }

  /** Whether `principal` may use a route that requires `access` (what the console asks to hide controls). */
  permits(principal: Principal, access: Access): boolean {
    if (access === 'public' || access === 'read' || access === 'metrics') return true;
    if (access === 'logs' && this.disableReadAuth) return true;
    return hasRole(principal, access);
  }

  /** bcrypt verifications done so far (the cache answered every other login). */
  get passwordVerifications(): number {
    return this.passwords?.verifications ?? 0;
  }

  /** Stops the password threads. */
  async close(): Promise<void> {
    await this.passwords?.close();
  }

  private cached(key: string): boolean {
    const expires = this.verifiedCache.get(key);
    if (expires === undefined) return false;
    this.verifiedCache.delete(key);
    if (expires <= this.clock.now()) return false;
    // Re-inserted with a fresh expiry, so that Map order approximates least-recently-used.
    this.remember(key);
    return true;
  }

  private remember(key: string): void {
    this.verifiedCache.delete(key);
    this.verifiedCache.set(key, this.clock.now() + this.options.bcryptCacheTtlMs);
    while (this.verifiedCache.size > this.options.bcryptCacheSize) {
      this.verifiedCache.delete(this.verifiedCache.keys().next().value as string);
    }
  }

  /** `stored` undefined: unknown user, checked as slowly as a known one and always false. */
  private async passwordMatches(given: string, stored: string | undefined): Promise<boolean> {
    if (this.userAuth!.encoding === 'PLAIN') return secretEquals(given, stored ?? '') && stored !== undefined;
    try {
      return await this.passwordVerifier().verify(given, stored);
    } catch (error) {
      if (error instanceof PasswordQueueFullError) throw new ApiError(429, failure(error.message), { 'retry-after': '1' });
      throw error;
    }
  }

  private passwordVerifier(): PasswordVerifier {
    if (!this.passwords) {
      const first = this.userAuth!.users[0]?.password;
      this.passwords = new PasswordVerifier({
        workers: this.passwordLimits.passwordWorkers,
        queueLimit: this.passwordLimits.passwordQueue,
        // The configured users' cost, so that an unknown user takes as long as a known one.
        dummyCost: first ? bcryptCost(first) : 10,
      });
    }
    return this.passwords;
  }
}

/** Who a refused caller said it was (Basic user name or NodeId), for the audit line of a 401. */
export function claimedName(headers: Record<string, string | string[] | undefined>): string | undefined {
  const basic = parseBasic(single(headers['authorization']));
  const name = basic?.username ?? single(headers['nodeid']);
  return name === undefined ? undefined : name.slice(0, 100);
}

/** Whether the principal's role grants `access` (disableReadAuth aside): also what a route shows, e.g. secrets. */
export function hasRole(principal: Principal | undefined, access: Exclude<Access, 'read' | 'public' | 'metrics'>): boolean {
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
