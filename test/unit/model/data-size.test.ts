import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { megabytesSize, parseDataSize, toMegabytes } from '../../../src/model/data-size.js';

describe("Dropwizard data sizes (Drove's logBufferSize, cacheFileSize)", () => {
  it.each([
    ['5m', 5_000_000],
    ['10MB', 10_000_000],
    ['20 megabytes', 20_000_000],
    ['1 MiB', 1_048_576],
    ['2mib', 2_097_152],
    ['3k', 3_000],
    ['1GiB', 1_073_741_824],
    ['512', 512],
    ['7 bytes', 7],
  ])('%s is %d bytes', (text, bytes) => {
    expect(parseDataSize(text)).toBe(bytes);
  });

  it('refuses what Dropwizard refuses', () => {
    for (const bad of ['', 'm', '5 parsecs', '-1m', '1.5m', '5 m b']) expect(parseDataSize(bad)).toBeUndefined();
  });

  it('counts whole megabytes as Dropwizard does (rounded down, 10^6 bytes)', () => {
    expect(toMegabytes(parseDataSize('5MiB')!)).toBe(5);
    expect(toMegabytes(parseDataSize('1500KB')!)).toBe(1);
  });

  it('a config value is read as megabytes within its range, naming the rule', () => {
    const schema = z.object({ size: megabytesSize({ min: 1, max: 128 }) });
    expect(schema.parse({ size: '64m' }).size).toBe(64);
    expect(schema.safeParse({ size: '129m' }).error?.issues[0]?.message).toBe('must be between 1 and 128 megabytes, got "129m"');
    // A bare number counts bytes, as in Dropwizard: 5 bytes is below 1 MB.
    expect(schema.safeParse({ size: 5 }).error?.issues[0]?.message).toBe('must be between 1 and 128 megabytes, got 5');
    expect(schema.safeParse({ size: 'lots' }).error?.issues[0]?.message).toContain('Invalid data size "lots"');
  });
});
