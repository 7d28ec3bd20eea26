import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mainJs } from '../../scripts/prepare.mjs';
import type { CrashLoopSummary, LocalServiceInstanceInfo } from '../../src/model/index.js';
import { ADMIN, scratchDir, startE2eCluster, type E2eCluster } from '../support/e2e-cluster.js';
import type { DroveEvent } from '../support/drove-api.js';
import { ensureTestImage } from '../support/images.js';
import { createNetnsCluster, type NetnsCluster } from '../support/netns.js';
import { haServiceSpec } from '../support/specs.js';
import { waitUntil } from '../support/wait.js';

/**
 * Crash-loop backoff with a real controller process, a real executor and Docker (docs/design/crash-loop-backoff.md): a
 * container that exits at once is restarted with growing gaps, and the API, the events and the CLI show the restart
 * count, the last failure and the next attempt; once the host is fixed the next instance comes up and, after it has
 * been HEALTHY for `resetAfter`, the loop is over. The backoff figures are scaled down by a controller option so
 * the test takes seconds, not minutes: 2 s doubling to 8 s, reset after 6 s.
 */

const SERVICE = 'CRASHER-1';
const BACKOFF = { initialMs: 2_000, maxMs: 8_000, resetAfterMs: 6_000 };
const delayAfter = (restartCount: number) => (restartCount <= 1 ? 0 : Math.min(BACKOFF.initialMs * 2 ** (restartCount - 2), BACKOFF.maxMs));

describe('crash-loop backoff on real Docker', () => {
  let net: NetnsCluster;
  let cluster: E2eCluster;
  let fixDir: string;

  beforeAll(async () => {
    ensureTestImage();
    net = await createNetnsCluster({ hosts: 1, images: ['drove-ts/httpd:1'] });
    cluster = await startE2eCluster(net, {
      controller: {
        options: {
          reconcileInterval: '1 second',
          crashLoopBackoff: { initial: '2 seconds', max: '8 seconds', resetAfter: '6 seconds' },
        },
      },
    });
    fixDir = scratchDir('drove-crash-loop-');
  });

  afterEach((context) => {
    if (context.task.result?.state === 'fail' && cluster) process.stderr.write(`${cluster.logs()}\n`);
  });

  afterAll(async () => {
    await cluster?.close();
    await net?.close();
  });

  const loop = async (): Promise<CrashLoopSummary | undefined> => (await cluster.api.service(SERVICE))?.crashLoops?.[0];
  const crashLoopEvents = async (): Promise<DroveEvent[]> =>
    (await cluster.api.events()).filter((e) => e.type === 'LOCAL_SERVICE_CRASH_LOOP' && e.metadata.SERVICE_ID === SERVICE);
  /** When each instance of the service was created (PENDING), oldest first. */
  const startTimes = async (): Promise<number[]> =>
    (await cluster.api.events())
      .filter((e) => e.type === 'LOCAL_SERVICE_INSTANCE_STATE_CHANGE' && e.metadata.SERVICE_ID === SERVICE && e.metadata.CURRENT_STATE === 'PENDING')
      .map((e) => Number(e.metadata.CREATED));
  const cli = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const home = join(cluster.dir, 'cli-home');
      mkdirSync(home, { recursive: true });
      const child = spawn(process.execPath, [mainJs, '-e', cluster.apiUrl, '-u', ADMIN.username, '-p', ADMIN.password, ...args], {
        env: { ...process.env, HOME: home, TZ: 'UTC' },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  it('restarts a container that exits at once with growing gaps, showing count, reason and next attempt', async () => {
    const spec = haServiceSpec('CRASHER');
    // Up unless /fix/ok exists on the host: the "image" is broken until the operator fixes the host.
    spec.args = ['/bin/sh', '-c', 'if [ -f /fix/ok ]; then exec /bin/start.sh; fi; echo "crashing: /fix/ok is missing"; exit 3'];
    spec.volumes = [{ pathInContainer: '/fix', pathOnHost: fixDir, mode: 'READ_ONLY' }];
    spec.readiness = { ...spec.readiness, interval: '200 milliseconds', attempts: 3 };
    await cluster.api.accepted({ type: 'CREATE', spec, instancesPerHost: 1 });
    await cluster.api.waitForService(SERVICE, 'INACTIVE');
    await cluster.api.accepted({ type: 'ACTIVATE', serviceId: SERVICE });

    const looping = await waitUntil(
      'five failures counted',
      async () => {
        const current = await loop();
        if (current && current.restartCount >= 5) return current;
        throw new Error(`last crash loop: ${JSON.stringify(current)}`);
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    expect(looping.lastFailure.reason).toBe('Readiness check failed');
    expect(looping.hostname).toBe(net.hosts[0]!.address);
    // The next attempt is the delay after the failure (the failure time is the executor's clock, the same host's).
    const wait = looping.nextAttemptAt - looping.lastFailure.time;
    expect(wait).toBeGreaterThan(delayAfter(looping.restartCount) - 1_000);
    expect(wait).toBeLessThanOrEqual(delayAfter(looping.restartCount) + 1_000);

    // Never sooner than the backoff: each start comes at least the delay after the one before it failed.
    const starts = await startTimes();
    expect(starts.length).toBeGreaterThanOrEqual(5);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    process.stdout.write(`[crash-loop] gaps between starts: ${JSON.stringify(gaps)} ms (backoff before each: ${JSON.stringify(gaps.map((_, i) => delayAfter(i + 1)))} ms)\n`);
    for (const [i, gap] of gaps.entries()) expect(gap, `gap after start ${i + 1} of ${JSON.stringify(gaps)}`).toBeGreaterThanOrEqual(delayAfter(i + 1));
    expect(gaps[3]!, `gaps ${JSON.stringify(gaps)}`).toBeGreaterThan(gaps[1]!);

    const events = await crashLoopEvents();
    expect(events.map((e) => e.metadata.RESTART_COUNT).slice(0, 5)).toEqual([1, 2, 3, 4, 5]);
    expect(events[4]!.metadata).toMatchObject({ CRASH_LOOP_STATE: 'BACKING_OFF', ERROR: 'Readiness check failed', EXECUTOR_HOST: net.hosts[0]!.address });

    const wide = await cli('lsinstances', 'list', SERVICE, '--wide');
    expect(wide.code, wide.stderr).toBe(0);
    const [header, , ...rows] = wide.stdout.trimEnd().split('\n');
    expect(header).toMatch(/Instance ID .*State .*Restarts +Last Failure +Next Attempt/);
    const now = await loop();
    const row = rows.find((r) => r.includes(net.hosts[0]!.address) && r.includes('Readiness check failed'));
    expect(row, wide.stdout).toBeDefined();
    expect(row).toMatch(new RegExp(`\\s${now!.restartCount}\\s+Readiness check failed\\s+\\d\\d/\\d\\d/\\d{4}, \\d\\d:\\d\\d:\\d\\d`));
    const json = JSON.parse((await cli('lsinstances', 'list', SERVICE, '--wide', '--json')).stdout) as { crashLoops: CrashLoopSummary[] };
    expect(json.crashLoops[0]).toMatchObject({ executorId: looping.executorId, lastFailure: { reason: 'Readiness check failed' } });
    const described = await cli('describe', 'localservice', SERVICE);
    expect(described.stdout).toMatch(new RegExp(`Crash Loops \\(1\\):\\n-+\\n  \\[!!\\] ${net.hosts[0]!.address.replace(/\./g, '\\.')}\\n      Restarts: \\d+\\n      Last Failure: Readiness check failed \\(`));
    // Drove's own output stays as it was.
    expect((await cli('lsinstances', 'list', SERVICE)).stdout.split('\n')[0]).not.toContain('Restarts');
  });

  it('a fixed host gets its instance at the next attempt, and the loop ends after resetAfter HEALTHY', async () => {
    writeFileSync(join(fixDir, 'ok'), 'fixed\n');
    const [up] = await cluster.api.waitForInstances(SERVICE, 'an instance HEALTHY', (list) => list.some((i) => i.state === 'HEALTHY'), 60_000);
    const healthyAt = Date.now();
    // Still in the loop while the replacement proves itself.
    expect((await loop())?.restartCount).toBeGreaterThanOrEqual(5);
    await waitUntil('the crash loop to end', async () => (await loop()) === undefined, { timeoutMs: 30_000, intervalMs: 250 });
    process.stdout.write(`[crash-loop] fixed host: HEALTHY seen by the test -> loop ended: ${Date.now() - healthyAt} ms (resetAfter ${BACKOFF.resetAfterMs} ms)\n`);
    expect(Date.now() - healthyAt).toBeGreaterThanOrEqual(BACKOFF.resetAfterMs - 1_000);
    const reset = (await crashLoopEvents()).at(-1)!;
    expect(reset.metadata).toMatchObject({ CRASH_LOOP_STATE: 'RESET', RESTART_COUNT: 0 });
    expect(String(reset.metadata.REASON)).toContain(`Instance ${(up as LocalServiceInstanceInfo).instanceId} HEALTHY`);
    expect((await cluster.api.service(SERVICE))?.crashLoops).toBeUndefined();
    const instances = await cluster.api.instances(SERVICE);
    expect(instances.map((i) => [i.instanceId, i.state])).toEqual([[up!.instanceId, 'HEALTHY']]);
    const wide = await cli('lsinstances', 'list', SERVICE, '--wide');
    expect(wide.stdout.split('\n').filter((r) => r.includes(up!.instanceId))).toHaveLength(1);
    expect(wide.stdout).not.toContain('Readiness check failed');
  });
});
