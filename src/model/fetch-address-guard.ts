import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Where HTTP config fetches may connect (docs/security.md, "Limits"): CONTROLLER_HTTP_FETCH from the controller,
 * EXECUTOR_HTTP_FETCH from the executor. Either fetches a URL that whoever may create a service writes, from inside
 * the cluster's trust zone: aimed at the fetching host's own loopback (the controller's etcd, its API without the
 * proxy in front; the executor's Docker API on a TCP port), a link-local peer or the cloud's instance metadata
 * service (credentials), the fetched body would come back to that writer in the instance's config file. Those
 * ranges are refused unless the operator allows them in that host's config; private ranges (10/8, 192.168/16, ...)
 * stay allowed, since that is where config servers usually live.
 *
 * The check runs on the address the connection uses, inside the socket's own DNS lookup: a name that resolves to
 * a public address when checked and to 127.0.0.1 when connecting (DNS rebinding) has no second resolution to
 * exploit.
 */

export const ALLOW_LOCAL_FETCH_OPTION = 'options.allowConfigFetchFromLocalAddresses';

/** Whose config holds the option, for the refusal to say where it is set. */
export type FetchingSide = 'controller' | 'executor';

/** Metadata services that are not in a refused range already (169.254.169.254 is link-local). */
const METADATA_ADDRESSES = new Set(['fd00:ec2::254']);

const REFUSED_RANGES: Record<string, string> = {
  loopback: 'a loopback address',
  linkLocal: 'a link-local address',
  unspecified: 'an unspecified address (it reaches this host)',
};

/** Why `address` must not be fetched from, or undefined when it may. IPv4-mapped IPv6 counts as its IPv4. */
export function refusedAddress(address: string): string | undefined {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.process(address);
  } catch {
    return 'not an IP address';
  }
  const normalized = parsed.toString();
  if (METADATA_ADDRESSES.has(normalized) || normalized === '169.254.169.254') return 'a cloud instance metadata address';
  return REFUSED_RANGES[parsed.range()];
}

export class RefusedFetchAddressError extends Error {
  override name = 'RefusedFetchAddressError';
}

function refusal(host: string, address: string, why: string, side: FetchingSide): RefusedFetchAddressError {
  const resolved = host === address ? `${host} is` : `${host} resolves to ${address},`;
  return new RefusedFetchAddressError(
    `Config fetch refused: ${resolved} ${why}; set ${ALLOW_LOCAL_FETCH_OPTION}: true in the ${side} config to allow it`,
  );
}

/** Refuses an IP literal at once: the socket does no DNS lookup for one, so the lookup guard never sees it. */
export function checkLiteralHost(hostname: string, side: FetchingSide): void {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) === 0) return;
  const why = refusedAddress(host);
  if (why) throw refusal(host, host, why, side);
}

/**
 * A `lookup` for net/tls.connect (undici's `connect` options) that resolves as usual and fails the connection
 * when any address of the name is refused: a name with one public and one loopback address is not half-trusted.
 */
export function guardedLookup(side: FetchingSide): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true } as LookupAllOptions, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      for (const { address } of addresses) {
        const why = refusedAddress(address);
        if (why) return callback(refusal(hostname, address, why, side), '', 0);
      }
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  };
}
