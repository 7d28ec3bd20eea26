import { realpath } from 'node:fs/promises';
import { posix } from 'node:path';
import type { LocalServiceInstanceSpec } from '../../model/executor.js';
import { isAllowedHostPath, isHostPath } from '../../model/host-paths.js';

/**
 * The executor's own check of the host paths an instance asks for, before its container is created (defence in
 * depth, docs/security.md): the controller validated the spec against its options, but this process holds the
 * Docker socket and runs as root, so it applies this host's allow-lists too, to the path as given and to the
 * path its symlinks lead to (a link under an allowed directory may point anywhere).
 */

export interface HostPathPolicy {
  /** Empty = any directory (as the controller's allowedMountDirs). */
  allowedMountDirs: readonly string[];
  /** Empty = no EXECUTOR_LOCAL_FILE config at all. */
  allowedLocalFileDirs: readonly string[];
}

/** Why the instance may not start here, or undefined when every host path it names is allowed. */
export async function hostPathRefusal(
  spec: Pick<LocalServiceInstanceSpec, 'volumes' | 'configs'>,
  policy: HostPathPolicy,
): Promise<string | undefined> {
  for (const volume of spec.volumes ?? []) {
    const refused = await refusal(volume.pathOnHost, policy.allowedMountDirs, 'allowedMountDirs');
    if (refused) return `Volume mount refused by this executor: ${refused}`;
  }
  for (const config of spec.configs ?? []) {
    if (config.type !== 'EXECUTOR_LOCAL_FILE' || config.filePathOnHost === undefined) continue;
    const path = config.filePathOnHost;
    const refused =
      policy.allowedLocalFileDirs.length === 0
        ? `${path}: executor local files are disabled here (options.allowedLocalFileDirs is empty)`
        : await refusal(path, policy.allowedLocalFileDirs, 'allowedLocalFileDirs');
    if (refused) return `Executor local file refused by this executor: ${refused}`;
  }
  return undefined;
}

/** `dirs` empty allows any well-formed path (only allowedMountDirs gets here empty). */
async function refusal(path: string, dirs: readonly string[], option: string): Promise<string | undefined> {
  if (!isHostPath(path)) return `${path} is not an absolute normalized path`;
  if (dirs.length === 0) return undefined;
  const list = `options.${option} [${dirs.join(', ')}]`;
  if (!isAllowedHostPath(path, dirs)) return `${path} is not under ${list}`;
  // Both sides resolved: an allowed directory may itself be a symlink (/var/lib/agents -> /data/agents).
  const [resolved, ...realDirs] = await Promise.all([path, ...dirs].map(resolveSymlinks));
  if (!isAllowedHostPath(resolved!, realDirs)) return `${path} leads to ${resolved} through a symlink, which is not under ${list}`;
  return undefined;
}

/**
 * The path with every symlink of its existing part resolved; a missing tail (Docker creates a missing bind
 * source) is kept as written below the deepest existing ancestor.
 */
async function resolveSymlinks(path: string): Promise<string> {
  const missing: string[] = [];
  let current = path;
  for (;;) {
    try {
      const real = await realpath(current);
      return missing.length === 0 ? real : posix.join(real, ...missing.reverse());
    } catch {
      if (current === '/') return path;
      missing.push(posix.basename(current));
      current = posix.dirname(current);
    }
  }
}
