import { describe, expect, it } from 'vitest';
import { goalLine, median, rolloutRow, tableHeader, tableLine } from '../../../bench/rollout/figures.js';

describe('median', () => {
  it('takes the middle value, or the mean of the middle two, whatever the order', () => {
    expect(median([30, 10, 20])).toBe(20);
    expect(median([40, 10, 30, 20])).toBe(25);
  });

  it('refuses no values', () => {
    expect(() => median([])).toThrow('median of no values');
  });
});

describe('rolloutRow', () => {
  it('puts the medians side by side with the three ratios', () => {
    const row = rolloutRow({ instances: 4, swarmMode: 'replicated', drove: [600, 500, 700], swarm: [900, 1000, 800], raw: [450, 400, 500] });
    expect(row).toEqual({
      instances: 4,
      swarmMode: 'replicated',
      droveMs: 600,
      swarmMs: 900,
      rawMs: 450,
      droveToRaw: 600 / 450,
      droveToSwarm: 600 / 900,
      swarmToRaw: 2,
    });
  });
});

describe('the table', () => {
  const row = rolloutRow({ instances: 1, swarmMode: 'global', drove: [410], swarm: [1230], raw: [383] });

  it('right-aligns every figure under its column', () => {
    const header = tableHeader();
    expect(header).toBe('    N  swarm mode  drove ms  swarm ms  raw ms  drove/raw  drove/swarm  swarm/raw');
    const line = tableLine(row);
    expect(line).toBe('    1      global       410      1230     383       1.07         0.33       3.21');
    expect(line.length).toBe(header.length);
  });

  it('judges the goal on the worst drove/raw ratio only', () => {
    const slow = rolloutRow({ instances: 8, swarmMode: 'replicated', drove: [2000], swarm: [100], raw: [1000] });
    expect(goalLine([row], 1.3)).toBe('worst drove/raw ratio 1.07 (goal <= 1.30): met');
    expect(goalLine([row, slow], 1.3)).toBe('worst drove/raw ratio 2.00 (goal <= 1.30): NOT met');
  });
});
