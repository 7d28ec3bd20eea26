import { z } from 'zod';

/**
 * Dropwizard `DataSize` strings, as Drove's executor options take them (`logBufferSize: 5m`, `cacheFileSize:
 * 10MB`): "<integer><optional spaces><unit>", the unit case-insensitive; SI units are powers of 1000 (`KB`, `M`,
 * `megabytes`), IEC units powers of 1024 (`KiB`, `MiB`). A bare number, or a number without a unit, counts bytes.
 */

const SI = 1000;
const IEC = 1024;

const UNIT_BYTES: Readonly<Record<string, number>> = {
  b: 1, byte: 1, bytes: 1,
  k: SI, kb: SI, kilobyte: SI, kilobytes: SI,
  kib: IEC, kibibyte: IEC, kibibytes: IEC,
  m: SI ** 2, mb: SI ** 2, megabyte: SI ** 2, megabytes: SI ** 2,
  mib: IEC ** 2, mebibyte: IEC ** 2, mebibytes: IEC ** 2,
  g: SI ** 3, gb: SI ** 3, gigabyte: SI ** 3, gigabytes: SI ** 3,
  gib: IEC ** 3, gibibyte: IEC ** 3, gibibytes: IEC ** 3,
  t: SI ** 4, tb: SI ** 4, terabyte: SI ** 4, terabytes: SI ** 4,
  tib: IEC ** 4, tebibyte: IEC ** 4, tebibytes: IEC ** 4,
};

const PATTERN = /^(\d+)\s*(\S*)$/;

/** Bytes of a data size string (or a number of bytes); undefined when it is not one. */
export function parseDataSize(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const match = PATTERN.exec(value.trim());
  if (!match) return undefined;
  const unit = match[2] === '' ? 1 : UNIT_BYTES[match[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const bytes = Number(match[1]) * unit;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** Whole megabytes (10^6 bytes), rounded down, as Dropwizard's `toMegabytes()` counts them. */
export function toMegabytes(bytes: number): number {
  return Math.floor(bytes / SI ** 2);
}

/**
 * A data size in a config file, read as whole megabytes within [min, max] (Drove's `@DataSizeRange` with unit
 * MEGABYTES compares the same way).
 */
export function megabytesSize(range: { min: number; max: number }) {
  return z
    .union([z.string(), z.number()])
    .transform((value, context) => {
      const bytes = parseDataSize(value);
      if (bytes === undefined) {
        context.addIssue({
          code: 'custom',
          message: `Invalid data size ${JSON.stringify(value)}, expected "<integer> <unit>" such as "10m", "10MB" or "20 megabytes"`,
        });
        return z.NEVER;
      }
      const megabytes = toMegabytes(bytes);
      if (megabytes < range.min || megabytes > range.max) {
        context.addIssue({
          code: 'custom',
          message: `must be between ${range.min} and ${range.max} megabytes, got ${JSON.stringify(value)}`,
        });
        return z.NEVER;
      }
      return megabytes;
    });
}
