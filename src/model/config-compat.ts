import { z } from 'zod';
import { configErrorMessage } from './schema-helpers.js';

/**
 * Drove's config files carry over (docs/drove-config.md): before the strict schema reads a controller or executor
 * config, the keys Drove spells differently are moved to drove-ts's names. Every move is remembered, so an error
 * in a moved value names the key as the file wrote it. A Drove key both spelled Drove's way and ours is refused:
 * one file, one value.
 */

type Path = readonly string[];
type Issue = z.core.$ZodIssue;
type Json = Record<string, unknown>;

export interface CompatContext {
  readonly raw: Json;
  /** Where each moved value came from: our path -> the path in the file. */
  readonly moved: Array<{ ours: Path; drove: Path }>;
  readonly issues: Issue[];
}

/** A rename from Drove's key to ours; `convert` maps the value, drops it (Drove's "use the default"), or refuses it. */
export interface KeyAlias {
  drove: string;
  ours: string;
  convert?: (value: unknown) => { value: unknown } | { drop: true } | { refuse: string };
}

/** A step that rewrites a whole Drove section (Dropwizard `server`, `logging`), for shapes a rename cannot express. */
export type CompatStep = (context: CompatContext) => void;

export interface DroveCompatibility {
  aliases: readonly KeyAlias[];
  steps: readonly CompatStep[];
  /** `<path>.<key>` of Drove keys drove-ts does not support -> why, shown with the unknown-key error. */
  unsupported: Readonly<Record<string, string>>;
}

export function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function getPath(root: unknown, path: Path): unknown {
  let node = root;
  for (const segment of path) {
    if (!isObject(node)) return undefined;
    node = node[segment];
  }
  return node;
}

function parentOf(root: Json, path: Path, create: boolean): Json | undefined {
  let node: Json = root;
  for (const segment of path.slice(0, -1)) {
    if (node[segment] === undefined && create) node[segment] = {};
    const next = node[segment];
    if (!isObject(next)) return undefined;
    node = next;
  }
  return node;
}

export function deletePath(root: Json, path: Path): void {
  const parent = parentOf(root, path, false);
  if (parent) delete parent[path.at(-1)!];
}

/** A custom issue at `path`, in the form the strict schema's own issues take. */
export function refusal(context: CompatContext, path: Path, message: string): void {
  context.issues.push({ code: 'custom', path: [...path], message, input: undefined } as Issue);
}

/** Keys of a Drove section that drove-ts has no place for: reported as unknown keys, with their hints. */
export function unknownKeys(context: CompatContext, path: Path, keys: readonly string[]): void {
  if (keys.length === 0) return;
  context.issues.push({ code: 'unrecognized_keys', path: [...path], keys: [...keys], message: '', input: undefined } as Issue);
}

/**
 * Moves the value at Drove's path `from` to our path `to`. Refused when the file gives both, or when the parent of
 * `to` is not a section (the schema then reports that section's own type error).
 */
export function moveValue(context: CompatContext, from: Path, to: Path, value: unknown): void {
  deletePath(context.raw, from);
  if (getPath(context.raw, to) !== undefined) {
    refusal(context, from, `is Drove's name for ${to.join('.')}; give only one of them`);
    return;
  }
  const parent = parentOf(context.raw, to, true);
  if (!parent) return;
  parent[to.at(-1)!] = value;
  context.moved.push({ ours: to, drove: from });
}

function applyAlias(context: CompatContext, alias: KeyAlias): void {
  const from = alias.drove.split('.');
  const value = getPath(context.raw, from);
  if (value === undefined) return;
  const converted = alias.convert ? alias.convert(value) : { value };
  if ('drop' in converted) return deletePath(context.raw, from);
  if ('refuse' in converted) {
    deletePath(context.raw, from);
    return refusal(context, from, converted.refuse);
  }
  moveValue(context, from, alias.ours.split('.'), converted.value);
}

function startsWith(path: readonly PropertyKey[], prefix: Path): boolean {
  return prefix.every((segment, i) => String(path[i]) === segment);
}

/** An issue of a moved value, re-addressed to where the file wrote it. */
function readdressed(issue: Issue, moved: CompatContext['moved']): Issue {
  const move = moved.find((m) => startsWith(issue.path, m.ours));
  if (!move) return issue;
  return { ...issue, path: [...move.drove, ...issue.path.slice(move.ours.length)] } as Issue;
}

/** Hint of an unknown Drove key: what drove-ts does instead, and where the mapping is documented. */
export function unsupportedHints(unsupported: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(unsupported).map(([key, why]) => [key, `Drove's key, not supported by drove-ts: ${why}; see docs/drove-config.md`]),
  );
}

/**
 * Parses a config with Drove's spellings accepted: the aliases and steps rewrite a copy of `raw`, the schema reads
 * it, and every issue (the rewrite's and the schema's) comes back in one message naming the keys as written.
 */
export function parseDroveCompatible<S extends z.ZodType>(
  schema: S,
  raw: unknown,
  compat: DroveCompatibility,
  source: string,
): { ok: true; data: z.infer<S> } | { ok: false; message: string } {
  if (!isObject(raw)) {
    const result = schema.safeParse(raw ?? {});
    return result.success ? { ok: true, data: result.data } : { ok: false, message: configErrorMessage(source, result.error) };
  }
  const context: CompatContext = { raw: structuredClone(raw), moved: [], issues: [] };
  for (const step of compat.steps) step(context);
  for (const alias of compat.aliases) applyAlias(context, alias);
  const result = schema.safeParse(context.raw);
  const issues = [...context.issues, ...(result.success ? [] : result.error.issues.map((i) => readdressed(i, context.moved)))];
  if (issues.length === 0 && result.success) return { ok: true, data: result.data };
  return { ok: false, message: configErrorMessage(source, new z.ZodError(issues), unsupportedHints(compat.unsupported)) };
}
