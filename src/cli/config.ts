import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse as parseIni } from 'ini';

/**
 * The CLI's cluster configuration: `~/.drove` in the Python drove CLI's INI format (sections with `endpoint`,
 * `username`, `password`, `auth_header`, `insecure`; `[DEFAULT] current_cluster = <section>` picks the default),
 * overridden by the global command-line options.
 */

export interface GlobalOptions {
  file?: string;
  cluster?: string;
  endpoint?: string;
  authHeader?: string;
  username?: string;
  password?: string;
  insecure?: boolean;
  debug?: boolean;
  httpTimeout?: string;
}

export interface ClusterConnection {
  endpoint: string;
  authHeader?: string;
  username?: string;
  password?: string;
  insecure: boolean;
  debug: boolean;
  /** Per-request timeout (connect, headers and body silence), ms. */
  timeoutMs: number;
}

/**
 * 30 s: a healthy leader answers every CLI call in milliseconds; anything slower is a hung gateway or a network
 * partition, and an operator's terminal should not hang forever on it.
 */
export const DEFAULT_HTTP_TIMEOUT_MS = 30_000;

export class CliConfigError extends Error {}

export function defaultConfigPath(): string {
  return join(homedir(), '.drove');
}

export function resolveConnection(options: GlobalOptions): ClusterConnection {
  const section = readSection(options);
  const endpoint = options.endpoint ?? section.endpoint;
  if (!endpoint) {
    throw new CliConfigError(
      'No cluster endpoint: pass --endpoint http://<controller>:<port>, or create ~/.drove with a section holding ' +
        '`endpoint = ...` (and `current_cluster = <section>` under [DEFAULT], or pass --cluster <section>)',
    );
  }
  if (!/^https?:\/\/[^/]+/i.test(endpoint)) {
    throw new CliConfigError(`Endpoint "${endpoint}" must be an http:// or https:// URL`);
  }
  let timeoutMs = DEFAULT_HTTP_TIMEOUT_MS;
  if (options.httpTimeout !== undefined) {
    const seconds = Number(options.httpTimeout);
    if (!Number.isFinite(seconds) || seconds <= 0) {
      throw new CliConfigError(`--http-timeout must be a positive number of seconds, got "${options.httpTimeout}"`);
    }
    timeoutMs = Math.round(seconds * 1000);
  }
  return {
    endpoint: endpoint.replace(/\/+$/, ''),
    authHeader: options.authHeader ?? section.auth_header,
    username: options.username ?? section.username,
    password: options.password ?? section.password,
    insecure: options.insecure === true || truthy(section.insecure),
    debug: options.debug === true,
    timeoutMs,
  };
}

type Section = Partial<Record<'endpoint' | 'username' | 'password' | 'auth_header' | 'insecure', string>>;

function readSection(options: GlobalOptions): Section {
  const path = options.file ?? defaultConfigPath();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    // The default file is optional (everything may come from options); an explicitly named one is not.
    if (options.file !== undefined) throw new CliConfigError(`Cannot read config file ${path}: ${(error as Error).message}`);
    if (options.cluster !== undefined) throw new CliConfigError(`Cluster "${options.cluster}" requested but ${path} does not exist`);
    return {};
  }
  const parsed = parseIni(text) as Record<string, unknown>;
  const defaults = (parsed.DEFAULT ?? {}) as Record<string, string>;
  const name = options.cluster ?? defaults.current_cluster;
  if (!name) {
    // A file with top-level keys only (no sections) is used as is.
    return { ...defaults, ...topLevel(parsed) } as Section;
  }
  const section = parsed[name];
  if (!section || typeof section !== 'object') {
    const known = Object.keys(parsed).filter((k) => k !== 'DEFAULT' && typeof parsed[k] === 'object');
    throw new CliConfigError(`No section [${name}] in ${path}; known clusters: ${known.join(', ') || '(none)'}`);
  }
  return interpolate({ ...defaults, ...(section as Record<string, string>) });
}

function topLevel(parsed: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(parsed).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
}

/** Python configparser's `%(name)s` interpolation, which the Python CLI's README uses for tokens. */
function interpolate(values: Record<string, string>): Section {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    out[key] = String(value).replace(/%\((\w+)\)s/g, (_, ref: string) => values[ref] ?? '');
  }
  return out as Section;
}

function truthy(value: string | undefined): boolean {
  return value !== undefined && ['true', 'yes', '1', 'on'].includes(String(value).toLowerCase());
}
