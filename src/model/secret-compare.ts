import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Constant-time comparison of secrets (cluster secrets, PLAIN passwords). Both sides are hashed first so that
 * neither the length nor the first differing byte of the stored secret shows in the time an answer takes:
 * `timingSafeEqual` alone needs equal lengths, and checking the length first tells an attacker the length.
 */
export function secretEquals(given: string, stored: string): boolean {
  return timingSafeEqual(digest(given), digest(stored));
}

/** True when `given` equals one of `stored`; every candidate is compared, so the time does not say which one. */
export function matchesAnySecret(given: string, stored: readonly string[]): boolean {
  let found = false;
  for (const secret of stored) found = secretEquals(given, secret) || found;
  return found;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
