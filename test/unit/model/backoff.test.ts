import { describe, expect, it } from 'vitest';
import { RetryDelay } from '../../../src/model/backoff.js';

describe('retry delays of an executor no leader answers', () => {
  it('double from the first delay up to the cap, and start over after a success', () => {
    const retry = new RetryDelay(1_000, 10_000);
    expect(Array.from({ length: 6 }, () => retry.next())).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
    retry.reset();
    expect([retry.next(), retry.next()]).toEqual([1_000, 2_000]);
  });
});
