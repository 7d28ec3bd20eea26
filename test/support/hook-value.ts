/**
 * A value that a `use…()` helper's beforeAll hook makes, as its tests read it: fails naming `what` when read
 * before the hook ran or after it failed, instead of handing on an undefined that fails later, elsewhere.
 */
export function madeByHook<T>(what: string, value: T | undefined): T {
  if (value === undefined) throw new Error(`${what} is not started: read it inside a test or hook`);
  return value;
}
