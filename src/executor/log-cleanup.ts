import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Periodic, type Clock } from '../model/index.js';

/**
 * Instance log folders outlive their containers (so logs can be read after a crash), but not forever: a
 * long-running executor would otherwise fill its disk with the logs of every instance it ever ran. A folder is
 * removed once its instance is not running here and has not written for `retentionMs`. The writer touches the
 * folder when it closes (logs.ts), so the newest mtime in a folder is when its instance stopped: that is the
 * "reached a terminal state" time, and it survives executor restarts because it lives on disk.
 */

export interface InstanceLogCleanupOptions {
  logDir: string;
  /** How long the logs of a stopped instance are kept (ms). */
  retentionMs: number;
  /** How often folders are checked (ms). */
  intervalMs: number;
  /** Whether this instance runs (or is being started or stopped) here; its folder is never touched then. */
  isLive: (serviceId: string, instanceId: string) => boolean;
  clock: Clock;
  onError?: (error: unknown) => void;
}

/** Removes the folders of instances not live and idle for longer than `retentionMs`; returns them as `serviceId/instanceId`. */
export async function sweepInstanceLogs(
  options: Pick<InstanceLogCleanupOptions, 'logDir' | 'retentionMs' | 'isLive'>,
  now: number,
): Promise<string[]> {
  const removed: string[] = [];
  for (const serviceId of await subdirectories(options.logDir)) {
    const serviceDir = join(options.logDir, serviceId);
    const instanceIds = await subdirectories(serviceDir);
    for (const instanceId of instanceIds) {
      if (options.isLive(serviceId, instanceId)) continue;
      const dir = join(serviceDir, instanceId);
      const last = await lastActivity(dir);
      if (last === undefined || now - last <= options.retentionMs) continue;
      await rm(dir, { recursive: true, force: true });
      removed.push(`${serviceId}/${instanceId}`);
    }
    // An emptied service folder goes too; rmdir refuses (and we ignore) one a new instance has just created in.
    if ((await readdir(serviceDir).catch(() => ['?'])).length === 0) await rmdir(serviceDir).catch(() => undefined);
  }
  return removed;
}

/** Sweeps every `intervalMs` on the clock between start() and stop(). */
export function instanceLogCleanup(options: InstanceLogCleanupOptions): Periodic {
  if (!(options.retentionMs > 0)) throw new Error('instance log retention must be a positive duration');
  if (!(options.intervalMs > 0)) throw new Error('instance log cleanup interval must be a positive duration');
  return new Periodic({
    name: 'instance log cleanup',
    clock: options.clock,
    intervalMs: options.intervalMs,
    run: () => sweepInstanceLogs(options, options.clock.now()),
    ...(options.onError ? { onError: options.onError } : {}),
  });
}

async function subdirectories(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

/** The newest mtime of the folder and the files in it (ms); undefined when it vanished meanwhile. */
async function lastActivity(dir: string): Promise<number | undefined> {
  try {
    let newest = (await stat(dir)).mtimeMs;
    for (const name of await readdir(dir)) {
      const file = await stat(join(dir, name)).catch(() => undefined);
      if (file) newest = Math.max(newest, file.mtimeMs);
    }
    return newest;
  } catch {
    return undefined;
  }
}
