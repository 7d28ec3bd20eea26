import { Agent, request } from 'undici';
import { durationMs, type ConfigSpec, type HttpCallSpec } from '../../../model/index.js';
import { checkLiteralHost, guardedLookup } from './fetch-address-guard.js';

export interface ConfigFetchLimits {
  timeoutMs: number;
  maxBytes: number;
  /** Loopback, link-local, metadata and unspecified addresses may be fetched from (fetch-address-guard.ts). */
  allowLocalAddresses: boolean;
}

/**
 * Resolves CONTROLLER_HTTP_FETCH configs to INLINE ones at start time (§1.5, §5.5), with decision 10's fixes:
 * the spec's `hostname` (not localhost), standard base64 for basic auth, and a 1 MiB body limit.
 */
export async function resolveControllerFetchedConfigs(
  configs: readonly ConfigSpec[] | undefined,
  limits: ConfigFetchLimits,
): Promise<ConfigSpec[] | undefined> {
  if (!configs) return undefined;
  const out: ConfigSpec[] = [];
  for (const config of configs) {
    if (config.type !== 'CONTROLLER_HTTP_FETCH') {
      out.push(config);
      continue;
    }
    const body = await fetchConfig(config.http, limits);
    out.push({ type: 'INLINE', localFilename: config.localFilename, data: body.toString('base64') });
  }
  return out;
}

export function configUrl(http: HttpCallSpec): string {
  const scheme = http.protocol === 'HTTPS' ? 'https' : 'http';
  const port = http.port ? `:${http.port}` : '';
  const path = http.path ? (http.path.startsWith('/') ? http.path : `/${http.path}`) : '/';
  return `${scheme}://${http.hostname}${port}${path}`;
}

export async function fetchConfig(http: HttpCallSpec, limits: ConfigFetchLimits): Promise<Buffer> {
  const url = configUrl(http);
  if (!limits.allowLocalAddresses) checkLiteralHost(new URL(url).hostname);
  const headers: Record<string, string> = { ...(http.headers ?? {}) };
  if (http.authHeader) headers.Authorization = http.authHeader;
  else if (http.username !== undefined || http.password !== undefined) {
    headers.Authorization = `Basic ${Buffer.from(`${http.username ?? ''}:${http.password ?? ''}`, 'utf8').toString('base64')}`;
  }
  const connectMs = durationMs(http.connectionTimeout, limits.timeoutMs);
  const operationMs = durationMs(http.operationTimeout, limits.timeoutMs);
  const dispatcher = new Agent({
    connect: {
      timeout: connectMs,
      rejectUnauthorized: !http.insecure,
      ...(limits.allowLocalAddresses ? {} : { lookup: guardedLookup }),
    },
  });
  try {
    const response = await request(url, {
      method: http.verb ?? 'GET',
      headers,
      body: http.payload,
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
