import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, TEST_IMAGE } from '../../support/images.js';

/** scripts/bootstrap.mjs, the entry point behind npm start / npm test / npm run images. */
const bootstrap = (...args: string[]) =>
  spawnSync(process.execPath, [join(repoRoot, 'scripts', 'bootstrap.mjs'), ...args], { cwd: repoRoot, encoding: 'utf8' });

describe('bootstrap', () => {
  it('prints its usage and exits 2 for an unknown command', () => {
    const result = bootstrap('deploy');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('usage: node scripts/bootstrap.mjs start|test|images');
  });

  it('`images` makes sure Docker answers and leaves an up-to-date test image alone', () => {
    const first = bootstrap('images');
    expect(first.status, first.stderr).toBe(0);
    const second = bootstrap('images');
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toContain('[drove] images: bash scripts/images.sh');
    expect(second.stdout).toContain(`images: ${TEST_IMAGE} is up to date`);
    const inspect = spawnSync('docker', ['image', 'inspect', '-f', '{{ index .Config.Labels "drove-ts.image.hash" }}', TEST_IMAGE], {
      encoding: 'utf8',
    });
    expect(inspect.stdout.trim()).toMatch(/^[0-9a-f]{16}$/);
  });
});
