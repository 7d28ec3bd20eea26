import { Agent, request } from 'undici';
import { durationMs } from './duration.js';
import { checkLiteralHost, guardedLookup, type FetchingSide } from './fetch-address-guard.js';
import type { HttpCallSpec } from './spec.js';

/**
 * The one HTTP call behind config fetches: CONTROLLER_HTTP_FETCH on the controller (the body is inlined into the
 * instance spec) and EXECUTOR_HTTP_FETCH on the executor (the body becomes the config file). One behaviour for
 * both, Drove's where Drove is right:
 * - the spec's `hostname` (Drove calls localhost whatever it says); an IPv6 literal is put in brackets;
 * - port 0 or absent means the protocol's default (80, 443), as in Drove;
 * - `authHeader` verbatim, else Basic auth with standard base64 when both `username` and `password` are given
 *   (Drove's rule: half a credential is not sent; Drove encodes URL-safe base64, which servers refuse);
 * - the statuses in `successCodes` (default 200) succeed; a body over `maxBytes` (1 MiB) fails;
 * - no redirects; no body on a GET;
 * - unless allowed, loopback, link-local, metadata and unspecified addresses are refused (fetch-address-guard.ts).
 */

/** Largest body fetched: 1 MiB, what Drove meant (it wrote `2 ^ 20`, which is 22). */
export const MAX_CONFIG_FETCH_BYTES = 1024 * 1024;

/**
 * Connection and response timeout when the spec gives none. Drove defaults to 1 s; a config server on a loaded
 * host can take longer, and a fetch that times out fails the start attempt, so 10 s.
 */
export const DEFAULT_CONFIG_FETCH_TIMEOUT_MS = 10_000;

export interface ConfigFetchLimits {
  /** Each of the connection and the response timeout when the spec does not set it. */
  timeoutMs: number;
  maxBytes: number;
  /** Loopback, link-local, metadata and unspecified addresses may be fetched from. */
  allowLocalAddresses: boolean;
  /** Who fetches: the refusal names that side's config, where the option is set. */
  side: FetchingSide;
}

export function configUrl(http: HttpCallSpec): string {
  const scheme = http.protocol === 'HTTPS' ? 'https' : 'http';
  const port = http.port && http.port > 0 ? http.port : scheme === 'https' ? 443 : 80;
  const path = http.path ? (http.path.startsWith('/') ? http.path : `/${http.path}`) : '/';
  const host = http.hostname.includes(':') && !http.hostname.startsWith('[') ? `[${http.hostname}]` : http.hostname;
  return `${scheme}://${host}:${port}${path}`;
}

export function authorizationHeader(http: HttpCallSpec): string | undefined {
  if (http.authHeader) return http.authHeader;
  if (http.username && http.password) return `Basic ${Buffer.from(`${http.username}:${http.password}`, 'utf8').toString('base64')}`;
  return undefined;
}

export async function fetchConfig(http: HttpCallSpec, limits: ConfigFetchLimits): Promise<Buffer> {
  const url = configUrl(http);
  if (!limits.allowLocalAddresses) checkLiteralHost(new URL(url).hostname, limits.side);
  // The credentials replace an Authorization header given among the headers, whatever its case.
  const headers: Record<string, string> = { ...(http.headers ?? {}) };
  const auth = authorizationHeader(http);
  if (auth) {
    for (const name of Object.keys(headers)) if (name.toLowerCase() === 'authorization') delete headers[name];
    headers.Authorization = auth;
  }
  const operationMs = durationMs(http.operationTimeout, limits.timeoutMs);
  const dispatcher = new Agent({
    connect: {
      timeout: durationMs(http.connectionTimeout, limits.timeoutMs),
      rejectUnauthorized: !http.insecure,
      ...(limits.allowLocalAddresses ? {} : { lookup: guardedLookup(limits.side) }),
    },
  });
  try {
    const verb = http.verb ?? 'GET';
    const response = await request(url, {
      method: verb,
      headers,
      ...(verb !== 'GET' && http.payload !== undefined ? { body: http.payload } : {}),
      dispatcher,
      headersTimeout: operationMs,
      bodyTimeout: operationMs,
    });
    const codes = http.successCodes && http.successCodes.length > 0 ? http.successCodes : [200];
    if (!codes.includes(response.statusCode)) {
      await response.body.dump();
      throw new Error(`Config fetch from ${url} returned HTTP ${response.statusCode}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body) {
      const buffer = chunk as Buffer;
      size += buffer.length;
      if (size > limits.maxBytes) {
        response.body.destroy();
        throw new Error(`Config fetched from ${url} is larger than ${limits.maxBytes} bytes`);
      }
      chunks.push(buffer);
    }
    return Buffer.concat(chunks);
  } finally {
    await dispatcher.close().catch(() => undefined);
  }
}
