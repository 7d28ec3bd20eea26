import { describe, expect, it } from 'vitest';
import { jsonEqual } from '../../../src/model/index.js';

describe('jsonEqual', () => {
  it('compares JSON data deeply, whatever the key order', () => {
    expect(jsonEqual({ a: 1, b: [1, { c: 'x' }] }, { b: [1, { c: 'x' }], a: 1 })).toBe(true);
    expect(jsonEqual({ a: 1, b: [1, { c: 'x' }] }, { a: 1, b: [1, { c: 'y' }] })).toBe(false);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual([1, 2], [1, 2, 3])).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(jsonEqual({ a: 1, b: 2 }, { a: 1 })).toBe(false);
    expect(jsonEqual(null, null)).toBe(true);
    expect(jsonEqual(null, {})).toBe(false);
    expect(jsonEqual([], {})).toBe(false);
    expect(jsonEqual({}, [])).toBe(false);
    expect(jsonEqual(1, '1')).toBe(false);
    expect(jsonEqual({ a: { b: 1 } }, { a: { b: '1' } })).toBe(false);
  });

  it('counts a key holding undefined as absent, as JSON.stringify does', () => {
    expect(jsonEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(jsonEqual({ a: 1 }, { a: 1, b: undefined })).toBe(true);
    expect(jsonEqual({ a: 1, b: undefined }, { a: 1, b: 2 })).toBe(false);
    expect(jsonEqual({ a: 1, b: 2 }, { a: 1, b: undefined })).toBe(false);
  });

  it('leaves the ignored keys out at the top level only', () => {
    expect(jsonEqual({ state: 'HEALTHY', updated: 1 }, { state: 'HEALTHY', updated: 2 }, ['updated'])).toBe(true);
    expect(jsonEqual({ state: 'HEALTHY', updated: 1 }, { state: 'HEALTHY' }, ['updated'])).toBe(true);
    expect(jsonEqual({ state: 'HEALTHY', updated: 1 }, { state: 'UNHEALTHY', updated: 1 }, ['updated'])).toBe(false);
    expect(jsonEqual({ inner: { updated: 1 } }, { inner: { updated: 2 } }, ['updated'])).toBe(false);
    expect(jsonEqual({ updated: 1, list: [1] }, { updated: 2, list: [2] }, ['updated', 'list'])).toBe(true);
  });
});

describe('jsonEqual and keys that objects inherit', () => {
  it('does not take an inherited property for a missing key', () => {
    expect(jsonEqual(JSON.parse('{"__proto__": {}}'), {})).toBe(false);
    expect(jsonEqual({}, JSON.parse('{"__proto__": {}}'))).toBe(false);
    expect(jsonEqual(JSON.parse('{"__proto__": {"a": 1}}'), JSON.parse('{"__proto__": {"a": 1}}'))).toBe(true);
    expect(jsonEqual({ toString: 'x' }, {})).toBe(false);
    expect(jsonEqual({ constructor: {} }, {})).toBe(false);
  });
});
