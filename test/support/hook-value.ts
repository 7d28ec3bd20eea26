/**
 * The values a `use…()` helper's beforeAll hook makes (`made`, filled in by the hook), as its tests read them:
 * each of `keys` read before the hook ran or after it failed throws naming `what`, instead of handing on an
 * undefined that fails later, elsewhere.
 */
/** What the hook fills in: every value absent until it ran. */
export type Made<T> = { -readonly [K in keyof T]?: T[K] };

export function madeByHooks<T extends object>(what: string, made: Made<T>, keys: ReadonlyArray<keyof T & string>): T {
  const values = {} as T;
  for (const key of keys) {
    Object.defineProperty(values, key, {
      enumerable: true,
      get: () => {
        const value = made[key];
        if (value === undefined) throw new Error(`${what}: ${key} is not started: read it inside a test or hook`);
        return value;
      },
    });
  }
  return values;
}
