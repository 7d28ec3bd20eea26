import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { pack } from 'tar-stream';
import { DEFAULT_CONFIG_FETCH_TIMEOUT_MS, MAX_CONFIG_FETCH_BYTES, fetchConfig } from '../../model/http-config-fetch.js';
import type { ConfigSpec } from '../../model/spec.js';

/**
 * Config files injected into a created container before it starts, resolved to bytes and packed as a tar
 * (docs/design/instance-lifecycle.md#config-files).
 */

export interface ConfigFetchPolicy {
  /** EXECUTOR_HTTP_FETCH may reach this host's loopback, link-local and metadata addresses (executor option). */
  allowLocalAddresses: boolean;
}

export interface ResolvedConfig {
  path: string;
  data: Buffer;
}

export async function resolveConfigs(configs: readonly ConfigSpec[], fetch: ConfigFetchPolicy): Promise<ResolvedConfig[]> {
  const out: ResolvedConfig[] = [];
  for (const config of configs) out.push({ path: config.localFilename, data: await resolveConfig(config, fetch) });
  return out;
}

async function resolveConfig(config: ConfigSpec, fetch: ConfigFetchPolicy): Promise<Buffer> {
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
      return fetchConfig(config.http, {
        timeoutMs: DEFAULT_CONFIG_FETCH_TIMEOUT_MS,
        maxBytes: MAX_CONFIG_FETCH_BYTES,
        allowLocalAddresses: fetch.allowLocalAddresses,
        side: 'executor',
      });
    case 'CONTROLLER_HTTP_FETCH':
      throw new Error('Controller http should have been resolved to inline by controller');
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
