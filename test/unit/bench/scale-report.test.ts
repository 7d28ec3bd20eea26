import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { topSelfTime } from '../../../bench/scale/profile.js';
import { goalLines, profileLines, storeTable } from '../../../bench/scale/report.js';
import { stepsLine } from '../../../bench/scale/run.js';
import type { SizeResult } from '../../../bench/scale/run.js';
import { percentile } from '../../../bench/scale/stats.js';

/** The arithmetic behind bench:scale's printed figures (docs/scale.md): percentiles, profiles, growth and goals. */

const row = (executors: number, overrides: Partial<SizeResult> = {}): SizeResult => ({
  store: 'sqlite',
  executors,
  instances: executors * 4,
  api: [],
  notes: [],
  loadAvg: [1, 1],
  profiles: [],
  ...overrides,
});

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('percentile', () => {
  it('is nearest-rank over unsorted values, and undefined for none', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeUndefined();
  });
});

describe('profileLines', () => {
  it("prints each phase profile, with the cost per executor message or per instance started where they were counted", () => {
    const top = [{ fn: 'parse (src/x.js:1)', selfMs: 50, percent: 25 }];
    const lines = profileLines([
      row(5000, {
        profiles: [
          { process: 'controller', phase: 'idle', paths: ['/tmp/r/sqlite-5000-idle.cpuprofile'], top, per: { count: 5000, unit: 'executor messages' } },
          { process: 'controller', phase: 'activate', paths: ['/tmp/r/sqlite-5000-activate.cpuprofile'], top, per: { count: 0, unit: 'executor messages' } },
          {
            process: 'fleet',
            phase: 'activate',
            paths: ['/tmp/r/sqlite-5000-fleet-0-activate.cpuprofile', '/tmp/r/sqlite-5000-fleet-1-activate.cpuprofile'],
            top,
            per: { count: 20000, unit: 'instances started' },
          },
        ],
      }),
    ]);
    expect(lines).toEqual([
      'controller CPU profile sqlite 5000, idle (5000 executor messages): /tmp/r/sqlite-5000-idle.cpuprofile',
      '  self ms  % busy   us/msg  function',
      '       50    25.0     10.0  parse (src/x.js:1)',
      'controller CPU profile sqlite 5000, activate: /tmp/r/sqlite-5000-activate.cpuprofile',
      '  self ms  % busy  function',
      '       50    25.0  parse (src/x.js:1)',
      'fleet CPU profile sqlite 5000, activate (20000 instances started): /tmp/r/sqlite-5000-fleet-0-activate.cpuprofile, /tmp/r/sqlite-5000-fleet-1-activate.cpuprofile',
      '  self ms  % busy  us/inst  function',
      '       50    25.0      2.5  parse (src/x.js:1)',
    ]);
  });
});

describe('topSelfTime', () => {
  it('sums self time per function from the sample deltas, leaves idle out and shares the busy time', () => {
    dir = mkdtempSync(join(tmpdir(), 'scale-profile-'));
    const file = join(dir, 'p.cpuprofile');
    const frame = (functionName: string, line: number) => ({ functionName, url: `file://${dir}/src/x.js`, lineNumber: line });
    writeFileSync(
      file,
      JSON.stringify({
        nodes: [
          { id: 1, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
          { id: 2, callFrame: frame('hot', 9) },
          { id: 3, callFrame: frame('hot', 9) },
          { id: 4, callFrame: frame('cold', 19) },
        ],
        startTime: 0,
        endTime: 10_000,
        // The time of sample i is timeDeltas[i + 1]: hot 3 ms + 3 ms (two nodes, one function), cold 2 ms, idle 5 ms.
        samples: [2, 3, 4, 1, 2],
        timeDeltas: [0, 3000, 3000, 2000, 5000],
      }),
    );
    const top = topSelfTime([file], dir);
    expect(top.map((t) => [t.fn, t.selfMs, t.percent])).toEqual([
      ['hot (src/x.js:10)', 6, 75],
      ['cold (src/x.js:20)', 2, 25],
    ]);
  });

  it("sums the profiles of several processes (the fleet's workers) function by function", () => {
    const root = mkdtempSync(join(tmpdir(), 'scale-profile-'));
    dir = root;
    const frame = (functionName: string) => ({ functionName, url: `file://${root}/src/x.js`, lineNumber: 0 });
    const write = (name: string, samples: number[], timeDeltas: number[]) => {
      const file = join(root, name);
      const nodes = [
        { id: 1, callFrame: frame('hot') },
        { id: 2, callFrame: frame('cold') },
      ];
      writeFileSync(file, JSON.stringify({ nodes, startTime: 0, endTime: 10_000, samples, timeDeltas }));
      return file;
    };
    // The time of sample i is timeDeltas[i + 1]. Worker 0: hot 4 ms, cold 1 ms. Worker 1: cold 5 ms.
    const a = write('w0.cpuprofile', [1, 2, 1], [0, 4000, 1000]);
    const b = write('w1.cpuprofile', [2, 2], [0, 5000]);
    expect(topSelfTime([a, b], root).map((t) => [t.fn, t.selfMs, t.percent])).toEqual([
      ['cold (src/x.js:1)', 6, 60],
      ['hot (src/x.js:1)', 4, 40],
    ]);
  });
});

describe('storeTable', () => {
  it('prints the growth of time per instance between rows, 1.00 being linear', () => {
    const lines = storeTable('sqlite', [row(500, { activateS: 2, restartS: 4 }), row(1000, { activateS: 6, restartS: 8 })]);
    const growth = lines.find((l) => l.includes('growth 500 -> 1000'));
    expect(growth).toContain('activate x1.50');
    expect(growth).toContain('restart x1.00');
  });
});

describe('goalLines', () => {
  it('judges the largest size of each store and says by how much a goal is missed', () => {
    const lines = goalLines([
      row(500, { activateS: 1 }),
      row(5000, { activateS: 20, placementsPerS: 1000, rssMb: 512, joinP99Ms: 50, cpuMsPerHeartbeat: 0.5, api: [{ name: 'cluster', requests: 10, errors: 0, p50Ms: 10, p99Ms: 300 }] }),
    ]);
    expect(lines).toContain('    MISSED  ACTIVE in < 15 s (> 1,300 placements/s): 20.0 s, 1000/s, 1.33x the limit');
    expect(lines).toContain('    MISSED  growth at most linear (activate time per instance, largest / smallest size): x2.00 (500 -> 5000), 2.00x linear');
    expect(lines).toContain('    met     controller RSS < 1 GB: 512 MB');
    expect(lines).toContain('    MISSED  API read p99 < 250 ms during the rollout (worst route): 300 ms, 1.20x the limit');
    expect(lines).toContain('    met     join -> START p99 < 100 ms: 50 ms');
    expect(lines).toContain('    MISSED  heartbeat < 0.2 ms controller CPU: 0.500 ms, 2.50x the limit');
  });

  it('compares etcd with SQLite per size against the 2x goal', () => {
    const lines = goalLines([row(500, { activateS: 10, restartS: 10 }), row(500, { store: 'etcd', activateS: 25, restartS: 15 })]);
    expect(lines).toContain('  etcd/SQLite at 500: activate 2.50, restart 1.50 (goal: rollout within 2x): MISSED');
  });
});

describe('stepsLine', () => {
  it("says where ACTIVATE's starts went, the controller's store writes and their slow tail included", () => {
    const line = stepsLine({
      instances: 2000,
      pendingToStarting: { p50: 0, p99: 5 },
      startingToUnready: { p50: 95, p99: 283 },
      unreadyToHealthy: { p50: 0, p99: 2 },
      executorMeanMs: 109,
      startJobMeanMs: 369,
      startJobsOver1s: 12,
      startJobsOver5s: 0,
      startJobs: 2000,
      adjusts: 1,
      adjustS: 4.2,
      messageMeanMs: 12.25,
      storeWrites: 640,
      storeWriteMeanMs: 3.46,
      storeWritesOver100ms: 2,
      storeWritesOver1s: 0,
      slotCycleMs: 540,
      controllerLoopP99Ms: 226,
      controllerLoopMaxMs: 357,
      fleetLoopP99Ms: 130,
      fleetLoopMaxMs: 702,
      benchLoopP99Ms: 40,
      benchLoopMaxMs: 1900,
    });
    expect(line).toContain('executor PENDING->STARTING 0/5, STARTING->UNREADY 95/283, UNREADY->HEALTHY 0/2');
    expect(line).toContain('controller start job 369 (so 260 outside the executor');
    expect(line).toContain('store writes 640, mean 3.5, 2 over 100 ms, 0 over 1 s;');
    expect(line).toContain('event-loop delay p99/max: controller 226/357, fleet worst 130/702, bench 40/1900');
  });
});

