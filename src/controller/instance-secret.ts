import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError, type ControllerConfig } from './config.js';

/**
 * The HMAC secret of instance tokens (`instanceAuth.secret`) has no built-in default (docs/security.md): a value
 * every Drove cluster shares would let anyone mint tokens. When the config gives none, the controller generates
 * one on first start and keeps it beside its SQLite store, mode 0600, so tokens stay valid across restarts.
 * An etcd store has several controllers that must all share it: there the config must give it (config.ts),
 * rather than each controller reading it from etcd before it may start (a controller must be able to start, and
 * answer as a non-leader, while etcd has no quorum).
 */

/** 32 random bytes: the full strength of HMAC-SHA256. */
export function generateSecret(): string {
  return randomBytes(32).toString('hex');
}

const SecretFileSchema = z.object({ instanceAuthSecret: z.string().min(32) });

/** Where a SQLite-backed controller keeps the secrets it generated: `<store path>.secrets.json`. */
export function secretFileOf(storePath: string): string {
  return `${resolve(storePath)}.secrets.json`;
}

export interface ResolvedInstanceSecret {
  secret: string;
  /** config: given by the operator; file: read from or just written to `file`; memory: this process only. */
  source: 'config' | 'file' | 'memory';
  file?: string;
  generated: boolean;
}

export function resolveInstanceSecret(config: ControllerConfig): ResolvedInstanceSecret {
  if (config.instanceAuth.secret) return { secret: config.instanceAuth.secret, source: 'config', generated: false };
  if (config.store.type !== 'sqlite') throw new ConfigError('instanceAuth.secret is required with an etcd store');
  // An in-memory store forgets everything on exit; its tokens may as well.
  if (config.store.path === ':memory:') return { secret: generateSecret(), source: 'memory', generated: true };
  const file = secretFileOf(config.store.path);
  const existing = readSecretFile(file);
  if (existing) return { secret: existing, source: 'file', file, generated: false };
  return { secret: createSecretFile(file), source: 'file', file, generated: true };
}

function readSecretFile(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`${file} is not valid JSON (${(error as Error).message}); remove it to generate a new instance token secret (running instances then need a restart to get a valid token)`);
  }
  const parsed = SecretFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`${file} has no valid instanceAuthSecret; remove it to generate a new one (running instances then need a restart to get a valid token)`);
  }
  return parsed.data.instanceAuthSecret;
}

/**
 * Written under a temporary name and linked into place, so the file is never seen half-written and a second
 * process starting at the same moment keeps the first one's secret instead of replacing it.
 */
function createSecretFile(file: string): string {
  mkdirSync(dirname(file), { recursive: true });
  const secret = generateSecret();
  const temporary = `${file}.${process.pid}.tmp`;
  rmSync(temporary, { force: true });
  writeFileSync(temporary, `${JSON.stringify({ instanceAuthSecret: secret }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temporary, file);
    return secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return readSecretFile(file)!;
  } finally {
    rmSync(temporary, { force: true });
  }
}
