import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

/**
 * The web console's build (`npm run build` runs it after tsc): ui/ -> dist/ui, served by the controller
 * (src/controller/api/ui.ts). Everything comes from npm and the repository; the build fetches nothing.
 */

/** The console must load fast over a VPN to a far data centre: its whole bundle stays under 250 KB gzip. */
export const BUNDLE_BUDGET_GZIP_BYTES = 250 * 1024;

/** Prints the gzip size of every script and style, and fails the build above the budget. */
function bundleBudget(limit: number): Plugin {
  return {
    name: 'drove-bundle-budget',
    apply: 'build',
    generateBundle(_options, bundle) {
      let total = 0;
      const lines: string[] = [];
      for (const [name, output] of Object.entries(bundle)) {
        if (!/\.(js|css)$/.test(name)) continue;
        const source = output.type === 'chunk' ? output.code : output.source;
        const size = gzipSync(typeof source === 'string' ? Buffer.from(source) : Buffer.from(source)).length;
        total += size;
        lines.push(`  ${name}: ${(size / 1024).toFixed(1)} KB gzip`);
      }
      const verdict = total <= limit ? 'within' : 'OVER';
      const summary = `console bundle: ${(total / 1024).toFixed(1)} KB gzip, ${verdict} the budget of ${(limit / 1024).toFixed(0)} KB`;
      process.stdout.write(`${lines.join('\n')}\n${summary}\n`);
      if (total > limit) this.error(summary);
    },
  };
}

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  publicDir: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // A single page: one script and one style sheet, no inlined assets (the page's CSP allows only 'self').
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  plugins: [bundleBudget(BUNDLE_BUDGET_GZIP_BYTES)],
  // `npx vite --config ui/vite.config.ts` against a `drove dev` on port 7000 (the API answers the page's calls).
  server: { fs: { allow: ['..'] }, proxy: { '/apis': 'http://127.0.0.1:7000' } },
});
