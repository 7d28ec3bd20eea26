import { BlockList, isIP } from 'node:net';

/**
 * The address the process's own URLs and its co-located parts use to reach a listener bound to `host`: a wildcard
 * bind (every interface) is reached on loopback, any other address as it is.
 */
export function reachableHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** Only addresses that cannot be reached from another machine; a host name other than localhost may resolve anywhere. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  const version = isIP(host);
  if (version === 4) return LOOPBACK.check(host, 'ipv4');
  if (version === 6) return LOOPBACK.check(host, 'ipv6') || /^::ffff:127\./i.test(host);
  return false;
}
