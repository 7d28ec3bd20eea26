import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { extract } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configTar, resolveConfigs } from '../../../src/executor/instances/configs.js';
import { MAX_CONFIG_FETCH_BYTES } from '../../../src/model/http-config-fetch.js';

async function untar(tar: Buffer): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: unknown) => {
        if (!Buffer.isBuffer(chunk)) throw new Error('a tar entry chunk that is not a Buffer');
        chunks.push(chunk);
      });
      stream.on('end', () => {
        out[header.name] = header.type === 'directory' ? '<dir>' : Buffer.concat(chunks).toString('utf8');
        next();
      });
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  Readable.from(tar).pipe(ex);
  await done;
  return out;
}

/** The test's config server is on loopback, which the executor refuses unless its option allows it. */
const LOCAL_ALLOWED = { allowLocalAddresses: true };

let server: ReturnType<typeof createServer>;
let port = 0;
const seen: Array<{ url: string; auth?: string; host?: string }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url!, ...(req.headers.authorization ? { auth: req.headers.authorization } : {}), ...(req.headers.host ? { host: req.headers.host } : {}) });
    if (req.url === '/big') return res.end(Buffer.alloc(MAX_CONFIG_FETCH_BYTES + 1, 97));
    if (req.url === '/missing') {
      res.statusCode = 404;
      return res.end('no');
    }
    res.end(`config body for ${req.url} (longer than twenty-two bytes)`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('config injection', () => {
  it('resolves INLINE, EXECUTOR_LOCAL_FILE and EXECUTOR_HTTP_FETCH and packs them with parent directories', async () => {
    const files = await resolveConfigs([
      { type: 'INLINE', localFilename: '/files/drove.txt', data: 'RHJvdmUgdGVzdA==' },
      { type: 'EXECUTOR_LOCAL_FILE', localFilename: '/etc/app/hosts', filePathOnHost: '/etc/hostname' },
      {
        type: 'EXECUTOR_HTTP_FETCH',
        localFilename: '/etc/app/remote.conf',
        http: { protocol: 'HTTP', hostname: '127.0.0.1', port, path: '/conf?x=1', username: 'u~?', password: 'p>>?' },
      },
    ], LOCAL_ALLOWED);
    const entries = await untar(await configTar(files));
    expect(entries['files/']).toBe('<dir>');
    expect(entries['files/drove.txt']).toBe('Drove test');
    expect(entries['etc/app/remote.conf']).toBe('config body for /conf?x=1 (longer than twenty-two bytes)');
    expect(entries['etc/app/hosts']!.length).toBeGreaterThan(0);
    // The given hostname and standard base64 (not URL-safe) basic auth, unlike Drove.
    expect(seen.at(-1)).toEqual({ url: '/conf?x=1', auth: `Basic ${Buffer.from('u~?:p>>?').toString('base64')}`, host: `127.0.0.1:${port}` });
  });

  it('refuses bodies over 1 MiB, non-success statuses, controller fetches and relative paths', async () => {
    await expect(resolveConfigs([{ type: 'EXECUTOR_HTTP_FETCH', localFilename: '/a', http: { protocol: 'HTTP', hostname: '127.0.0.1', port, path: '/big' } }], LOCAL_ALLOWED)).rejects.toThrow('larger than 1048576 bytes');
    await expect(resolveConfigs([{ type: 'EXECUTOR_HTTP_FETCH', localFilename: '/a', http: { protocol: 'HTTP', hostname: '127.0.0.1', port, path: '/missing' } }], LOCAL_ALLOWED)).rejects.toThrow('returned HTTP 404');
    await expect(resolveConfigs([{ type: 'CONTROLLER_HTTP_FETCH', localFilename: '/a', http: { protocol: 'HTTP', hostname: 'h' } }], LOCAL_ALLOWED)).rejects.toThrow('Controller http should have been resolved to inline by controller');
    await expect(resolveConfigs([{ type: 'EXECUTOR_LOCAL_FILE', localFilename: '/a', filePathOnHost: '/nonexistent/file' }], LOCAL_ALLOWED)).rejects.toThrow('Could not read config file /nonexistent/file');
    await expect(configTar([{ path: 'relative/x', data: Buffer.from('x') }])).rejects.toThrow('absolute');
  });
});
