import { z } from 'zod';
import { isLoopback } from './listen-address.js';
import { strict } from './schema-helpers.js';
import { secretEquals } from './secret-compare.js';

/**
 * Who may read `/metrics` (docs/metrics.md#access): the `monitoring:` section of the controller's and the
 * executor's config. (Not `metrics:`: Drove's config files use that key for Dropwizard's reporters.)
 */

export const METRICS_ACCESS_MODES = ['open', 'authenticated'] as const;
export type MetricsAccessMode = (typeof METRICS_ACCESS_MODES)[number];

/** Shortest bearer token accepted: 16 characters of a generated token are ~95 bits, beyond online guessing. */
export const MIN_BEARER_TOKEN_LENGTH = 16;

export const MonitoringConfigSchema = strict.object({
  /**
   * `open`: `/metrics` answers without credentials. `authenticated`: it asks for `bearerToken` (or, on the
   * controller, any user's credentials). Absent: `open` exactly when `server.host` is a loopback address (only this
   * machine can connect), `authenticated` on any other address, so metrics are never open to the network unless the
   * operator wrote `open`.
   */
  metrics: z.enum(METRICS_ACCESS_MODES).optional(),
  /** Sent by Prometheus as `Authorization: Bearer <token>` (its scrape config's `authorization.credentials`). */
  bearerToken: z
    .string()
    .min(MIN_BEARER_TOKEN_LENGTH, { error: `must be at least ${MIN_BEARER_TOKEN_LENGTH} characters (generate one, e.g. openssl rand -hex 24)` })
    .optional(),
});
export type MonitoringConfig = z.infer<typeof MonitoringConfigSchema>;

/** The access rule of `/metrics`, resolved against the address the server listens on. */
export class MetricsPolicy {
  readonly open: boolean;
  private readonly bearerToken: string | undefined;

  constructor(config: MonitoringConfig | undefined, listenHost: string) {
    const mode = config?.metrics ?? (isLoopback(listenHost) ? 'open' : 'authenticated');
    this.open = mode === 'open';
    this.bearerToken = config?.bearerToken;
  }

  get hasBearerToken(): boolean {
    return this.bearerToken !== undefined;
  }

  /** True when the request may read `/metrics` without any other credentials: metrics are open, or it carries the token. */
  admits(headers: Record<string, string | string[] | undefined>): boolean {
    if (this.open) return true;
    if (this.bearerToken === undefined) return false;
    const authorization = headers.authorization;
    const value = Array.isArray(authorization) ? authorization[0] : authorization;
    const match = value === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(value);
    return match !== null && secretEquals(match[1]!, this.bearerToken);
  }
}
