import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Where the web console lives: its page addresses and its built files (docs/console.md).
 *
 * Drove's console answers at these paths (its Jersey views under `/apis/ui/...`, reached without the prefix);
 * drove-ts keeps them so that bookmarks and links into a Drove console work here, and adds its own pages
 * (events, fleet, login). Each is the same single page application: the page reads its data from the API with
 * the user's credentials, so the HTML and the assets hold no data and are served without credentials.
 */
export const CONSOLE_PAGES = [
  '/',
  '/dashboard',
  '/localservices',
  '/localservices/:serviceId',
  '/localservices/:serviceId/instances/:instanceId',
  '/localservices/:serviceId/instances/:instanceId/stream',
  '/cluster',
  '/executors/:executorId',
  '/events',
  '/fleet',
  '/login',
] as const;

/** The prefix of the built scripts and styles (Vite's `assets/` folder; names carry a content hash). */
export const CONSOLE_ASSETS_PREFIX = '/assets/';

/** The repository (or installed package) root: the directory above this file holding package.json. */
function packageRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) return import.meta.dirname;
    dir = parent;
  }
  return dir;
}

/** `npm run build` writes the console here (ui/vite.config.ts), the same place from src/ (tests) and dist/. */
export function defaultConsoleDir(): string {
  return join(packageRoot(), 'dist', 'ui');
}

/** The package's version, shown in the console's footer. */
export function packageVersion(): string {
  try {
    const { version } = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown };
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}
