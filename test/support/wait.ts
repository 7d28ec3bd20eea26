import type { ManualClock } from '../../src/model/clock.js';

/**
 * The one way tests wait, never fixed sleeps. `waitUntil` polls in real time, for tests that wait on real
 * processes, containers, sockets and files; `advanceUntil` moves a ManualClock, for tests on virtual time.
 * `check` returns the awaited value, or undefined/false to keep waiting.
 */
export const waitDefaults = {
  /** Real containers on a loaded 2-core machine: image load, start and first probe fit comfortably in 60 s. */
  timeoutMs: 60_000,
  /** Short enough to see state changes promptly, long enough not to load the controller. */
  intervalMs: 200,
  /** Virtual time: cheap to advance, so fine steps; ten minutes covers every timeout of the engine's defaults. */
  virtualStepMs: 50,
  virtualMaxMs: 600_000,
};

export interface WaitOptions {
  timeoutMs?: number;
  /** Between two checks; 0 checks again on the next turn of the event loop. */
  intervalMs?: number;
  /** More context for the timeout error (a trace, the states seen so far). */
  detail?: () => string;
  /** An error thrown by `check` ends the wait at once (it says the awaited thing can no longer happen). */
  stopOnError?: boolean;
}

/**
 * Polls `check` until it returns a value (neither undefined nor false) and returns it. An error thrown by
 * `check` counts as "not yet" (a process restarting refuses connections) unless `stopOnError`; the last value or
 * error is reported when `timeoutMs` passes.
 */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitOptions = {},
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
      if (options.stopOnError) throw error;
      last = error;
    }
    if (Date.now() >= deadline) {
      const lastText = last instanceof Error ? last.message : JSON.stringify(last);
      const detail = options.detail ? `\n${options.detail()}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${lastText})${detail}`);
    }
    await pause(intervalMs);
  }
}

/** Like waitUntil for a condition; resolves with the real time it took, in ms (tests that bound a recovery). */
export async function timeUntil(what: string, condition: () => boolean | Promise<boolean>, options: WaitOptions = {}): Promise<number> {
  const start = Date.now();
  await waitUntil(what, condition, options);
  return Date.now() - start;
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
    await pause(intervalMs);
  } while (Date.now() < end);
}

/**
 * Advances `clock` in steps of `stepMs` until `condition` holds; resolves with the virtual time it took, or throws
 * after `maxMs` of virtual time. Each step runs the timers due and lets their promises settle.
 */
export async function advanceUntil(
  clock: ManualClock,
  what: string,
  condition: () => boolean,
  options: { maxMs?: number; stepMs?: number; detail?: () => string } = {},
): Promise<number> {
  const maxMs = options.maxMs ?? waitDefaults.virtualMaxMs;
  const stepMs = options.stepMs ?? waitDefaults.virtualStepMs;
  const start = clock.now();
  while (!condition()) {
    if (clock.now() - start >= maxMs) {
      const detail = options.detail ? `\n${options.detail()}` : '';
      throw new Error(`${what}: not within ${maxMs} ms of virtual time${detail}`);
    }
    await clock.advance(stepMs);
  }
  return clock.now() - start;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)));
}
