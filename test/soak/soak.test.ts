import { describe, expect, it } from 'vitest';
import { ensureBinaryBuilt } from '../support/e2e-cluster.js';
import { ensureTestImage } from '../support/images.js';
import { formatReport, runSoak } from '../support/soak/soak.js';

/**
 * The 3-minute chaos soak of `npm test` (docs/soak.md): a fixed seed, so a failure here replays with
 * `npm run soak -- --minutes 3 --seed 20260601`. The 30-minute run is `npm run soak`.
 */
const SEED = 20260601;
const CHAOS_MS = 3 * 60_000;
/**
 * Measured on the loaded 2-core machine: a whole 3-minute soak takes 195-235 s (setup of etcd, three dockerds in
 * namespaces and three controllers 2-6 s before the wait for a leader, settling after the chaos 0-50 s, cleanup
 * ~10 s). The bounds the soak enforces itself are startup 180 s, settling 240 s and convergence 30 s; this timeout
 * is their sum plus the chaos and a minute, so it never cuts short a run the soak would pass.
 */
const TEST_TIMEOUT_MS = CHAOS_MS + 180_000 + 240_000 + 30_000 + 60_000;

describe('chaos soak', () => {
  it(
    `keeps every invariant through 3 minutes of operations and faults (seed ${SEED})`,
    async () => {
      ensureTestImage();
      await ensureBinaryBuilt();
      process.stdout.write(`chaos soak: seed ${SEED}\n`);
      const report = await runSoak({ seed: SEED, durationMs: CHAOS_MS, log: (line) => process.stdout.write(`${line}\n`) });
      process.stdout.write(`${formatReport(report)}\n`);
      expect(report.operations.filter((o) => o.outcome === 'accepted').length).toBeGreaterThan(20);
      expect(report.faults.length).toBeGreaterThan(9);
      expect(report.violations.map((v) => `[${v.rule}] ${v.message}\n${v.evidence}`)).toEqual([]);
      // Every process, namespace and dockerd it started is gone.
      expect(report.leftovers).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});
