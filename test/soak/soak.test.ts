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
 * Measured on the shared 2-core machine (load average 3 to 28): a 3-minute soak takes 189-243 s from the start of
 * the chaos to the end of its cleanup (the last fault healed up to 11 s late, settling up to 25 s, cleanup 9-27 s).
 * This test took 246 s in all at load average 21: 42 s before the chaos for the tsc build of ensureBinaryBuilt, the
 * cluster's start and the wait for a leader. The bounds the soak enforces itself are startup 180 s, settling 240 s
 * and convergence 30 s; this timeout is their sum plus the chaos and a minute for the build and the cleanup, so it
 * never cuts short a run the soak would pass, and a hung soak still fails within 12 minutes.
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
