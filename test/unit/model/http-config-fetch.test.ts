import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_CONFIG_FETCH_BYTES,
  authorizationHeader,
  configUrl,
  fetchConfig,
  type ConfigFetchLimits,
} from '../../../src/model/http-config-fetch.js';
import type { HttpCallSpec } from '../../../src/model/index.js';

/**
 * The HTTP call behind CONTROLLER_HTTP_FETCH (controller) and EXECUTOR_HTTP_FETCH (executor): both sides used to
 * have their own, differing in basic auth, default ports and IPv6 literals. These are the tests of both.
 */

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let server: Server;
let port = 0;
const seen: Seen[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      if (req.url === '/big') return res.end(Buffer.alloc(MAX_CONFIG_FETCH_BYTES + 1, 97));
      if (req.url === '/exact') return res.end(Buffer.alloc(MAX_CONFIG_FETCH_BYTES, 97));
      if (req.url === '/missing') {
        res.statusCode = 404;
        return res.end('no');
      }
      if (req.url === '/created') res.statusCode = 201;
      res.end(`config body for ${req.url}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const LIMITS: ConfigFetchLimits = { timeoutMs: 5_000, maxBytes: MAX_CONFIG_FETCH_BYTES, allowLocalAddresses: true, side: 'controller' };
const local = (http: Partial<HttpCallSpec>): HttpCallSpec => ({ protocol: 'HTTP', hostname: '127.0.0.1', port, ...http });

describe('HTTP config fetch (controller and executor alike)', () => {
  it('fetches from the given hostname, path and port with standard base64 basic auth', async () => {
    const body = await fetchConfig(local({ path: '/conf?x=1', username: 'us?r~', password: 'p>ss~~' }), LIMITS);
    expect(body.toString()).toBe('config body for /conf?x=1');
    const last = seen.at(-1)!;
    expect(last.url).toBe('/conf?x=1');
    expect(last.headers.host).toBe(`127.0.0.1:${port}`);
    // '?', '>' and '~' make standard and URL-safe base64 differ.
    expect(last.headers.authorization).toBe(`Basic ${Buffer.from('us?r~:p>ss~~').toString('base64')}`);
    expect(last.headers.authorization).toMatch(/[+/]/);
  });

  it('sends basic auth only when both username and password are given, and authHeader verbatim over them', async () => {
    await fetchConfig(local({ path: '/u', username: 'only-user' }), LIMITS);
    expect(seen.at(-1)!.headers.authorization).toBeUndefined();
    await fetchConfig(local({ path: '/p', password: 'only-password' }), LIMITS);
    expect(seen.at(-1)!.headers.authorization).toBeUndefined();
    expect(authorizationHeader({ protocol: 'HTTP', hostname: 'h', authHeader: 'Bearer x', username: 'a', password: 'b' })).toBe('Bearer x');
    // The credentials win over an Authorization among the headers, whatever its case; other headers go as given.
    await fetchConfig(local({ path: '/h', headers: { authorization: 'Bearer stale', 'X-Env': 'prod' }, authHeader: 'Bearer fresh' }), LIMITS);
    expect(seen.at(-1)!.headers).toMatchObject({ authorization: 'Bearer fresh', 'x-env': 'prod' });
  });

  it('port 0 or absent is the protocol default; IPv6 literals are bracketed; the path gets its slash', () => {
    expect(configUrl({ protocol: 'HTTP', hostname: 'cfg' })).toBe('http://cfg:80/');
    expect(configUrl({ protocol: 'HTTPS', hostname: 'cfg', port: 0, path: 'a/b' })).toBe('https://cfg:443/a/b');
    expect(configUrl({ protocol: 'HTTP', hostname: '::1', port: 8080, path: '/c' })).toBe('http://[::1]:8080/c');
    expect(configUrl({ protocol: 'HTTP', hostname: '[fd00::5]', port: 8080 })).toBe('http://[fd00::5]:8080/');
  });

  it('sends the payload with other verbs, never with GET', async () => {
    await fetchConfig(local({ path: '/post', verb: 'POST', payload: '{"env":"prod"}' }), LIMITS);
    expect(seen.at(-1)).toMatchObject({ method: 'POST', body: '{"env":"prod"}' });
    await fetchConfig(local({ path: '/get', payload: 'ignored' }), LIMITS);
    expect(seen.at(-1)).toMatchObject({ method: 'GET', body: '' });
  });

  it('accepts 1 MiB and refuses more', async () => {
    expect((await fetchConfig(local({ path: '/exact' }), LIMITS)).length).toBe(MAX_CONFIG_FETCH_BYTES);
    await expect(fetchConfig(local({ path: '/big' }), LIMITS)).rejects.toThrow('larger than 1048576 bytes');
  });

  it('fails on a status outside successCodes (default 200)', async () => {
    await expect(fetchConfig(local({ path: '/missing' }), LIMITS)).rejects.toThrow(/returned HTTP 404/);
    await expect(fetchConfig(local({ path: '/created' }), LIMITS)).rejects.toThrow(/returned HTTP 201/);
    expect((await fetchConfig(local({ path: '/created', successCodes: [201] }), LIMITS)).toString()).toBe('config body for /created');
  });
});
