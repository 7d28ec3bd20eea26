/**
 * Equality of JSON data (what JSON.parse and the schemas make: plain objects, arrays, strings, numbers, booleans,
 * null), without building anything. Key order does not matter, and a key whose value is `undefined` counts as
 * absent, as JSON.stringify has it. Keys listed in `ignoreKeys` are left out at the top level only: records that
 * differ only in their `updated` are the same record refreshed (a heartbeat's copy of a steady instance).
 *
 * Hot path: every heartbeat compares each instance it carries and its node data with what is held. Comparing
 * through JSON.stringify or isDeepStrictEqual of spread copies made garbage per heartbeat (docs/scale.md).
 */
export function jsonEqual(a: unknown, b: unknown, ignoreKeys: readonly string[] = []): boolean {
  return equal(a, b, 0, ignoreKeys);
}

const MAX_DEPTH = 64;
const NONE: readonly string[] = [];

function equal(a: unknown, b: unknown, depth: number, ignoreKeys: readonly string[]): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  // Deeper than any record the controller holds: not worth walking (and not equal as far as we care).
  if (depth > MAX_DEPTH) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!equal(a[i], b[i], depth + 1, NONE)) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  // Object.keys and indexed reads: about half the time of for...in with hasOwn checks on these records.
  let count = 0;
  const keys = Object.keys(x);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const value = x[key];
    if (value === undefined || ignoreKeys.includes(key)) continue;
    // An own `__proto__` (JSON.parse makes one) must not be compared with the other side's prototype.
    if (key === '__proto__' && !Object.hasOwn(y, key)) return false;
    // A key missing on the other side reads undefined (or an inherited function), which no JSON value equals.
    if (!equal(value, y[key], depth + 1, NONE)) return false;
    count++;
  }
  const otherKeys = Object.keys(y);
  for (let i = 0; i < otherKeys.length; i++) {
    const key = otherKeys[i]!;
    if (y[key] !== undefined && !ignoreKeys.includes(key)) count--;
  }
  return count === 0;
}
