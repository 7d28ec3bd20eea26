import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

/**
 * The soak's only source of randomness: one seeded generator (pure-rand's xoroshiro128+), so that a seed replays
 * the same schedule of operations and faults. Nothing in the soak may call Math.random().
 */
export class SeededRandom {
  private readonly rng;

  constructor(readonly seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffff_ffff) {
      throw new Error(`seed must be an integer 0..4294967295, got ${seed}`);
    }
    this.rng = xoroshiro128plus(seed);
  }

  /** An integer in [from, to], both included. */
  int(from: number, to: number): number {
    return uniformInt(this.rng, from, to);
  }

  /** A float in [0, 1). */
  float(): number {
    return uniformFloat64(this.rng);
  }

  chance(probability: number): boolean {
    return this.float() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(0, items.length - 1)]!;
  }

  /** An item with probability proportional to its weight (weights <= 0 never win). */
  weighted<T>(items: ReadonlyArray<readonly [T, number]>): T {
    const total = items.reduce((sum, [, w]) => sum + Math.max(0, w), 0);
    if (total <= 0) throw new Error('weighted pick without a positive weight');
    let at = this.float() * total;
    for (const [item, w] of items) {
      if (w <= 0) continue;
      at -= w;
      if (at < 0) return item;
    }
    return items.filter(([, w]) => w > 0).at(-1)![0];
  }

  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
}

/** A fresh seed for a run that was not given one (the only place the soak draws from the OS). */
export function newSeed(): number {
  return Number.parseInt(crypto.randomUUID().replaceAll('-', '').slice(0, 8), 16);
}
