import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** The offline test image (scripts/images.sh): busybox httpd with /cgi-bin/health, /cgi-bin/prestop, /cgi-bin/env. */
export const TEST_IMAGE = 'drove-ts/httpd:1';

export const repoRoot = join(import.meta.dirname, '..', '..');

let ensured = false;

/**
 * Makes sure dockerd answers and the test image exists (scripts/images.sh is a no-op when it is up to date).
 * Throws with the reason when Docker is absent: tests needing Docker fail, they never skip.
 */
export function ensureTestImage(): void {
  if (ensured) return;
  try {
    execFileSync('docker', ['info'], { stdio: 'pipe' });
  } catch (error) {
    throw new Error(`Docker is not reachable (docker info failed); run \`npm test\` to set it up: ${(error as Error).message}`);
  }
  execFileSync('bash', [join(repoRoot, 'scripts', 'images.sh'), 'httpd'], { stdio: 'pipe' });
  ensured = true;
}

/** The node_exporter image (scripts/images.sh): Debian's prometheus-node-exporter, `args` are its flags. */
export const NODE_EXPORTER_IMAGE = 'drove-ts/node-exporter:1';

/**
 * Builds the node_exporter image; fails with the install command when the prometheus-node-exporter package is
 * missing (`npm test` and .ci/run install it).
 */
export function ensureNodeExporterImage(): void {
  try {
    execFileSync('bash', [join(repoRoot, 'scripts', 'images.sh'), 'node-exporter'], { stdio: 'pipe' });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`Cannot build ${NODE_EXPORTER_IMAGE}: ${stderr.trim() || (error as Error).message}`);
  }
}
