import { createHash, randomUUID } from 'node:crypto';

/** Service id is derived, never supplied: `name-version`. Empty when either part is missing. */
export function serviceIdOf(spec: { name?: string | null; version?: string | null } | undefined | null): string {
  if (!spec || !spec.name || !spec.version) return '';
  return `${spec.name}-${spec.version}`;
}

/** `SI-<uuid v4>`; a fresh one for every start attempt, never reused (docs/design/api-compatibility.md#ids). */
export function newInstanceId(): string {
  return `SI-${randomUUID()}`;
}

const INSTANCE_ID_PATTERN = /^SI-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * An instance id as controllers make them (`SI-<uuid>`). Ids become folder names (`<logDir>/<serviceId>/<id>`),
 * container names and URL segments, so every one that arrives from outside is checked with this first.
 */
export function isInstanceId(id: string): boolean {
  return INSTANCE_ID_PATTERN.test(id);
}

/** A file name in an instance's log folder (`output.log`, `output.log-3.gz`): one segment, never `.` or `..`. */
export function isLogFileName(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) && !name.includes('..');
}

/**
 * Java's `UUID.nameUUIDFromBytes` (an MD5, version-3 UUID). Drove derives executor ids from
 * `"<hostname>:<port>"` this way, so ours match a Java executor on the same host and port.
 */
export function nameUuid(name: string): string {
  const bytes = createHash('md5').update(name, 'utf8').digest();
  bytes[6] = (bytes[6]! & 0x0f) | 0x30;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function executorIdOf(hostname: string, port: number): string {
  return nameUuid(`${hostname}:${port}`);
}
