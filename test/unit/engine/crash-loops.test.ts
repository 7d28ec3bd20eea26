import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { CrashLoops } from '../../../src/controller/term/crash-loops.js';
import { SqliteStateStore } from '../../../src/controller/store/sqlite.js';
import { ManualClock, type LocalServiceInstanceInfo } from '../../../src/model/index.js';
import { instanceInfo } from '../../support/records.js';

/** The term's crash-loop tracker on its own, on a ManualClock, over a real in-memory SQLite store. */

const POLICY = { initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000 };

function tracker(store = new SqliteStateStore(':memory:'), records: LocalServiceInstanceInfo[] = []) {
  const clock = new ManualClock();
  const events: Array<Record<string, string | number>> = [];
  const loops = new CrashLoops({
    store,
    events: { emit: (_type, metadata) => events.push(metadata) },
    clock,
    logger: pino({ level: 'silent' }),
    policy: POLICY,
    stored: [],
    instances: (serviceId) => records.filter((r) => r.serviceId === serviceId),
    hostnameOf: (executorId) => `${executorId}.local`,
  });
  loops.start();
  return { clock, events, loops, store };
}

const failed = (serviceId: string, executorId: string, at: number) =>
  instanceInfo({ serviceId, executorId, state: 'START_FAILED', errorMessage: 'boom', created: at, updated: at + 1 });

describe('CrashLoops (term/crash-loops.ts)', () => {
  it('keeps one loop per (service, executor): another service on the same executor, or the same service elsewhere, is not held', async () => {
    const { clock, loops } = tracker();
    const now = clock.now();
    for (let i = 0; i < 3; i++) await loops.recordFailure(failed('A-1', 'E1', now + i * 10));
    await loops.recordFailure(failed('B-1', 'E1', now));
    await loops.recordFailure(failed('A-1', 'E2', now));
    expect(loops.summaries('A-1').map((l) => [l.executorId, l.restartCount, l.hostname])).toEqual([['E1', 3, 'E1.local'], ['E2', 1, 'E2.local']]);
    expect(loops.summaries('B-1').map((l) => [l.executorId, l.restartCount])).toEqual([['E1', 1]]);
    expect([...loops.heldExecutors('A-1', now)]).toEqual(['E1']);
    expect(loops.heldExecutors('B-1', now).size).toBe(0);
    expect(loops.holds('A-1', 'E1', now + 20_000 - 1)).toBe(true);
    expect(loops.holds('A-1', 'E1', now + 20_000)).toBe(false);
    await loops.resetService('B-1', 'test');
    expect(loops.summaries('B-1')).toEqual([]);
    expect(loops.summaries('A-1')).toHaveLength(2);
    await loops.stop();
  });

  it('wakes its listeners when a next attempt is due, at that time and not before', async () => {
    const { clock, loops } = tracker();
    const woken: number[] = [];
    loops.onDue(() => woken.push(clock.now()));
    const t0 = clock.now();
    await loops.recordFailure(failed('A-1', 'E1', 1));
    await loops.recordFailure(failed('A-1', 'E1', 5));
    await clock.advance(9_999);
    expect(woken).toEqual([]);
    await clock.advance(1);
    expect(woken).toEqual([t0 + 10_000]);
    await clock.advance(60_000);
    expect(woken).toHaveLength(1);
    await loops.stop();
  });

  it('writes to the store before memory: a reset the store refuses leaves the loop as it was, and never rejects', async () => {
    const store = new SqliteStateStore(':memory:');
    const { loops } = tracker(store);
    await loops.recordFailure(failed('A-1', 'E1', 1));
    await store.close();
    await expect(loops.resetService('A-1', 'operator')).resolves.toBeUndefined();
    expect(loops.summaries('A-1')).toHaveLength(1);
    await expect(loops.recordFailure(failed('A-1', 'E1', 5))).rejects.toThrow(/closed/);
    expect(loops.summaries('A-1')[0]!.restartCount).toBe(1);
    await loops.stop();
  });

  it('records nothing once stopped (the next leader owns the loops)', async () => {
    const store = new SqliteStateStore(':memory:');
    const { loops } = tracker(store);
    await loops.stop();
    await loops.recordFailure(failed('A-1', 'E1', 1));
    expect((await store.load()).crashLoops).toEqual([]);
  });
});
