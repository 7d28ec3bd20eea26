import { describe, expect, it } from 'vitest';
import { matchesAnySecret, secretEquals } from '../../../src/model/secret-compare.js';

describe('secret comparison', () => {
  it('tells equal secrets from different ones of any length', () => {
    expect(secretEquals('cluster-secret', 'cluster-secret')).toBe(true);
    expect(secretEquals('cluster-secreT', 'cluster-secret')).toBe(false);
    expect(secretEquals('cluster', 'cluster-secret')).toBe(false);
    expect(secretEquals('', '')).toBe(true);
    expect(secretEquals('ü', 'u')).toBe(false);
  });

  it('finds a secret among several (rotation: old and new both accepted) and refuses one that is none of them', () => {
    expect(matchesAnySecret('new', ['old', 'new'])).toBe(true);
    expect(matchesAnySecret('old', ['old', 'new'])).toBe(true);
    expect(matchesAnySecret('other', ['old', 'new'])).toBe(false);
    expect(matchesAnySecret('old', [])).toBe(false);
  });

  it('still compares right past the stored digests it keeps (more stored strings than the cache holds)', () => {
    const stored = Array.from({ length: 200 }, (_, i) => `secret-${i}`);
    for (let i = 0; i < 200; i++) {
      expect(matchesAnySecret(`secret-${i}`, stored)).toBe(true);
      expect(secretEquals(`secret-${i}`, stored[i]!)).toBe(true);
      expect(secretEquals(`secret-${i}x`, stored[i]!)).toBe(false);
    }
    expect(matchesAnySecret('secret-200', stored)).toBe(false);
  });
});
