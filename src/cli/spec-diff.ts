import { createTwoFilesPatch, FILE_HEADERS_ONLY } from 'diff';
import { LocalServiceSpecSchema, maskSpec, MASKED } from '../model/index.js';
import type { Colors } from './terminal.js';

/**
 * `apply`'s comparison of a spec file with the spec the controller stores. The controller answers with secrets
 * masked (inline config data emptied, credentials and, for read-only users, env values as `***`), so the file is
 * masked the same way before comparing: a secret is never shown and never counts as a difference. Both sides are
 * parsed as the controller parses a spec (defaults filled in) and printed with sorted keys, so that key order,
 * whitespace and a default written out or left implicit do not count either (docs/cli.md#apply).
 */

/** A unified diff from the stored spec to the file's, or undefined when they are the same. */
export function specDiff(stored: unknown, fileSpec: unknown, names: { stored: string; file: string }): string | undefined {
  const storedText = canonicalJson(stored);
  const fileText = canonicalJson(comparableFileSpec(fileSpec, stored));
  if (storedText === fileText) return undefined;
  return createTwoFilesPatch(names.stored, names.file, `${storedText}\n`, `${fileText}\n`, undefined, undefined, {
    context: 3,
    headerOptions: FILE_HEADERS_ONLY,
  }).trimEnd();
}

/** The file's spec as the controller would store and then show it. */
export function comparableFileSpec(fileSpec: unknown, stored: unknown): unknown {
  const parsed = LocalServiceSpecSchema.safeParse(fileSpec);
  // A spec the controller would refuse cannot be stored under this id anyway; compare it as written.
  const shown = parsed.success ? maskSpec(parsed.data) : fileSpec;
  return copyMasks(shown, stored);
}

/**
 * Where the stored side shows `***`, the file's value is not compared; in a map the stored side shows masked
 * as a whole (env values, header values), the file's new entries are masked too.
 */
function copyMasks(value: unknown, stored: unknown): unknown {
  if (stored === MASKED && typeof value === 'string') return MASKED;
  if (Array.isArray(value) && Array.isArray(stored)) return value.map((v, i) => copyMasks(v, stored[i]));
  if (isObject(value) && isObject(stored)) {
    const masked = isMaskedMap(stored);
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, masked && typeof v === 'string' && v !== '' ? MASKED : copyMasks(v, stored[k])]),
    );
  }
  return value;
}

function isMaskedMap(value: Record<string, unknown>): boolean {
  const values = Object.values(value);
  return values.some((v) => v === MASKED) && values.every((v) => v === MASKED || v === '');
}

/** Sorted keys, no nulls (Drove writes absent fields as null), two-space indent: one text per meaning. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value), null, 2) ?? 'null';
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (isObject(value)) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .filter((k) => value[k] !== null && value[k] !== undefined)
        .map((k) => [k, canonical(value[k])]),
    );
  }
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Red for what the file removes, green for what it adds, as `git diff` shows it. */
export function colorDiff(diff: string, colors: Colors): string {
  return diff
    .split('\n')
    .map((line) => {
      if (line.startsWith('+++') || line.startsWith('---')) return colors.bold(line);
      if (line.startsWith('@@')) return colors.cyan(line);
      if (line.startsWith('+')) return colors.green(line);
      if (line.startsWith('-')) return colors.red(line);
      return line;
    })
    .join('\n');
}
