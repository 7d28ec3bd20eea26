import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { pack } from 'tar-stream';
import { Agent, request } from 'undici';
import { durationMs } from '../../model/duration.js';
import type { ConfigSpec, HttpCallSpec } from '../../model/spec.js';

/** Config files injected into a created container before it starts (§1.5): resolved to bytes, packed as a tar. */

/** Decision 10: a config fetched over HTTP may be at most 1 MiB (Drove meant this, but capped at 22 bytes). */
export const MAX_HTTP_CONFIG_BYTES = 1024 * 1024;

export interface ResolvedConfig {
  path: string;
  data: Buffer;
}

export async function resolveConfigs(configs: readonly ConfigSpec[]): Promise<ResolvedConfig[]> {
  const out: ResolvedConfig[] = [];
  for (const config of configs) out.push({ path: config.localFilename, data: await resolveConfig(config) });
  return out;
}

async function resolveConfig(config: ConfigSpec): Promise<Buffer> {
  switch (config.type) {
    case 'INLINE':
      return Buffer.from(config.data, 'base64');
    case 'EXECUTOR_LOCAL_FILE':
      if (!config.filePathOnHost) throw new Error(`No filePathOnHost given for config ${config.localFilename}`);
      try {
        return await readFile(config.filePathOnHost);
      } catch (error) {
        throw new Error(`Could not read config file ${config.filePathOnHost}: ${(error as Error).message}`);
      }
    case 'EXECUTOR_HTTP_FETCH':
      return fetchConfig(config.http);
    case 'CONTROLLER_HTTP_FETCH':
      throw new Error('Controller http should have been resolved to inline by controller');
  }
}

/** `Authorization` for an HTTP config call: authHeader verbatim, else standard-base64 basic auth (decision 10). */
export function authorizationHeader(http: HttpCallSpec): string | undefined {
  if (http.authHeader) return http.authHeader;
  if (http.username && http.password) {
    return `Basic ${Buffer.from(`${http.username}:${http.password}`, 'utf8').toString('base64')}`;
  }
  return undefined;
}

export function configUrl(http: HttpCallSpec): string {
  const scheme = http.protocol === 'HTTPS' ? 'https' : 'http';
  const port = http.port && http.port > 0 ? http.port : scheme === 'https' ? 443 : 80;
  const path = http.path ? (http.path.startsWith('/') ? http.path : `/${http.path}`) : '/';
  const host = http.hostname.includes(':') && !http.hostname.startsWith('[') ? `[${http.hostname}]` : http.hostname;
  return `${scheme}://${host}:${port}${path}`;
}

export async function fetchConfig(http: HttpCallSpec): Promise<Buffer> {
  const url = configUrl(http);
  const timeout = durationMs(http.operationTimeout, 1_000);
  const agent = new Agent({
    connect: { timeout: durationMs(http.connectionTimeout, 1_000), rejectUnauthorized: !http.insecure },
    headersTimeout: timeout,
    bodyTimeout: timeout,
  });
  try {
    const headers: Record<string, string> = { ...(http.headers ?? {}) };
    const auth = authorizationHeader(http);
    if (auth) headers.authorization = auth;
    const verb = http.verb ?? 'GET';
    const response = await request(url, {
      method: verb,
      headers,
      dispatcher: agent,
      ...(verb !== 'GET' && http.payload !== undefined ? { body: http.payload } : {}),
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_HTTP_CONFIG_BYTES) {
        response.body.destroy();
        throw new Error(`Config response from ${url} is larger than ${MAX_HTTP_CONFIG_BYTES} bytes`);
      }
      chunks.push(chunk);
    }
    const successCodes = http.successCodes && http.successCodes.length > 0 ? http.successCodes : [200];
    if (!successCodes.includes(response.statusCode)) {
      throw new Error(`Config fetch from ${url} failed with status ${response.statusCode}`);
    }
    return Buffer.concat(chunks);
  } finally {
    agent.destroy().catch(() => undefined);
  }
}

/** A tar whose entries are the files at their absolute container paths, with their parent directories. */
export async function configTar(files: readonly ResolvedConfig[]): Promise<Buffer> {
  const archive = pack();
  const dirs = new Set<string>();
  const chunks: Buffer[] = [];
  archive.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((resolve, reject) => {
    archive.on('end', resolve);
    archive.on('error', reject);
  });
  for (const file of files) {
    const normalised = posix.normalize(file.path);
    if (!posix.isAbsolute(normalised) || normalised === '/') throw new Error(`Config path must be an absolute file path: ${file.path}`);
    const parts = normalised.split('/').filter((p) => p !== '');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (dirs.has(dir)) continue;
      dirs.add(dir);
      archive.entry({ name: `${dir}/`, type: 'directory', mode: 0o755 });
    }
    archive.entry({ name: parts.join('/'), mode: 0o644 }, file.data);
  }
  archive.finalize();
  await done;
  return Buffer.concat(chunks);
}
