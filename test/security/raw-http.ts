import { connect } from 'node:net';

/** Helpers of the attacker's tests: raw HTTP requests (any request target), and the ways to spell a path. */

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * One request over a fresh TCP connection, written byte for byte: the request target is sent exactly as given
 * (percent-escapes, `..`, absolute-form `http://host/...`), which no HTTP client library allows.
 */
export function rawRequest(
  port: number,
  method: string,
  target: string,
  headers: Record<string, string> = {},
  body?: string,
  /**
   * Half-close after sending (the default): the server then drops a request it answers asynchronously (Node's
   * http server ends a half-closed socket), which suits refusals; false keeps the socket open for the answer.
   */
  halfClose = true,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
    for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
    if (body !== undefined) lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`);
    const request = `${lines.join('\r\n')}\r\n\r\n${body ?? ''}`;
    socket.on('connect', () => (halfClose ? socket.end(request) : socket.write(request)));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const head = (split < 0 ? text : text.slice(0, split)).split('\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head[0] ?? '')?.[1] ?? 0);
      const parsed: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) parsed[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status, headers: parsed, body: split < 0 ? '' : text.slice(split + 4) });
    });
  });
}

/** A route pattern with its parameters filled in (`:serviceId` -> `S-1`, `*` -> `localservices`). */
export function concretePath(pattern: string): string {
  return pattern.replace(/:(\w+)/g, (_m, name: string) => `${name}-1`).replace(/\*$/, 'localservices');
}

/**
 * Spellings of `path` an attacker would try, each named. Some reach the route (the router decodes them), some
 * match nothing; either way the rule of the route, or a 401 for an unmatched URL, must decide.
 */
export function encodedForms(path: string, port: number): Array<[string, string]> {
  const segments = path.split('/').slice(1);
  const last = segments.length - 1;
  const encodeFirstLetter = (segment: string) => segment.replace(/[a-z]/i, (c) => `%${c.charCodeAt(0).toString(16)}`);
  const withSegment = (index: number, f: (s: string) => string) => `/${segments.map((s, i) => (i === index ? f(s) : s)).join('/')}`;
  return [
    ['canonical', path],
    ['percent-encoded letter in /apis', withSegment(0, encodeFirstLetter)],
    ['percent-encoded letter in the last segment', withSegment(last, encodeFirstLetter)],
    ['upper-case hex escape', path.replace(/[j-o]/, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)],
    ['every letter percent-encoded', `/${segments.map((s) => s.replace(/[a-z]/gi, (c) => `%${c.charCodeAt(0).toString(16)}`)).join('/')}`],
    ['double-encoded letter', withSegment(0, (s) => s.replace('a', '%2561'))],
    ['percent-encoded slashes', `/${segments.join('%2F')}`],
    ['percent-encoded slash before the last segment', `/${segments.slice(0, last).join('/')}%2F${segments[last]}`],
    ['leading double slash', `/${path}`],
    ['double slash inside', path.replace('/apis/', '/apis//')],
    ['/./ segment', path.replace('/apis/', '/apis/./')],
    ['/../ segment', path.replace('/apis/', '/apis/x/../')],
    ['encoded /../ segment', path.replace('/apis/', '/apis/x/%2e%2e/')],
    [';parameter on /apis', path.replace('/apis/', '/apis;jsessionid=x/')],
    [';parameter at the end', `${path};x=1`],
    ['absolute-form target', `http://127.0.0.1:${port}${path}`],
    ['absolute-form target, encoded path', `http://attacker.example${withSegment(0, encodeFirstLetter)}`],
    ['trailing ?', `${path}?`],
    ['trailing /', `${path}/`],
    ['trailing /?', `${path}/?x=1`],
    ['upper-case path', path.toUpperCase()],
    ['fragment', `${path}#x`],
  ];
}
