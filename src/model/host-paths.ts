import { posix } from 'node:path';
import { z } from 'zod';

/**
 * Paths on an executor host that a spec asks for (volume `pathOnHost`, EXECUTOR_LOCAL_FILE `filePathOnHost`) and
 * the allow-lists that bound them (docs/security.md). One rule for the controller's validator and the executor's
 * re-check, so that both read a path the same way.
 */

/**
 * A host path must be absolute and already normalized: no `.`/`..` segments (`/tmp/../etc` would pass a prefix
 * check on `/tmp`), no empty segments (`//`) and no trailing `/` (one spelling per directory, so allow-list
 * comparisons cannot be dodged), no `:` (Docker's bind syntax `host:container:mode` would read it as a separator)
 * and no NUL.
 */
export const HOST_PATH_RULE = '- Host path must be absolute and normalized (no ".", ".." or empty segments, no trailing "/", no ":")';

export function isHostPath(path: string): boolean {
  if (!path.startsWith('/') || path.includes('\0') || path.includes(':')) return false;
  if (posix.normalize(path) !== path) return false;
  return path === '/' || !path.endsWith('/');
}

/** `path` is `dir` or below it, compared on segment boundaries (`/tmp` holds `/tmp/x`, not `/tmpx`). */
export function isWithinDir(path: string, dir: string): boolean {
  if (dir === '/') return path.startsWith('/');
  return path === dir || path.startsWith(`${dir}/`);
}

/** A well-formed host path under one of `dirs`. */
export function isAllowedHostPath(path: string, dirs: readonly string[]): boolean {
  return isHostPath(path) && dirs.some((dir) => isWithinDir(path, dir));
}

/**
 * An allow-list in a config file: absolute directories, normalized as they are read (`/tmp/` becomes `/tmp`, as
 * Drove's prefix check treated it), so that entries compare on segment boundaries.
 */
export function hostDirList() {
  return z.array(
    z
      .string()
      .refine((dir) => dir.startsWith('/'), { error: 'must be an absolute directory such as /var/lib/agents' })
      .transform((dir) => {
        const normalized = posix.normalize(dir);
        return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
      }),
  );
}
