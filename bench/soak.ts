/**
 * The chaos soak (docs/soak.md): 3 controllers on a 3-member etcd, 3 executor hosts (network namespaces with their
 * own dockerd), a seeded random stream of operations and faults, and an invariant checker on Docker and the API.
 *   npm run soak -- --minutes 30 [--seed 1234] [--keep-logs]
 * Needs root (namespaces, iptables), dockerd, etcd and the test image (npm run images). Prints the seed at the start
 * and the end; the same seed replays the same schedule. Exits 1 on any invariant violation, 2 on bad arguments,
 * 130 when interrupted (Ctrl-C: everything it started is removed first, and the report so far is printed).
 */
import { parseArgs } from 'node:util';
import { newSeed } from '../test/support/soak/random.js';
import { formatReport, runSoak } from '../test/support/soak/soak.js';

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: npm run soak -- --minutes N [--seed S] [--keep-logs]\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: { minutes: { type: 'string', default: '30' }, seed: { type: 'string' }, 'keep-logs': { type: 'boolean', default: false } },
      strict: true,
    }));
  } catch (error) {
    usage((error as Error).message);
  }
  const minutes = Number(values.minutes);
  if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 24 * 60) usage(`--minutes must be a number of minutes above 0, got '${values.minutes}'`);
  const seed = values.seed === undefined ? newSeed() : Number(values.seed);
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffff_ffff) usage(`--seed must be an integer 0..4294967295, got '${values.seed}'`);
  process.stdout.write(`soak: seed ${seed}\n`);
  const report = await runSoak({ seed, durationMs: Math.round(minutes * 60_000), keepLogs: values['keep-logs'] });
  process.stdout.write(`${formatReport(report)}\n`);
  process.exitCode = report.interrupted ? 130 : report.violations.length > 0 || report.leftovers.length > 0 ? 1 : 0;
}

main().catch((error: unknown) => {
  process.stderr.write(`soak failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
