import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Constant-time comparison of secrets (cluster secrets, PLAIN passwords). Both sides are hashed first so that
 * neither the length nor the first differing byte of the stored secret shows in the time an answer takes:
 * `timingSafeEqual` alone needs equal lengths, and checking the length first tells an attacker the length.
 */
export function secretEquals(given: string, stored: string): boolean {
  return timingSafeEqual(digest(given), storedDigest(stored));
}

/** True when `given` equals one of `stored`; every candidate is compared, so the time does not say which one. */
export function matchesAnySecret(given: string, stored: readonly string[]): boolean {
  const hashed = digest(given);
  let found = false;
  for (const secret of stored) found = timingSafeEqual(hashed, storedDigest(secret)) || found;
  return found;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Stored secrets come from configuration, a handful per process, and every heartbeat of a fleet is compared with
 * them: their digests are kept (at most STORED_DIGESTS, so a caller passing other strings cannot grow the map).
 */
const STORED_DIGESTS = 64;
const storedDigests = new Map<string, Buffer>();

function storedDigest(secret: string): Buffer {
  let hashed = storedDigests.get(secret);
  if (hashed) return hashed;
  hashed = digest(secret);
  if (storedDigests.size < STORED_DIGESTS) storedDigests.set(secret, hashed);
  return hashed;
}
