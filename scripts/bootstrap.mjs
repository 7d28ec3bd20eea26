#!/usr/bin/env node
// Zero-setup entry point behind `npm start`, `npm test` and `npm run images`.
//   start [args...]  prepare, then run `drove dev [args...]` (e.g. `npm start -- --port 7000`)
//   test [args...]   prepare, type-check and lint everything (a failure stops it with exit code 1), then
//                    `vitest run [args...]` (unit, integration, security and e2e); exits with vitest's code
//   images           build the offline test/example image only
// Preparation: npm dependencies, TypeScript build, a running dockerd (installed/started when we are root on
// Debian/Ubuntu), the test image; for `test` also the docker-registry binary the private-registry tests start and
// Debian's prometheus package (promtool and the server the metrics tests start).
// Plain Node, no dependencies: it runs before `npm install`.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  PrepareError,
  ensureBuild,
  ensureDependencies,
  ensureDocker,
  ensureImages,
  ensureChromium,
  ensurePrometheus,
  ensureRegistry,
  log,
  mainJs,
  root,
  runChecks,
} from './prepare.mjs';

const usage = 'usage: node scripts/bootstrap.mjs start|test|images [args...]';

async function prepare({ build }) {
  ensureDependencies();
  if (build) ensureBuild();
  await ensureDocker();
  ensureImages();
}

/**
 * Runs a child with our stdio and exits with its code. Signals are forwarded: whoever stops us (a terminal's
 * Ctrl-C, npm, a supervisor's SIGTERM) stops the child; `drove dev` treats near-simultaneous copies as one.
 */
function handOver(command, args) {
  const child = spawn(command, args, { stdio: 'inherit', cwd: root });
  process.on('SIGINT', () => child.kill('SIGINT'));
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + signalNumber(signal) : 1)));
  child.on('error', (error) => {
    process.stderr.write(`[drove] cannot run ${command}: ${error.message}\n`);
    process.exit(1);
  });
}

function signalNumber(signal) {
  return { SIGINT: 2, SIGTERM: 15, SIGKILL: 9 }[signal] ?? 1;
}

async function main() {
  const [command, ...args] = process.argv.slice(2);
  switch (command) {
    case 'start':
      await prepare({ build: true });
      log(`running: drove dev ${args.join(' ')}`.trimEnd());
      // The flags the `drove` binary's shebang carries (src/node-flags.ts), read from the build just made.
      handOver(process.execPath, [...(await import(pathToFileURL(join(root, 'dist/src/node-flags.js')).href)).NODE_FLAGS, mainJs, 'dev', ...args]);
      return;
    case 'test':
      // The e2e tests run the compiled binary, so the build is part of test preparation.
      await prepare({ build: true });
      ensureRegistry();
      ensureChromium();
      ensurePrometheus();
      runChecks();
      log(`running: vitest run ${args.join(' ')}`.trimEnd());
      handOver(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...args]);
      return;
    case 'images':
      await ensureDocker();
      ensureImages();
      return;
    default:
      process.stderr.write(`${usage}\n`);
      process.exit(2);
  }
}

main().catch((error) => {
  if (error instanceof PrepareError) {
    process.stderr.write(`[drove] ${error.message}\n`);
  } else {
    process.stderr.write(`[drove] unexpected failure: ${error?.stack ?? error}\n`);
  }
  process.exit(1);
});
