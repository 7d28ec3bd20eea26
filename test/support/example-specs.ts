import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalServiceSpec } from '../../src/model/index.js';
import { repoRoot } from './images.js';

/** Specs for end-to-end tests, taken from the shipped examples so that the examples are what gets exercised. */

export function exampleSpec(file: 'node-agent.json' | 'host-agent.json'): LocalServiceSpec {
  return JSON.parse(readFileSync(join(repoRoot, 'examples', file), 'utf8')) as LocalServiceSpec;
}

/**
 * The example with probes tightened for tests: a 1 s health interval finds a dead instance in ~3 s instead of
 * ~15 s, and a short waitBeforeKill keeps stop-first restarts quick.
 */
export function fastSpec(file: 'node-agent.json' | 'host-agent.json', overrides: Partial<LocalServiceSpec> = {}): LocalServiceSpec {
  const spec = exampleSpec(file);
  spec.healthcheck = { ...spec.healthcheck, interval: '1 second', attempts: 3 };
  spec.readiness = { ...spec.readiness, interval: '500 milliseconds', attempts: 20 };
  if (spec.preShutdown) spec.preShutdown = { ...spec.preShutdown, waitBeforeKill: '200 milliseconds' };
  return { ...spec, ...overrides };
}
