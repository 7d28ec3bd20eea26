import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/model/clock.js';
import { Periodic } from '../../../src/model/periodic.js';

describe('periodic work on the injected clock', () => {
  it('runs one interval after start and then every interval, never two runs at once, until stopped', async () => {
    const clock = new ManualClock();
    const started: number[] = [];
    let release: (() => void) | undefined;
    const periodic = new Periodic({
      name: 'test',
      clock,
      intervalMs: 1_000,
      run: () => {
        started.push(clock.now() - 1_700_000_000_000);
        return new Promise<void>((resolve) => (release = resolve));
      },
    });
    periodic.start();
    await clock.advance(999);
    expect(started).toEqual([]);
    await clock.advance(1);
    expect(started).toEqual([1_000]);
    // A slow run stretches the period: nothing starts while it is under way.
    await clock.advance(5_000);
    expect(started).toEqual([1_000]);
    release!();
    await clock.advance(1_000);
    expect(started).toEqual([1_000, 7_000]);
    const stopping = periodic.stop();
    expect(periodic.runState).toBe('STOPPING');
    release!();
    await stopping;
    expect(periodic.runState).toBe('STOPPED');
    await clock.advance(10_000);
    expect(started).toHaveLength(2);
    expect(clock.pending()).toBe(0);
  });

  it('reports a failed run and goes on', async () => {
    const clock = new ManualClock();
    const errors: unknown[] = [];
    let runs = 0;
    const periodic = new Periodic({
      name: 'test',
      clock,
      intervalMs: 100,
      run: async () => {
        runs++;
        throw new Error(`run ${runs}`);
      },
      onError: (error) => errors.push((error as Error).message),
    });
    periodic.start();
    await clock.advance(300);
    expect(errors).toEqual(['run 1', 'run 2', 'run 3']);
    await periodic.stop();
  });

  it('refuses a non-positive interval and a second start', () => {
    const clock = new ManualClock();
    expect(() => new Periodic({ name: 'bad', clock, intervalMs: 0, run: () => undefined })).toThrow('bad: the interval must be a positive number of ms');
    const periodic = new Periodic({ name: 'twice', clock, intervalMs: 1, run: () => undefined });
    periodic.start();
    expect(() => periodic.start()).toThrow('twice: start() called while RUNNING');
  });
});
