import { describe, expect, it } from 'vitest';
import { buildSchedule, describeSchedule, FAULT_KINDS, OPERATION_KINDS, type PlannedFault } from '../../support/soak/schedule.js';
import { SeededRandom } from '../../support/soak/random.js';

const SHAPE = { hosts: 3, etcdMembers: 3 };
const THREE_MINUTES = 180_000;

describe('soak schedule', () => {
  it('is a pure function of the seed: the same seed plans the same operations and faults at the same times', () => {
    const a = buildSchedule(42, THREE_MINUTES, SHAPE);
    const b = buildSchedule(42, THREE_MINUTES, SHAPE);
    expect(b).toEqual(a);
    expect(describeSchedule(b)).toEqual(describeSchedule(a));
    expect(describeSchedule(buildSchedule(43, THREE_MINUTES, SHAPE))).not.toEqual(describeSchedule(a));
  });

  it('covers every operation kind and every fault kind in three minutes, for any of many seeds', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const schedule = buildSchedule(seed, THREE_MINUTES, SHAPE);
      const kinds = new Set(schedule.operations.filter((o) => !o.expectRefusal).map((o) => o.kind));
      expect([...OPERATION_KINDS].filter((k) => !kinds.has(k)), `seed ${seed}`).toEqual([]);
      const faults = new Set(schedule.faults.map((f) => f.kind));
      expect([...FAULT_KINDS].filter((k) => !faults.has(k)), `seed ${seed}`).toEqual([]);
    }
  });

  it('plans mostly valid operations, with some deliberate refusals', () => {
    const schedule = buildSchedule(7, 30 * 60_000, SHAPE);
    const refused = schedule.operations.filter((o) => o.expectRefusal).length;
    expect(refused).toBeGreaterThan(0);
    expect(refused / schedule.operations.length).toBeLessThan(0.2);
  });

  it('heals every fault before the end and never runs two faults on the same part, nor more than two at once', () => {
    const part = (f: PlannedFault) =>
      f.kind.startsWith('ETCD') ? 'etcd' : ['KILL_LEADER', 'KILL_FOLLOWER', 'PAUSE_LEADER'].includes(f.kind) ? 'controllers' : `host:${f.target}`;
    for (const seed of [1, 2, 3, 99, 12345]) {
      const schedule = buildSchedule(seed, 15 * 60_000, SHAPE);
      for (const fault of schedule.faults) {
        expect(fault.healAtMs).toBeLessThanOrEqual(schedule.durationMs);
        const overlapping = schedule.faults.filter((f) => f !== fault && f.atMs < fault.healAtMs && fault.atMs < f.healAtMs);
        expect(overlapping.filter((f) => part(f) === part(fault))).toEqual([]);
        // The most faults at once is reached when one starts: count those running at each start.
        const runningAtStart = schedule.faults.filter((f) => f.atMs <= fault.atMs && f.healAtMs > fault.atMs);
        expect(runningAtStart.length).toBeLessThanOrEqual(2);
      }
      const quorum = schedule.faults.filter((f) => f.kind === 'ETCD_QUORUM_LOSS');
      for (const f of quorum) expect(f.extra).not.toBe(f.target);
    }
  });
});

describe('seeded random', () => {
  it('replays the same values for a seed and refuses seeds it cannot replay', () => {
    const draw = (seed: number) => {
      const r = new SeededRandom(seed);
      return [r.int(0, 1000), r.float(), r.pick(['a', 'b', 'c']), r.shuffle([1, 2, 3, 4, 5])];
    };
    expect(draw(5)).toEqual(draw(5));
    expect(draw(5)).not.toEqual(draw(6));
    expect(() => new SeededRandom(-1)).toThrow(/seed/);
    expect(() => new SeededRandom(1.5)).toThrow(/seed/);
  });
});
