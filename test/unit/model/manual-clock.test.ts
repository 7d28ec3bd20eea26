import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/model/clock.js';

describe('ManualClock', () => {
  it('names the instant the earliest waiting timer is due, whatever order timers were set in, none when none waits', async () => {
    const clock = new ManualClock(1_000);
    expect(clock.nextTimerAt()).toBeUndefined();
    const fired: number[] = [];
    clock.setTimer(() => fired.push(clock.now()), 300);
    const cancelEarliest = clock.setTimer(() => fired.push(clock.now()), 100);
    clock.setTimer(() => fired.push(clock.now()), 200);
    expect(clock.nextTimerAt()).toBe(1_100);
    cancelEarliest();
    expect(clock.nextTimerAt()).toBe(1_200);
    await clock.advance(clock.nextTimerAt()! - clock.now());
    expect(fired).toEqual([1_200]);
    expect(clock.nextTimerAt()).toBe(1_300);
    await clock.advance(100);
    expect(fired).toEqual([1_200, 1_300]);
    expect(clock.nextTimerAt()).toBeUndefined();
  });
});
