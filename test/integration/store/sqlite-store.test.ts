import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SQLITE_SCHEMA_VERSION, SqliteStateStore } from '../../../src/controller/store/sqlite.js';
import { StoreUnavailableError } from '../../../src/controller/store/store.js';
import type { CrashLoop, LocalServiceInfo, LocalServiceInstanceInfo, LocalServiceInstanceState } from '../../../src/model/index.js';
import { testSpec } from '../../support/specs.js';
import { instanceInfo, nodeData, sampleLocalInfo, sampleResources } from '../../support/records.js';

let dir: string;
const open: SqliteStateStore[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'drove-sqlite-'));
});
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

function openStore(path = join(dir, 'nested', 'deeper', 'drove.db')): SqliteStateStore {
  const store = new SqliteStateStore(path);
  open.push(store);
  return store;
}

function service(name: string, activationState: LocalServiceInfo['activationState'] = 'INACTIVE'): LocalServiceInfo {
  const spec = testSpec({ name, version: '00001' });
  return { serviceId: `${name}-00001`, spec, instancesPerHost: 2, activationState, created: 1, updated: 2 };
}

function instance(serviceId: string, instanceId: string, state: LocalServiceInstanceState = 'HEALTHY'): LocalServiceInstanceInfo {
  return instanceInfo({
    serviceId,
    instanceId,
    executorId: 'e1',
    localInfo: sampleLocalInfo(),
    resources: sampleResources(),
    state,
    metadata: { k: 'v' },
    created: 10,
    updated: 20,
  });
}

function crashLoop(serviceId: string, executorId: string): CrashLoop {
  return {
    serviceId,
    executorId,
    restartCount: 2,
    lastFailure: { instanceId: 'SI-1', reason: 'Readiness check failed', time: 30 },
    roundStartedAt: 30,
    nextAttemptAt: 40,
  };
}

describe('SqliteStateStore', () => {
  it('creates parent directories, uses WAL and records its schema version', async () => {
    const path = join(dir, 'a', 'b', 'drove.db');
    const store = openStore(path);
    expect(existsSync(path)).toBe(true);
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.prepare('SELECT version FROM schema_version').all()).toEqual([{ version: SQLITE_SCHEMA_VERSION }]);
    } finally {
      db.close();
    }
  });

  it('commits with synchronous=FULL by default (acknowledged writes survive power loss), NORMAL on request', async () => {
    // The setting is per connection, so it is read through the store's own connection.
    const synchronous = (store: SqliteStateStore) =>
      (store as unknown as { db: Database.Database }).db.pragma('synchronous', { simple: true });
    expect(synchronous(openStore())).toBe(2);
    const relaxed = new SqliteStateStore(join(dir, 'normal.db'), { synchronous: 'NORMAL' });
    open.push(relaxed);
    expect(synchronous(relaxed)).toBe(1);
  });

  it('an empty store loads empty', async () => {
    expect(await openStore().load()).toEqual({ services: [], instances: [], executors: [], crashLoops: [] });
  });

  it('round-trips every record kind exactly', async () => {
    const store = openStore();
    const svc = service('A');
    const instances = [instance(svc.serviceId, 'SI-1'), instance(svc.serviceId, 'SI-2', 'STOPPED')];
    const executor = { executorId: 'e1', nodeData: nodeData() };
    const removed = { executorId: 'e2', nodeData: nodeData({ hostname: 'ex2.local' }), removedAt: 1234 };
    await store.putService(svc);
    await store.putInstances(instances);
    await store.putClusterState({ state: 'MAINTENANCE', updated: 99 });
    await store.putExecutor(executor);
    await store.putExecutor(removed);
    await store.putCrashLoop(crashLoop(svc.serviceId, 'e1'));
    const loaded = await store.load();
    expect(loaded).toEqual({
      services: [svc],
      instances,
      clusterState: { state: 'MAINTENANCE', updated: 99 },
      executors: [executor, removed],
      crashLoops: [crashLoop(svc.serviceId, 'e1')],
    });
    expect(JSON.stringify(loaded.services[0])).toBe(JSON.stringify(svc));
    expect(JSON.stringify(loaded.instances[1])).toBe(JSON.stringify(instances[1]));
    expect('removedAt' in loaded.executors[0]!).toBe(false);
  });

  it('service records: written INACTIVE, updated to ACTIVE, removed; ten listed (Drove\'s LocalServiceStateDBTest)', async () => {
    const store = openStore();
    await store.putService(service('A'));
    expect((await store.load()).services[0]?.activationState).toBe('INACTIVE');
    await store.putService(service('A', 'ACTIVE'));
    expect((await store.load()).services.map((s) => s.activationState)).toEqual(['ACTIVE']);
    await store.deleteService('A-00001');
    expect((await store.load()).services).toEqual([]);
    for (let i = 0; i < 10; i++) await store.putService(service(`S${i}`));
    expect((await store.load()).services).toHaveLength(10);
  });

  it('instance records: ten written in one call, update, delete one, delete all (Drove\'s LocalServiceStateDBTest)', async () => {
    const store = openStore();
    const svc = service('A');
    await store.putService(svc);
    const ten = Array.from({ length: 10 }, (_, i) => instance(svc.serviceId, `SI-${i}`));
    await store.putInstances(ten);
    let loaded = (await store.load()).instances;
    expect(loaded.filter((i) => i.state === 'HEALTHY')).toHaveLength(10);
    expect(loaded.filter((i) => i.state === 'UNHEALTHY')).toHaveLength(0);
    await store.putInstances([{ ...ten[0]!, state: 'UNHEALTHY', updated: 30 }]);
    loaded = (await store.load()).instances;
    expect(loaded).toHaveLength(10);
    expect(loaded.find((i) => i.instanceId === 'SI-0')).toMatchObject({ state: 'UNHEALTHY', updated: 30 });
    await store.deleteInstances(svc.serviceId, ['SI-1']);
    expect((await store.load()).instances).toHaveLength(9);
    await store.deleteInstances(svc.serviceId, ten.map((i) => i.instanceId));
    expect((await store.load()).instances).toHaveLength(0);
  });

  it('deleteInstances touches only the named service', async () => {
    const store = openStore();
    await store.putInstances([instance('A-00001', 'SI-1'), instance('B-00001', 'SI-1')]);
    await store.deleteInstances('A-00001', ['SI-1']);
    expect((await store.load()).instances.map((i) => i.serviceId)).toEqual(['B-00001']);
  });

  it('deleteService removes the service and all its instances, leaving other services alone', async () => {
    const store = openStore();
    await store.putService(service('A'));
    await store.putService(service('B'));
    await store.putInstances([instance('A-00001', 'SI-1'), instance('A-00001', 'SI-2'), instance('B-00001', 'SI-3')]);
    await store.deleteService('A-00001');
    const loaded = await store.load();
    expect(loaded.services.map((s) => s.serviceId)).toEqual(['B-00001']);
    expect(loaded.instances.map((i) => i.instanceId)).toEqual(['SI-3']);
  });

  it('crash loops: one per (service, executor), replaced, deleted per executor, all, and with their service', async () => {
    const store = openStore();
    await store.putService(service('A'));
    await store.putCrashLoop(crashLoop('A-00001', 'e1'));
    await store.putCrashLoop(crashLoop('A-00001', 'e2'));
    await store.putCrashLoop(crashLoop('B-00001', 'e1'));
    await store.putCrashLoop({ ...crashLoop('A-00001', 'e1'), restartCount: 4 });
    const keys = async () => (await store.load()).crashLoops.map((l) => `${l.serviceId}/${l.executorId}/${l.restartCount}`);
    expect(await keys()).toEqual(['A-00001/e1/4', 'A-00001/e2/2', 'B-00001/e1/2']);
    await store.deleteCrashLoops('A-00001', ['e2']);
    expect(await keys()).toEqual(['A-00001/e1/4', 'B-00001/e1/2']);
    await store.deleteService('A-00001');
    expect(await keys()).toEqual(['B-00001/e1/2']);
    await store.deleteCrashLoops('B-00001');
    expect(await keys()).toEqual([]);
  });

  it('migrates a version 1 file (before crash loops) to the current schema, keeping its records', async () => {
    const path = join(dir, 'v1.db');
    const first = openStore(path);
    await first.putService(service('A'));
    await first.close();
    const db = new Database(path);
    db.exec('DROP TABLE crash_loops; UPDATE schema_version SET version = 1');
    db.close();
    const store = openStore(path);
    await store.putCrashLoop(crashLoop('A-00001', 'e1'));
    const loaded = await store.load();
    expect(loaded.services.map((s) => s.serviceId)).toEqual(['A-00001']);
    expect(loaded.crashLoops).toEqual([crashLoop('A-00001', 'e1')]);
  });

  it('putInstances is all or nothing: a batch with a bad record writes none of it', async () => {
    const store = openStore();
    const bad = { ...instance('A-00001', 'SI-2'), instanceId: '' };
    await expect(store.putInstances([instance('A-00001', 'SI-1'), bad])).rejects.toThrow(
      'instances[1].instanceId must be a non-empty string',
    );
    expect((await store.load()).instances).toEqual([]);
  });

  it('putInstances writes a large batch in one transaction', async () => {
    const store = openStore();
    const many = Array.from({ length: 2000 }, (_, i) => instance('A-00001', `SI-${i}`));
    await store.putInstances(many);
    expect((await store.load()).instances).toHaveLength(2000);
  });

  it('executors: upsert, mark removed, delete', async () => {
    const store = openStore();
    await store.putExecutor({ executorId: 'e1', nodeData: nodeData() });
    await store.putExecutor({ executorId: 'e1', nodeData: nodeData({ updated: 5 }), removedAt: 77 });
    expect((await store.load()).executors).toEqual([{ executorId: 'e1', nodeData: nodeData({ updated: 5 }), removedAt: 77 }]);
    await store.deleteExecutor('e1');
    expect((await store.load()).executors).toEqual([]);
  });

  it('putExecutors upserts live and removed executors together, replacing older copies', async () => {
    const store = openStore();
    await store.putExecutor({ executorId: 'e1', nodeData: nodeData() });
    const batch = [
      { executorId: 'e1', nodeData: nodeData({ updated: 5 }), removedAt: 77 },
      ...Array.from({ length: 1000 }, (_, i) => ({ executorId: `x${String(i).padStart(4, '0')}`, nodeData: nodeData({ hostname: `h${i}` }) })),
    ];
    await store.putExecutors(batch);
    await store.putExecutors([]);
    const loaded = (await store.load()).executors;
    expect(loaded).toHaveLength(1001);
    expect(loaded[0]).toEqual({ executorId: 'e1', nodeData: nodeData({ updated: 5 }), removedAt: 77 });
    expect(loaded[1]).toEqual({ executorId: 'x0000', nodeData: nodeData({ hostname: 'h0' }) });
  });

  it('putExecutors is one transaction: a record that cannot be written leaves the store as it was', async () => {
    const store = openStore();
    // A BigInt, which JSON cannot serialise, makes the second record fail to write.
    const unwritable = Object.assign(nodeData({ hostname: 'bad' }), { metadata: { size: 1n } });
    await expect(
      store.putExecutors([
        { executorId: 'e1', nodeData: nodeData() },
        { executorId: 'e2', nodeData: unwritable },
      ]),
    ).rejects.toBeInstanceOf(StoreUnavailableError);
    expect((await store.load()).executors).toEqual([]);
    await expect(store.putExecutors([{ executorId: '', nodeData: nodeData() }])).rejects.toThrow(
      'executors[0].executorId must be a non-empty string',
    );
  });

  it('everything survives close and reopen', async () => {
    const path = join(dir, 'reopen.db');
    const first = openStore(path);
    await first.putService(service('A'));
    await first.putInstances([instance('A-00001', 'SI-1')]);
    await first.putClusterState({ state: 'NORMAL', updated: 5 });
    await first.putExecutor({ executorId: 'e1', nodeData: nodeData() });
    const before = await first.load();
    await first.close();
    const second = openStore(path);
    expect(await second.load()).toEqual(before);
  });

  it('a closed store rejects calls with StoreUnavailableError', async () => {
    const store = openStore();
    await store.close();
    await expect(store.putService(service('A'))).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.load()).rejects.toThrow(/closed/);
    await store.close();
  });

  it('refuses a file written by a newer schema version, naming both versions', async () => {
    const path = join(dir, 'future.db');
    await openStore(path).close();
    const db = new Database(path);
    db.prepare('UPDATE schema_version SET version = 99').run();
    db.close();
    expect(() => new SqliteStateStore(path)).toThrow(new RegExp(`schema version 99 is newer than this controller supports \\(${SQLITE_SCHEMA_VERSION}\\)`));
  });

  it('a path that cannot be created is a StoreUnavailableError naming the path', async () => {
    const blocker = join(dir, 'file');
    await openStore(blocker).close();
    expect(() => new SqliteStateStore(join(blocker, 'sub', 'x.db'))).toThrow(StoreUnavailableError);
  });

  it('a writer killed with SIGKILL at random moments leaves every batch fully present or absent', async () => {
    const path = join(dir, 'crash.db');
    const fixture = fileURLToPath(new URL('./fixtures/sqlite-writer.ts', import.meta.url));
    const BATCH_SIZE = 200;
    let nextBatch = 0;
    const acknowledged = new Set<number>();
    for (let round = 0; round < 4; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', fixture, path, String(nextBatch)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      // Kill after a random number of acknowledged batches, plus a random delay so the kill lands anywhere,
      // usually inside a 200-row transaction.
      const killAfter = nextBatch + 3 + Math.floor(Math.random() * 10);
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
      await new Promise<void>((resolve, reject) => {
        let buffer = '';
        let killing = false;
        child.stdout.on('data', (d: Buffer) => {
          buffer += d.toString();
          for (const line of buffer.split('\n').slice(0, -1)) acknowledged.add(Number(line.replace('committed ', '')));
          buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
          if (!killing && acknowledged.has(killAfter)) {
            killing = true;
            setTimeout(() => {
              child.kill('SIGKILL');
              resolve();
            }, Math.floor(Math.random() * 15));
          }
        });
        child.on('exit', (code, signal) => {
          if (signal !== 'SIGKILL') reject(new Error(`writer exited early (code ${code}): ${stderr}`));
        });
      });
      await exited;

      const store = new SqliteStateStore(path);
      const state = await store.load();
      await store.close();
      const perBatch = new Map<string, number>();
      for (const i of state.instances) perBatch.set(i.serviceId, (perBatch.get(i.serviceId) ?? 0) + 1);
      for (const [serviceId, count] of perBatch) expect({ serviceId, count }).toEqual({ serviceId, count: BATCH_SIZE });
      // Instances never outlive their service (deleteService is atomic; the service is written first).
      const services = new Set(state.services.map((s) => s.serviceId));
      for (const serviceId of perBatch.keys()) expect(services.has(serviceId)).toBe(true);
      // Every acknowledged batch is durable: present, unless an acknowledged later batch deleted it. A deleting
      // batch that was cut short may or may not have deleted it.
      const highestStarted = Math.max(...acknowledged, ...state.services.map((s) => Number(s.serviceId.slice(4))));
      for (const n of acknowledged) {
        const deleter = n + 2;
        const deletes = deleter % 3 === 0;
        if (deletes && !acknowledged.has(deleter) && deleter <= highestStarted) continue;
        const expected = !(deletes && acknowledged.has(deleter));
        expect({ n, present: perBatch.get(`svc-${n}`) === BATCH_SIZE }).toEqual({ n, present: expected });
      }
      expect(acknowledged.size).toBeGreaterThan(0);
      nextBatch = highestStarted + 1;
    }
  });
});
