import { describe, expect, it } from 'vitest';
import { hollowAddress, startHollowFleet } from '../../support/hollow/fleet.js';

describe('hollowAddress', () => {
  it('gives every hollow host its own loopback address, never 127.0.0.1 nor a .0 or .255 one', () => {
    const addresses = Array.from({ length: 70_000 }, (_, n) => hollowAddress(n));
    expect(new Set(addresses).size).toBe(70_000);
    expect(addresses.slice(0, 2)).toEqual(['127.1.0.1', '127.1.0.2']);
    expect(hollowAddress(253)).toBe('127.1.0.254');
    expect(hollowAddress(254)).toBe('127.1.1.1');
    for (const address of addresses) {
      const [a, b, c, d] = address.split('.').map(Number);
      expect(a).toBe(127);
      expect(b).toBeGreaterThanOrEqual(1);
      expect(c).toBeLessThanOrEqual(255);
      expect(d).toBeGreaterThanOrEqual(1);
      expect(d).toBeLessThanOrEqual(254);
    }
  });

  it('refuses an index it has no address for', () => {
    expect(() => hollowAddress(-1)).toThrow('hollow host index -1 out of range');
    expect(() => hollowAddress(1.5)).toThrow('out of range');
    expect(() => hollowAddress(254 * 256 * 254)).toThrow('out of range');
  });
});

describe('startHollowFleet', () => {
  it('refuses sizes that make no sense before forking anything', async () => {
    await expect(startHollowFleet({ controllerUrls: ['http://127.0.0.1:9'], executors: -1 })).rejects.toThrow('executors must be a number >= 0');
    await expect(startHollowFleet({ controllerUrls: ['http://127.0.0.1:9'], executors: 2, initialExecutors: 3 })).rejects.toThrow(
      'initialExecutors must not exceed executors',
    );
  });
});
