import { existsSync, mkdirSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/model/index.js';
import { instanceLogCleanup, sweepInstanceLogs } from '../../../src/executor/log-cleanup.js';
import { waitUntil } from '../../support/wait.js';

/** A sweep of a few small folders takes milliseconds; 5 s only bounds one that hangs. */
const SWEEP_WAIT = { timeoutMs: 5_000, intervalMs: 0 };

const DAY = 24 * 60 * 60 * 1000;
const WEEK = 7 * DAY;

/** An instance folder whose folder and files were last written `ageMs` before `now`. */
function folder(logDir: string, serviceId: string, instanceId: string, now: number, ageMs: number): string {
  const dir = join(logDir, serviceId, instanceId);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'output.log'), 'x');
  writeFileSync(join(dir, 'output.log-1.gz'), 'y');
  const at = new Date(now - ageMs);
  for (const name of readdirSync(dir)) utimesSync(join(dir, name), at, at);
  utimesSync(dir, at, at);
  return dir;
}

describe('instance log cleanup', () => {
  it('removes folders of instances not live and idle for longer than the retention, and emptied service folders', async () => {
    const logDir = mkdtempSync(join(tmpdir(), 'logclean-'));
    const now = Date.now();
    const stopped = folder(logDir, 'A-1', 'SI-old', now, WEEK + 1000);
    const recent = folder(logDir, 'A-1', 'SI-recent', now, WEEK - 60_000);
    const running = folder(logDir, 'A-1', 'SI-running', now, 30 * DAY);
    const lone = folder(logDir, 'B-1', 'SI-gone', now, 30 * DAY);
    // A folder whose files were written lately counts by its newest file, not by the folder's own mtime.
    const busy = folder(logDir, 'C-1', 'SI-busy', now, 30 * DAY);
    utimesSync(join(busy, 'output.log'), new Date(now - DAY), new Date(now - DAY));
    writeFileSync(join(logDir, 'stray-file'), 'not a service folder');
    const removed = await sweepInstanceLogs(
      { logDir, retentionMs: WEEK, isLive: (serviceId, instanceId) => serviceId === 'A-1' && instanceId === 'SI-running' },
      now,
    );
    expect(removed.sort()).toEqual(['A-1/SI-old', 'B-1/SI-gone']);
    expect([existsSync(stopped), existsSync(recent), existsSync(running), existsSync(lone), existsSync(busy)]).toEqual([
      false,
      true,
      true,
      false,
      true,
    ]);
    expect(existsSync(join(logDir, 'B-1'))).toBe(false);
    expect(existsSync(join(logDir, 'stray-file'))).toBe(true);
  });

  it('a missing log folder is nothing to clean', async () => {
    expect(await sweepInstanceLogs({ logDir: '/nonexistent/drove-logs', retentionMs: WEEK, isLive: () => false }, Date.now())).toEqual([]);
  });

  it('runs every interval on the injected clock until stopped', async () => {
    const logDir = mkdtempSync(join(tmpdir(), 'logclean-'));
    const clock = new ManualClock(Date.now());
    const first = folder(logDir, 'A-1', 'SI-1', clock.now(), WEEK + 1000);
    const cleanup = instanceLogCleanup({ logDir, retentionMs: WEEK, intervalMs: 60 * 60_000, isLive: () => false, clock });
    cleanup.start();
    await clock.advance(60 * 60_000 - 1);
    expect(existsSync(first)).toBe(true);
    await clock.advance(1);
    // The next sweep is scheduled once this one has finished.
    // The sweep does real (async) file I/O after the timer fires: poll for its result on every event-loop turn.
    await waitUntil('the first folder removed', () => !existsSync(first) && clock.pending() === 1, SWEEP_WAIT);
    const second = folder(logDir, 'A-1', 'SI-2', clock.now(), WEEK + 1000);
    await clock.advance(60 * 60_000);
    await waitUntil('the second folder removed', () => !existsSync(second) && clock.pending() === 1, SWEEP_WAIT);
    await cleanup.stop();
    const third = folder(logDir, 'A-1', 'SI-3', clock.now(), WEEK + 1000);
    await clock.advance(10 * 60 * 60_000);
    expect(existsSync(third)).toBe(true);
    expect(clock.pending()).toBe(0);
  });

  it('refuses a zero retention or interval', () => {
    const clock = new ManualClock();
    const base = { logDir: '/x', isLive: () => false, clock };
    expect(() => instanceLogCleanup({ ...base, retentionMs: 0, intervalMs: 1 })).toThrow('instance log retention must be a positive duration');
    expect(() => instanceLogCleanup({ ...base, retentionMs: 1, intervalMs: 0 })).toThrow('instance log cleanup interval must be a positive duration');
  });
});
