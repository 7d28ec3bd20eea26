import { describe, expect, it } from 'vitest';
import { dropNulls } from '../../../src/model/index.js';

describe('dropNulls', () => {
  it('drops null-valued keys at every depth, keeping the order of the others and nulls inside arrays', () => {
    const input = { a: 1, b: null, c: { d: null, e: [1, null, { f: null, g: 'x' }] }, h: 'y' };
    const out = dropNulls(input) as Record<string, unknown>;
    expect(out).toEqual({ a: 1, c: { e: [1, null, { g: 'x' }] }, h: 'y' });
    expect(Object.keys(out)).toEqual(['a', 'c', 'h']);
    expect(Object.keys(dropNulls({ x: 1, y: 2, z: null, w: 3 }) as object)).toEqual(['x', 'y', 'w']);
  });

  it('leaves its input as it was', () => {
    const input = { a: null, b: [{ c: null }] };
    dropNulls(input);
    expect(input).toEqual({ a: null, b: [{ c: null }] });
  });

  // Every executor message passes here: copying null-free bodies was more garbage than parsing them.
  it('copies only the objects and arrays on the way to a null', () => {
    const clean = { a: { b: [1, 2] }, c: [{ d: 'e' }] };
    expect(dropNulls(clean)).toBe(clean);
    const mixed = { keep: { b: [1, 2] }, change: [{ d: null }, { e: 1 }] };
    const out = dropNulls(mixed) as typeof mixed;
    expect(out).not.toBe(mixed);
    expect(out.keep).toBe(mixed.keep);
    expect(out.change).not.toBe(mixed.change);
    expect(out.change[1]).toBe(mixed.change[1]);
    expect(out.change[0]).toEqual({});
  });

  it('passes scalars and nulls themselves through, and stops walking past 64 levels', () => {
    expect(dropNulls(null)).toBeNull();
    expect(dropNulls('s')).toBe('s');
    let deep: unknown = { x: null };
    for (let i = 0; i < 70; i++) deep = { n: deep };
    let cursor = dropNulls(deep) as { n?: unknown; x?: unknown };
    for (let i = 0; i < 70; i++) cursor = cursor.n as typeof cursor;
    expect(cursor).toEqual({ x: null });
  });
});
