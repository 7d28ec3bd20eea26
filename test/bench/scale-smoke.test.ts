import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { topSelfTime } from '../../bench/scale/profile.js';
import type { RunningController } from '../../src/controller/server.js';
import { startControllerServer } from '../../src/controller/server.js';
import { devControllerConfig, loadDevState } from '../../src/dev.js';
import { freePort } from '../../src/executor/server.js';
import { DroveApi, healthy } from '../support/drove-api.js';
import type { HollowFleet } from '../support/hollow/fleet.js';
import { startHollowFleet } from '../support/hollow/fleet.js';
import { findRepoRoot } from '../support/repo-root.js';
import { httpCheck, httpdServiceSpec } from '../support/specs.js';

/**
 * The small run of bench:scale that keeps it from rotting (docs/hollow.md): a real controller (SQLite store) and 50
 * hollow executors in 2 worker processes. Behaviour only: every executor registers, a service with 4 instances per
 * host becomes 200 HEALTHY instances, and the instances of 5 executors that die leave the healthy count once the
 * controller finds those executors stale. The workers' CPU profiles of ACTIVATE (bench:scale --cpu-prof) hold the
 * executor code they ran. No timing is asserted; bench:scale measures. HOLLOW_DEBUG=1 logs the controller and the
 * executors at info.
 */

const EXECUTORS = 50;
const PER_HOST = 4;
const KILLED = 5;
/** Generous for a loaded 2-core machine; the run takes a fraction of it. */
const WAIT = { timeoutMs: 40_000, intervalMs: 100 };

let cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  cleanups = [];
});

describe('bench:scale smoke (50 hollow executors)', () => {
  it('places instancesPerHost on every hollow executor and drops those of executors that die', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hollow-smoke-'));
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const state = loadDevState(dataDir, { port: await freePort(), executorPort: await freePort(), host: '127.0.0.1' });
    const controllerConfig = devControllerConfig(dataDir, state, 'silent');
    controllerConfig.options.clusterOpParallelism = 32;
    // Short, so killed executors go stale within the test; heartbeats below come well inside it.
    controllerConfig.options.staleExecutorAge = '3 seconds';
    const controller: RunningController = await startControllerServer(controllerConfig, { logger: pino({ level: process.env.HOLLOW_DEBUG ? 'info' : 'silent' }) });
    cleanups.push(() => controller.close());
    const api = new DroveApi(controller.url, { username: 'admin', password: 'admin' });
    cleanups.push(() => api.close());

    const fleet: HollowFleet = await startHollowFleet({
      controllerUrls: [controller.url],
      executors: EXECUTORS,
      workers: 2,
      hostnamePrefix: `smoke-${process.pid}`,
      ...(process.env.HOLLOW_DEBUG ? { logLevel: 'info' } : {}),
      startLatencyMs: 20,
      startJitterMs: 20,
      executorConfig: {
        clusterAuth: {
          secrets: [
            { nodeType: 'CONTROLLER', secret: state.controllerSecret },
            { nodeType: 'EXECUTOR', secret: state.executorSecret },
          ],
        },
        options: { heartbeatInterval: '1 second', readinessPollInterval: '200 milliseconds' },
      },
    });
    cleanups.push(() => fleet.stop());
    await fleet.ready();
    expect(fleet.executorIds).toHaveLength(EXECUTORS);
    expect((await api.executors()).map((e) => e.executorId).sort()).toEqual([...fleet.executorIds].sort());

    const spec = httpdServiceSpec('HOLLOW_SMOKE', {
      healthcheck: httpCheck('/health', '1 second', 3),
      readiness: httpCheck('/health', '100 milliseconds', 20),
    });
    const serviceId = await api.accepted({ type: 'CREATE', spec, instancesPerHost: PER_HOST });
    await api.waitForService(serviceId, 'INACTIVE', () => true, WAIT.timeoutMs);
    await fleet.profileStart();
    await expect(fleet.profileStart()).rejects.toThrow('a profile is already running');
    await api.accepted({ type: 'ACTIVATE', serviceId });
    const all = await api.waitForInstances(serviceId, `${EXECUTORS * PER_HOST} healthy`, (list) => healthy(list).length === EXECUTORS * PER_HOST, WAIT.timeoutMs);
    const profiles = await fleet.profileStop((i) => join(dataDir, `fleet-${i}.cpuprofile`));
    expect(profiles).toEqual([join(dataDir, 'fleet-0.cpuprofile'), join(dataDir, 'fleet-1.cpuprofile')]);
    // Every function of the workers' busy time, so the executor's own code is among them (the agent took STARTs).
    const sampled = topSelfTime(profiles, findRepoRoot(), Number.MAX_SAFE_INTEGER).map((t) => t.fn);
    expect(sampled.some((fn) => fn.includes('src/executor/'))).toBe(true);
    await expect(fleet.profileStop((i) => join(dataDir, `again-${i}.cpuprofile`))).rejects.toThrow('no profile is running');
    const perExecutor = new Map<string, number>();
    for (const i of healthy(all)) perExecutor.set(i.executorId, (perExecutor.get(i.executorId) ?? 0) + 1);
    expect([...perExecutor.keys()].sort()).toEqual([...fleet.executorIds].sort());
    expect(new Set(perExecutor.values())).toEqual(new Set([PER_HOST]));
    const times = await fleet.times();
    expect([...times.values()].filter((t) => t.firstStartAt !== undefined && t.firstStartAt >= t.joinedAt)).toHaveLength(EXECUTORS);

    const victims = fleet.executorIds.slice(0, KILLED);
    await fleet.kill(victims);
    expect(fleet.executorIds).toHaveLength(EXECUTORS - KILLED);
    const after = await api.waitForInstances(
      serviceId,
      `the killed executors' instances out of the healthy count`,
      (list) => healthy(list).length === (EXECUTORS - KILLED) * PER_HOST,
      WAIT.timeoutMs,
    );
    expect(healthy(after).filter((i) => victims.includes(i.executorId))).toEqual([]);
    const listed = await api.executors();
    expect(listed.filter((e) => e.state === 'REMOVED').map((e) => e.executorId).sort()).toEqual([...victims].sort());
    expect(listed.filter((e) => e.state !== 'REMOVED')).toHaveLength(EXECUTORS - KILLED);
    const usage = await fleet.usage();
    expect(usage).toHaveLength(2);
    expect(usage.reduce((sum, u) => sum + u.executors, 0)).toBe(EXECUTORS - KILLED);
  }, 60_000);
});
