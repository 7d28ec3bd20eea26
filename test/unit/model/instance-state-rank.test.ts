import { describe, expect, it } from 'vitest';
import { INSTANCE_TRANSITIONS } from '../../../src/executor/instances/transitions.js';
import { INSTANCE_STATE_RANK, type LocalServiceInstanceState } from '../../../src/model/index.js';

describe('INSTANCE_STATE_RANK', () => {
  it('rises along every transition of the executor state machine, so the higher rank is the later record', () => {
    const edges = Object.entries(INSTANCE_TRANSITIONS).flatMap(([from, { next }]) => next.map((to) => [from as LocalServiceInstanceState, to] as const));
    expect(edges.length).toBeGreaterThan(20);
    const falling = edges.filter(([from, to]) => INSTANCE_STATE_RANK[to] <= INSTANCE_STATE_RANK[from]).map(([from, to]) => `${from} -> ${to}`);
    expect(falling).toEqual([]);
  });
});
