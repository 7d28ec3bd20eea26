import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildControllerApp } from '../../src/controller/api/app.js';
import type { ControllerHttpLimits } from '../../src/controller/api/limits.js';
import { createController, type Controller } from '../../src/controller/controller.js';
import { SqliteStateStore } from '../../src/controller/store/sqlite.js';
import type { LeaderElector } from '../../src/controller/leadership/leadership.js';
import type { ControllerConfig } from '../../src/controller/config.js';
import { ManualClock, type LocalServiceInstanceInfo, type LocalServiceInstanceState } from '../../src/model/index.js';
import { instanceInfo, sampleLocalInfo, sampleResources } from './records.js';
import { testSpec } from './specs.js';
import { CLUSTER_SECRET, testConfig } from './controller-config.js';

export { ADMIN, GUEST, MAINT, NODE, ROOT, basic, CLUSTER_SECRET } from './controller-config.js';

/** A real controller core (engine, working set, SQLite store in a temp dir) behind the real API. */
export interface Harness {
  api: FastifyInstance;
  controller: Controller;
  store: SqliteStateStore;
  clock: ManualClock;
  dbPath: string;
  close(): Promise<void>;
}

/** Says "not the leader" and names another controller. */
export class FollowerElector implements LeaderElector {
  async start(): Promise<void> {}
  isLeader() {
    return false;
  }
  leaderAddress() {
    return 'ctrl2.local:10000';
  }
  async stop(): Promise<void> {}
}

export async function startHarness(
  opts: {
    leadership?: LeaderElector;
    config?: ControllerConfig;
    limits?: Partial<ControllerHttpLimits>;
    /** The built console to serve (index.html, assets/); default: the app's own (dist/ui). */
    consoleDir?: string;
  } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'drove-api-'));
  const dbPath = join(dir, 'drove.db');
  const store = new SqliteStateStore(dbPath);
  const clock = new ManualClock(Date.now());
  const config = opts.config ?? testConfig();
  const controller = await createController({
    config,
    store,
    clock,
    hostname: 'ctrl1.local',
    port: 10000,
    logger: pino({ level: 'silent' }),
    ...(opts.leadership ? { leadership: opts.leadership } : {}),
  });
  await controller.start();
  const api = buildControllerApp({
    core: controller,
    config,
    clock,
    ...(opts.limits ? { limits: opts.limits } : {}),
    ...(opts.consoleDir ? { consoleDir: opts.consoleDir } : {}),
  });
  await api.ready();
  return {
    api,
    controller,
    store,
    clock,
    dbPath,
    async close() {
      await api.close();
      await controller.stop();
      try {
        await store.close();
      } catch {
        // already closed by the controller
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A spec the real validator accepts (no host volume: no allowedMountDirs in the test config). */
export function validSpec(overrides: Parameters<typeof testSpec>[0] = {}) {
  const spec = testSpec(overrides);
  delete (spec as { volumes?: unknown }).volumes;
  return spec;
}

const SNAPSHOT = (executorId: string) => ({
  executorId,
  cpus: { type: 'CPU', freeCores: { '0': [0, 1, 2, 4, 5, 6, 7] }, usedCores: { '0': [3] } },
  memory: { type: 'MEMORY', freeMemory: { '0': 15104 }, usedMemory: { '0': 128 } },
  layout: { cores: { '0': [0, 1, 2, 3, 4, 5, 6, 7] }, memory: { '0': 15232 } },
});

/** An instance of `serviceId` on `executorId` as its executor reports it at `now`, started a second before. */
export function instance(
  now: number,
  serviceId: string,
  instanceId: string,
  state: LocalServiceInstanceState,
  executorId = 'E1',
): LocalServiceInstanceInfo {
  return instanceInfo({
    serviceId,
    instanceId,
    executorId,
    localInfo: sampleLocalInfo(),
    resources: sampleResources(),
    state,
    created: now - 1000,
    updated: now,
  });
}

/** Messages an executor would send: a heartbeat with its instances, then one state report per instance. */
export function executorMessages(now: number, instances: LocalServiceInstanceInfo[], executorId = 'E1', port = 3000) {
  const header = (id: string) => ({ id, senderType: 'EXECUTOR', direction: 'REQUEST', messageTime: now });
  return [
    {
      type: 'EXECUTOR_SNAPSHOT',
      header: header(`hb-${now}`),
      nodeData: {
        type: 'EXECUTOR',
        hostname: 'ex1.local',
        port,
        transportType: 'HTTP',
        updated: now,
        state: SNAPSHOT(executorId),
        instances: [],
        tasks: [],
        serviceInstances: instances,
        tags: ['ex1.local'],
        metadata: {},
        executorState: 'ACTIVE',
      },
    },
    ...instances.map((info, n) => ({
      type: 'LOCAL_SERVICE_INSTANCE_STATE_REPORT',
      header: header(`r-${now}-${n}`),
      resourceSnapshot: SNAPSHOT(executorId),
      instanceInfo: info,
    })),
  ];
}

export const CLUSTER_HEADERS = { 'cluster-authorization': CLUSTER_SECRET, nodeid: 'ex1.local' };
