/**
 * Dropwizard `Duration` strings, as Drove reads and writes them on the wire
 * (docs/design/api-compatibility.md#wire-conventions).
 * Input: "<integer><optional spaces><unit>"; output: "<n> <unit-plural>" with the `s` dropped when n == 1.
 * The unit the user chose is preserved ("5m" prints as "5 minutes", not "300 seconds").
 */

const UNIT_TO_CANONICAL: Record<string, CanonicalUnit> = {
  ns: 'nanosecond', nanosecond: 'nanosecond', nanoseconds: 'nanosecond',
  us: 'microsecond', microsecond: 'microsecond', microseconds: 'microsecond',
  ms: 'millisecond', millisecond: 'millisecond', milliseconds: 'millisecond',
  s: 'second', second: 'second', seconds: 'second',
  m: 'minute', min: 'minute', mins: 'minute', minute: 'minute', minutes: 'minute',
  h: 'hour', hour: 'hour', hours: 'hour',
  d: 'day', day: 'day', days: 'day',
};

type CanonicalUnit = 'nanosecond' | 'microsecond' | 'millisecond' | 'second' | 'minute' | 'hour' | 'day';

const UNIT_MS: Record<CanonicalUnit, number> = {
  nanosecond: 1e-6,
  microsecond: 1e-3,
  millisecond: 1,
  second: 1_000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

const PATTERN = /^(\d+)\s*([a-z]+)$/;

export interface ParsedDuration {
  count: number;
  unit: CanonicalUnit;
}

/** Parses a Drove duration string; returns undefined when it is not one. */
export function parseDuration(text: string): ParsedDuration | undefined {
  const match = PATTERN.exec(text.trim());
  if (!match) return undefined;
  const unit = UNIT_TO_CANONICAL[match[2]!];
  if (!unit) return undefined;
  const count = Number(match[1]);
  if (!Number.isSafeInteger(count)) return undefined;
  return { count, unit };
}

export function formatDuration(d: ParsedDuration): string {
  return `${d.count} ${d.unit}${d.count === 1 ? '' : 's'}`;
}

/** Normalises any accepted form to Drove's output form; throws on invalid input. */
export function canonicalDuration(text: string): string {
  const parsed = parseDuration(text);
  if (!parsed) throw new Error(`Invalid duration: ${text}`);
  return formatDuration(parsed);
}

/** Milliseconds of a duration string (invalid or absent strings count as `fallbackMs`). */
export function durationMs(text: string | undefined | null, fallbackMs = 0): number {
  if (text === undefined || text === null) return fallbackMs;
  const parsed = parseDuration(text);
  if (!parsed) return fallbackMs;
  return parsed.count * UNIT_MS[parsed.unit];
}

