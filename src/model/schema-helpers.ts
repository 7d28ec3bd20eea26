import { z } from 'zod';
import { canonicalDuration, parseDuration } from './duration.js';

/**
 * Jackson treats an explicit `null` like an absent field; we do the same by dropping null-valued object keys
 * before validation, so every schema only has to deal with "absent". Copy on write: a value without nulls is
 * returned as it is, and a copy is made only of the objects and arrays on the way to a null. Every executor
 * message passes here, and copying all of them made more garbage than JSON.parse (bench:scale, docs/scale.md).
 */
export function dropNulls(value: unknown, depth = 0): unknown {
  // Deep nesting is an attack, not a spec: the schemas reject it anyway, so stop walking.
  if (depth > 64 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      const cleaned = dropNulls(v, depth + 1);
      if (out === undefined && cleaned !== v) out = value.slice(0, i);
      out?.push(cleaned);
    }
    return out ?? value;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  let out: Record<string, unknown> | undefined;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const v = record[key];
    const cleaned = v === null ? v : dropNulls(v, depth + 1);
    if (out === undefined && (v === null || cleaned !== v)) {
      // The keys before this one, unchanged.
      out = {};
      for (let j = 0; j < i; j++) out[keys[j]!] = record[keys[j]!];
    }
    if (out !== undefined && v !== null) out[key] = cleaned;
  }
  return out ?? value;
}

/** A required string: absent or empty both give the bean-validation message Drove uses. */
export function requiredString(message: string) {
  return z.string({ error: (iss) => (iss.input === undefined ? message : undefined) }).min(1, { error: message });
}

/** Enum values are case-insensitive in JSON bodies, as Drove's Jackson reads them. */
export function ciEnum<const T extends readonly [string, ...string[]]>(values: T, requiredMessage?: string) {
  return z.preprocess(
    (v) => (typeof v === 'string' ? v.toUpperCase() : v),
    z.enum(values, {
      error: (iss) =>
        iss.input === undefined && requiredMessage ? requiredMessage : `Invalid value, expected one of ${values.join(', ')}`,
    }),
  );
}

/** A Drove duration string, normalised to its output form ("5m" -> "5 minutes"). */
export function duration(requiredMessage?: string) {
  return z
    .string({ error: (iss) => (iss.input === undefined && requiredMessage ? requiredMessage : undefined) })
    .refine((s) => parseDuration(s) !== undefined, {
      error: 'Invalid duration, expected "<integer> <unit>" such as "5 seconds" or "5m"',
    })
    .transform((s) => canonicalDuration(s));
}

export function int(opts: { min?: [number, string]; max?: [number, string]; required?: string } = {}) {
  let schema = z.number({ error: (iss) => (iss.input === undefined && opts.required ? opts.required : undefined) }).int();
  if (opts.min) schema = schema.min(opts.min[0], { error: opts.min[1] });
  if (opts.max) schema = schema.max(opts.max[0], { error: opts.max[1] });
  return schema;
}

/** Formats zod issues as Dropwizard does for bean validation: "<property path> <message>". */
export function issueMessages(error: z.ZodError, prefix = ''): string[] {
  return error.issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter((p) => p !== '').join('.');
    return path ? `${path} ${issue.message}` : issue.message;
  });
}

/**
 * The one way to declare an object of a configuration file (controller and executor YAML): `strict.object(...)`,
 * so that an unknown key (a typo such as `userAth:`) is a start-up error naming it instead of a section silently
 * left at its default (docs/security.md). Every object of a config schema, at every nesting level, uses it; API
 * bodies (specs, operations, messages) keep `z.object`, because Drove ignores unknown JSON fields and so do we.
 */
export const strict = {
  object<T extends z.core.$ZodLooseShape>(shape: T) {
    return z.strictObject(shape);
  },
};

/**
 * Start-up error text of a config file that failed its schema: `Invalid <source>: <issue>` for one issue, one
 * issue a line for several. An unknown key reads `unknown key "<key>" (at <path>)`, with a hint where Drove spells
 * the same setting elsewhere (`hints` maps `<path>.<key>` to it).
 */
export function configErrorMessage(source: string, error: z.ZodError, hints: Readonly<Record<string, string>> = {}): string {
  const messages = error.issues.flatMap((issue) => {
    if (issue.code !== 'unrecognized_keys') return issueMessages(new z.ZodError([issue]));
    const at = issue.path.map(String).join('.');
    return issue.keys.map((key) => {
      const hint = hints[at ? `${at}.${key}` : key];
      return `unknown key "${key}" (at ${at || 'top level'}${hint ? `; ${hint}` : ''})`;
    });
  });
  return messages.length === 1 ? `Invalid ${source}: ${messages[0]}` : `Invalid ${source}:\n${messages.map((m) => `  - ${m}`).join('\n')}`;
}
