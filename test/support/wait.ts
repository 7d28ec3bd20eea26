/**
 * Polling with a deadline, for tests that wait on real processes and containers (never fixed sleeps).
 * `check` returns the awaited value, or undefined/false to keep waiting; the last error or value is reported.
 */
export const waitDefaults = {
  /** Real containers on a loaded 2-core machine: image load, start and first probe fit comfortably in 60 s. */
  timeoutMs: 60_000,
  /** Short enough to see state changes promptly, long enough not to load the controller. */
  intervalMs: 200,
};

export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? waitDefaults.timeoutMs;
  const intervalMs = options.intervalMs ?? waitDefaults.intervalMs;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Asserts that something stays true for `durationMs` (e.g. "still exactly one instance after several reconciler
 * passes"): polls and throws at the first violation. Use only for invariants; waiting for a change is waitUntil.
 */
export async function holdsFor(
  what: string,
  durationMs: number,
  check: () => Promise<boolean> | boolean,
  intervalMs = waitDefaults.intervalMs,
): Promise<void> {
  const end = Date.now() + durationMs;
  do {
    if (!(await check())) throw new Error(`${what} stopped holding`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  } while (Date.now() < end);
}
