import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ControllerMetrics } from '../../../src/controller/metrics/metrics.js';
import { ExecutorMetrics } from '../../../src/executor/metrics/metrics.js';
import { repoRoot } from '../../support/images.js';

/** The README's "Monitoring" section lists every metric the two programs register, so the docs cannot drift. */

function monitoringSection(): string {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Monitoring\n');
  expect(start, 'README has a "## Monitoring" section').toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

const registered = (registry: { getMetricsAsArray(): Array<{ name: string }> }) => registry.getMetricsAsArray().map((m) => m.name);

describe('README, Monitoring', () => {
  const section = monitoringSection();

  it.each([
    ['controller', registered(new ControllerMetrics({ processMetrics: true }).registry)],
    ['executor', registered(new ExecutorMetrics({ processMetrics: true }).registry)],
  ])('names every metric the %s registers', (_program, names) => {
    expect(names.length).toBeGreaterThan(20);
    expect(names.filter((name) => !section.includes(`\`${name}\``))).toEqual([]);
  });

  it('documents no drove_ metric that is not registered', () => {
    const all = new Set([
      ...registered(new ControllerMetrics({ processMetrics: true }).registry),
      ...registered(new ExecutorMetrics({ processMetrics: true }).registry),
    ]);
    const documented = [...section.matchAll(/`(drove_[a-z_]+)`/g)].map((m) => m[1]!);
    expect(documented.filter((name) => !all.has(name))).toEqual([]);
  });
});
