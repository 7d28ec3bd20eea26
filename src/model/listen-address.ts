/**
 * The address the process's own URLs and its co-located parts use to reach a listener bound to `host`: a wildcard
 * bind (every interface) is reached on loopback, any other address as it is.
 */
export function reachableHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}
