import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse as parseIni, stringify as stringifyIni } from 'ini';
import { UsageError } from './exit-codes.js';

/**
 * The CLI's cluster configuration: `~/.drove` in the Python drove CLI's INI format (sections with `endpoint`,
 * `username`, `password`, `auth_header`, `insecure`; `[DEFAULT] current_cluster = <section>` picks the default),
 * overridden by the global command-line options. The password comes from `-p`, else `DROVE_PASSWORD`, else the
 * file; with none, a terminal asks for it (runtime.ts).
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

/** The environment variable a password is read from, so that it need not be on the command line (`ps`). */
export const PASSWORD_ENV = 'DROVE_PASSWORD';

/**
 * 30 s: a healthy leader answers every CLI call in milliseconds; anything slower is a hung gateway or a network
 * partition, and an operator's terminal should not hang forever on it.
 */
export const DEFAULT_HTTP_TIMEOUT_MS = 30_000;

export class CliConfigError extends UsageError {}

export function defaultConfigPath(): string {
  return join(homedir(), '.drove');
}

export function resolveConnection(options: GlobalOptions, env: NodeJS.ProcessEnv = process.env): ClusterConnection {
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
    password: options.password ?? nonEmpty(env[PASSWORD_ENV]) ?? section.password,
    insecure: options.insecure === true || truthy(section.insecure),
    debug: options.debug === true,
    timeoutMs,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
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
  const parsed = parseConfigText(text);
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

/** Python configparser's `%(name)s` interpolation, which the Python CLI's README uses for tokens; `%%` is `%`. */
function interpolate(values: Record<string, string>): Section {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    out[key] = String(value).replace(/%%|%\((\w+)\)s/g, (match, ref: string | undefined) => (match === '%%' ? '%' : (values[ref!] ?? '')));
  }
  return out as Section;
}

function parseConfigText(text: string): Record<string, unknown> {
  return parseIni(text) as Record<string, unknown>;
}

/** The file as sections of keys (`DEFAULT` included), values as written (not interpolated); absent: undefined. */
export type ConfigFileData = Record<string, Record<string, string>>;

export function readConfigFile(path: string): ConfigFileData | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliConfigError(`Cannot read config file ${path}: ${(error as Error).message}`);
  }
  const data: ConfigFileData = {};
  for (const [name, value] of Object.entries(parseConfigText(text))) {
    if (value && typeof value === 'object') data[name] = { ...(value as Record<string, string>) };
    // Keys above every section belong to no cluster; configparser refuses such a file, keep them as defaults.
    else (data.DEFAULT ??= {})[name] = String(value);
  }
  return data;
}

/** A value as the file must hold it so that configparser (and `interpolate`) read it back unchanged. */
export function escapeConfigValue(value: string): string {
  return value.replaceAll('%', '%%');
}

/**
 * Writes the whole file at once (a temporary file renamed over it: an interrupted write leaves the old file),
 * readable by its owner only: it holds passwords. DEFAULT comes first, as configparser writes it.
 */
export function writeConfigFile(path: string, data: ConfigFileData): void {
  const ordered: ConfigFileData = {};
  for (const name of ['DEFAULT', ...Object.keys(data).filter((n) => n !== 'DEFAULT')]) {
    const section = data[name];
    if (section && (name !== 'DEFAULT' || Object.keys(section).length > 0)) ordered[name] = section;
  }
  const temporary = join(dirname(path), `.drove-config-${process.pid}.tmp`);
  writeFileSync(temporary, stringifyIni(ordered, { whitespace: true }), { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}

function truthy(value: string | undefined): boolean {
  return value !== undefined && ['true', 'yes', '1', 'on'].includes(String(value).toLowerCase());
}
