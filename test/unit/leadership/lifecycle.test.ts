import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/model/index.js';
import { DeadlineExceededError, within } from '../../../src/controller/leadership/deadline.js';
import {
  ELECTOR_TRANSITIONS,
  IllegalElectorTransitionError,
  assertTransition,
  type ElectorState,
} from '../../../src/controller/leadership/elector-lifecycle.js';
import { backoffMs, electionTimings } from '../../../src/controller/leadership/timings.js';
import { seeded } from './harness.js';

describe('etcd election lifecycle table', () => {
  const states = Object.keys(ELECTOR_TRANSITIONS) as ElectorState[];

  it.each([
    ['LEADER', 'FOLLOWER'],
    ['LEADER', 'CAMPAIGNING'],
    ['LEADER', 'STOPPED'],
    ['FOLLOWER', 'STEPPING_DOWN'],
    ['CAMPAIGNING', 'STEPPING_DOWN'],
    ['INITIALIZED', 'LEADER'],
    ['STOPPED', 'CAMPAIGNING'],
    ['STEPPING_DOWN', 'LEADER'],
  ] as Array<[ElectorState, ElectorState]>)('refuses %s -> %s', (from, to) => {
    expect(() => assertTransition(from, to)).toThrow(IllegalElectorTransitionError);
  });

  it('a leader can only step down, and every state but STOPPED can reach STOPPED', () => {
    expect(ELECTOR_TRANSITIONS.LEADER).toEqual(['STEPPING_DOWN']);
    expect(ELECTOR_TRANSITIONS.STOPPED).toEqual([]);
    for (const state of states.filter((s) => s !== 'STOPPED')) {
      const seen = new Set<ElectorState>([state]);
      const queue: ElectorState[] = [state];
      while (queue.length > 0) {
        for (const next of ELECTOR_TRANSITIONS[queue.shift()!]) {
          if (seen.has(next)) continue;
          seen.add(next);
          queue.push(next);
        }
      }
      expect(seen.has('STOPPED'), state).toBe(true);
    }
  });
});

describe('etcd election timings', () => {
  it('derive from the TTL: step down and call deadline at two thirds of it', () => {
    expect(electionTimings(3)).toMatchObject({ stepDownAfterMs: 2_000, callTimeoutMs: 2_000, recheckIntervalMs: 1_000 });
    expect(electionTimings(2)).toMatchObject({ stepDownAfterMs: 1_333, callTimeoutMs: 1_333 });
  });

  it('backoff doubles up to its ceiling, each pause between half and all of it', () => {
    const timings = electionTimings(3);
    const random = seeded(7);
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(1_000, 100 * 2 ** attempt);
      for (let i = 0; i < 50; i++) {
        const pause = backoffMs(timings, attempt, random);
        expect(pause).toBeGreaterThanOrEqual(ceiling / 2);
        expect(pause).toBeLessThanOrEqual(ceiling);
      }
    }
    expect(backoffMs(timings, 1_000, () => 0.999)).toBeLessThanOrEqual(1_000);
  });
});

describe('within (deadline of an etcd call)', () => {
  it('rejects at the deadline, on abort, and passes a result or error through', async () => {
    const clock = new ManualClock();
    const hung = within(clock, new Promise(() => undefined), 2_000, 'etcd read');
    const outcome = hung.then(() => 'resolved', (e: Error) => e);
    await clock.advance(1_999);
    await clock.advance(1);
    expect(await outcome).toBeInstanceOf(DeadlineExceededError);

    const abort = new AbortController();
    const aborted = within(clock, new Promise(() => undefined), 2_000, 'etcd read', abort.signal).catch((e: Error) => e.message);
    abort.abort(new Error('term ended'));
    expect(await aborted).toBe('term ended');

    await expect(within(clock, Promise.resolve(42), 10, 'x')).resolves.toBe(42);
    await expect(within(clock, Promise.reject(new Error('refused')), 10, 'x')).rejects.toThrow('refused');
    expect(clock.pending()).toBe(0);
  });
});
