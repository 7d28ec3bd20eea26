import { describe, expect, it } from 'vitest';
import { decideStale, defaultDisruptionPolicy } from '../../../src/controller/cluster/disruption.js';

const STALE_MS = 45_000;
const policy = defaultDisruptionPolicy(STALE_MS);
const NOW = 1_000_000;
const silent = (count: number, forMs: number) =>
  Array.from({ length: count }, (_, i) => ({ executorId: `ex${i}`, lastSeen: NOW - forMs }));

describe('decideStale (disruption mode)', () => {
  it('removes a real 10% loss at once', () => {
    expect(decideStale(silent(10, STALE_MS + 1), 100, NOW, STALE_MS, policy)).toEqual({
      remove: silent(10, 0).map((e) => e.executorId),
      hold: [],
    });
  });

  it('removes up to half the fleet at once: the share must be exceeded', () => {
    expect(decideStale(silent(50, STALE_MS + 1), 100, NOW, STALE_MS, policy).hold).toEqual([]);
  });

  it('holds every stale executor when more than half the fleet is silent at once', () => {
    const decision = decideStale(silent(51, STALE_MS + 1), 100, NOW, STALE_MS, policy);
    expect(decision.remove).toEqual([]);
    expect(decision.hold).toHaveLength(51);
  });

  it('removes held executors once they are silent past the hold as well (a real outage of most of the fleet)', () => {
    const stillHeld = silent(30, STALE_MS + policy.maxHoldMs);
    const gone = silent(30, STALE_MS + policy.maxHoldMs + 1).map((e) => ({ ...e, executorId: `old-${e.executorId}` }));
    const decision = decideStale([...stillHeld, ...gone], 100, NOW, STALE_MS, policy);
    expect(decision.hold).toEqual(stillHeld.map((e) => e.executorId));
    expect(decision.remove).toEqual(gone.map((e) => e.executorId));
  });

  it('never holds in a cluster smaller than minExecutors: all of a small cluster may really die', () => {
    expect(decideStale(silent(9, STALE_MS + 1), 9, NOW, STALE_MS, policy)).toMatchObject({ hold: [] });
    expect(decideStale(silent(10, STALE_MS + 1), 10, NOW, STALE_MS, policy).hold).toHaveLength(10);
  });
});
