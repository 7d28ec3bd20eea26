import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildConsole } from '../../../scripts/prepare.mjs';
import { repoRoot } from '../../support/images.js';

/**
 * The console that tests build for themselves (scripts/prepare.mjs, when dist/ is stale) is the one
 * `npm run build` ships, though vitest runs with NODE_ENV=test.
 */
describe('the web console build', () => {
  const outDir = mkdtempSync(join(tmpdir(), 'drove-console-build-'));
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('is a production bundle under vitest too: no development JSX, which names every source file of this machine', () => {
    expect(process.env.NODE_ENV).toBe('test');
    buildConsole({ outDir });
    const scripts = readdirSync(join(outDir, 'assets')).filter((name) => name.endsWith('.js'));
    expect(scripts).toHaveLength(1);
    const code = readFileSync(join(outDir, 'assets', scripts[0]!), 'utf8');
    // Booleans: a failure would otherwise print the whole bundle.
    expect(code.includes(repoRoot), 'a path of this machine in the bundle').toBe(false);
    expect(/lineNumber:\d+,columnNumber:/.test(code), "JSX's development runtime in the bundle").toBe(false);
    // It is the console: its entry point renders into the page's #app.
    expect(code.includes('getElementById(`app`)')).toBe(true);
  });
});
