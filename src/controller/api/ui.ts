import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { failure } from '../../model/index.js';
import { CONSOLE_ASSETS_PREFIX, CONSOLE_PAGES } from './console-pages.js';

export interface ConsoleOptions {
  /** The built console (index.html and assets/); default: dist/ui of this package (console-pages.ts). */
  dir: string;
}

/**
 * What a browser is told about every console response: run only our own scripts and styles, talk only to this
 * origin, never be framed (clickjacking of the operation buttons), never send the console's address elsewhere.
 */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; " +
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/**
 * The web console (docs/console.md): the page at each of Drove's console addresses (console-pages.ts), its hashed
 * assets, and Drove's view paths `/apis/ui/...`, which send the browser to the page they name. On a follower the
 * access guard answers every page with a 303 to the same page on the leader (routes-access.ts).
 */
export async function uiRoutes(app: FastifyInstance, options: ConsoleOptions): Promise<void> {
  let indexHtml: string | undefined;
  const page = async (_request: unknown, reply: FastifyReply) => {
    indexHtml ??= readIndex(options.dir);
    reply.headers(SECURITY_HEADERS);
    if (indexHtml === undefined) {
      return reply.code(404).send(failure('The web console is not built: run `npm run build` (it writes dist/ui)'));
    }
    // The page names its assets by content hash, so it must be fetched again to see a new build.
    return reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(indexHtml);
  };
  for (const path of CONSOLE_PAGES) app.get(path, page);

  await app.register(fastifyStatic, {
    root: join(options.dir, 'assets'),
    prefix: CONSOLE_ASSETS_PREFIX,
    decorateReply: false,
    index: false,
    // Content-hashed names: a file never changes under its name.
    maxAge: '365d',
    immutable: true,
    setHeaders: (response) => {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.setHeader(name, value);
    },
    // An unbuilt console (no dist/ui/assets) logs one start-up warning; its pages say how to build it (404).
  });

  app.get('/apis/ui/*', async (request, reply) => reply.redirect(consolePagePath(request.params, request.url), 303));
}

function readIndex(dir: string): string | undefined {
  const path = join(dir, 'index.html');
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

/**
 * The console page a request names, as a path on this origin: for Drove's view paths the part below `/apis/ui`
 * (each segment encoded again), for console pages their own path; the query string is kept either way. Read from
 * the request target without a URL parser, which refuses targets the router still matches (`//` reads as an
 * address without a host): an absolute-form target (`GET http://elsewhere/...`) loses its scheme and host, so it
 * cannot put another host into the redirect, and leading slashes collapse into one, so the result is never a
 * `//host` address either.
 */
export function consolePagePath(params: unknown, url: string): string {
  const target = url.split('#', 1)[0]!;
  const queryAt = target.indexOf('?');
  const search = queryAt < 0 ? '' : target.slice(queryAt);
  const ownPath = (queryAt < 0 ? target : target.slice(0, queryAt)).replace(/^[a-z][a-z\d+.-]*:\/\/[^/]*/i, '');
  const page = (params as { '*'?: string } | undefined)?.['*'];
  const path = page === undefined ? ownPath : `/${page.split('/').map(encodeURIComponent).join('/')}`;
  return `/${path.replace(/^\/+/, '')}${search}`;
}
