import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type {
  ClusterStateData,
  CrashLoop,
  ExecutorNodeData,
  LocalServiceInfo,
  LocalServiceInstanceInfo,
} from '../../model/index.js';
import { StoreUnavailableError, type StateStore, type StoredExecutor, type StoredState } from './store.js';

/**
 * The embedded StateStore: one SQLite file, one table per record kind holding the JSON document as given plus
 * its key columns. Every method is one transaction.
 *
 * Durability: WAL with `synchronous=FULL`. Under WAL, NORMAL is crash-safe for the process but may drop the
 * last commits on power loss; the controller answers 200 to an operation only after its write, so a write we
 * acknowledged must survive a power cut. The cost is one WAL fsync per transaction, which batching of instance
 * reports (putInstances) keeps small.
 */

export const SQLITE_SCHEMA_VERSION = 2;

export interface SqliteStateStoreOptions {
  synchronous?: 'FULL' | 'NORMAL';
  /** How long a write waits for a lock held by another connection before failing (ms). */
  busyTimeoutMs?: number;
}

const MIGRATIONS: Record<number, string> = {
  1: `
    CREATE TABLE services (
      service_id TEXT PRIMARY KEY,
      document TEXT NOT NULL
    );
    CREATE TABLE instances (
      service_id TEXT NOT NULL,
      instance_id TEXT NOT NULL,
      executor_id TEXT NOT NULL,
      document TEXT NOT NULL,
      PRIMARY KEY (service_id, instance_id)
    );
    CREATE TABLE cluster_state (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      document TEXT NOT NULL
    );
    CREATE TABLE executors (
      executor_id TEXT PRIMARY KEY,
      removed_at INTEGER,
      document TEXT NOT NULL
    );
  `,
  2: `
    CREATE TABLE crash_loops (
      service_id TEXT NOT NULL,
      executor_id TEXT NOT NULL,
      document TEXT NOT NULL,
      PRIMARY KEY (service_id, executor_id)
    );
  `,
};

export class SqliteStateStore implements StateStore {
  private readonly db: Database.Database;
  private readonly statements;
  private readonly path: string;

  constructor(path: string, options: SqliteStateStoreOptions = {}) {
    this.path = path === ':memory:' ? path : resolve(path);
    try {
      if (this.path !== ':memory:') {
        mkdirSync(dirname(this.path), { recursive: true });
        // The store holds every spec with its env and config secrets: owner-only. SQLite gives the -wal and -shm
        // files it creates the mode of the database file, so creating that one 0600 covers all three. An
        // existing file keeps the mode it has (an operator may have chosen one).
        closeSync(openSync(this.path, 'a', 0o600));
      }
      this.db = new Database(this.path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
      this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
      this.db.pragma('foreign_keys = ON');
      this.migrate();
    } catch (e) {
      throw new StoreUnavailableError(`Cannot open SQLite store ${this.path}: ${(e as Error).message}`, { cause: e });
    }
    const db = this.db;
    this.statements = {
      allServices: db.prepare<[], { document: string }>('SELECT document FROM services ORDER BY service_id'),
      allInstances: db.prepare<[], { document: string }>('SELECT document FROM instances ORDER BY service_id, instance_id'),
      clusterState: db.prepare<[], { document: string }>('SELECT document FROM cluster_state WHERE id = 1'),
      allExecutors: db.prepare<[], { executor_id: string; removed_at: number | null; document: string }>(
        'SELECT executor_id, removed_at, document FROM executors ORDER BY executor_id',
      ),
      putService: db.prepare('INSERT OR REPLACE INTO services (service_id, document) VALUES (?, ?)'),
      deleteService: db.prepare('DELETE FROM services WHERE service_id = ?'),
      deleteServiceInstances: db.prepare('DELETE FROM instances WHERE service_id = ?'),
      putInstance: db.prepare(
        'INSERT OR REPLACE INTO instances (service_id, instance_id, executor_id, document) VALUES (?, ?, ?, ?)',
      ),
      deleteInstance: db.prepare('DELETE FROM instances WHERE service_id = ? AND instance_id = ?'),
      putClusterState: db.prepare('INSERT OR REPLACE INTO cluster_state (id, document) VALUES (1, ?)'),
      putExecutor: db.prepare('INSERT OR REPLACE INTO executors (executor_id, removed_at, document) VALUES (?, ?, ?)'),
      deleteExecutor: db.prepare('DELETE FROM executors WHERE executor_id = ?'),
      allCrashLoops: db.prepare<[], { document: string }>('SELECT document FROM crash_loops ORDER BY service_id, executor_id'),
      putCrashLoop: db.prepare('INSERT OR REPLACE INTO crash_loops (service_id, executor_id, document) VALUES (?, ?, ?)'),
      deleteCrashLoop: db.prepare('DELETE FROM crash_loops WHERE service_id = ? AND executor_id = ?'),
      deleteServiceCrashLoops: db.prepare('DELETE FROM crash_loops WHERE service_id = ?'),
    };
  }

  async load(): Promise<StoredState> {
    return this.run('load', () =>
      this.db.transaction(() => {
        const s = this.statements;
        const clusterRow = s.clusterState.get();
        const state: StoredState = {
          services: s.allServices.all().map((r) => JSON.parse(r.document) as LocalServiceInfo),
          instances: s.allInstances.all().map((r) => JSON.parse(r.document) as LocalServiceInstanceInfo),
          executors: s.allExecutors.all().map((r) => {
            const record: StoredExecutor = {
              executorId: r.executor_id,
              nodeData: JSON.parse(r.document) as ExecutorNodeData,
            };
            if (r.removed_at !== null) record.removedAt = r.removed_at;
            return record;
          }),
          crashLoops: s.allCrashLoops.all().map((r) => JSON.parse(r.document) as CrashLoop),
        };
        if (clusterRow) state.clusterState = JSON.parse(clusterRow.document) as ClusterStateData;
        return state;
      })(),
    );
  }

  async putService(info: LocalServiceInfo): Promise<void> {
    requireText('serviceId', info.serviceId);
    this.run('putService', () => this.statements.putService.run(info.serviceId, JSON.stringify(info)));
  }

  async deleteService(serviceId: string): Promise<void> {
    this.run('deleteService', () =>
      this.db.transaction(() => {
        this.statements.deleteServiceInstances.run(serviceId);
        this.statements.deleteServiceCrashLoops.run(serviceId);
        this.statements.deleteService.run(serviceId);
      })(),
    );
  }

  async putInstances(instances: readonly LocalServiceInstanceInfo[]): Promise<void> {
    for (const [i, instance] of instances.entries()) {
      requireText(`instances[${i}].serviceId`, instance.serviceId);
      requireText(`instances[${i}].instanceId`, instance.instanceId);
      requireText(`instances[${i}].executorId`, instance.executorId);
    }
    if (instances.length === 0) return;
    this.run('putInstances', () =>
      this.db.transaction(() => {
        for (const instance of instances) {
          this.statements.putInstance.run(
            instance.serviceId,
            instance.instanceId,
            instance.executorId,
            JSON.stringify(instance),
          );
        }
      })(),
    );
  }

  async deleteInstances(serviceId: string, instanceIds: readonly string[]): Promise<void> {
    if (instanceIds.length === 0) return;
    this.run('deleteInstances', () =>
      this.db.transaction(() => {
        for (const instanceId of instanceIds) this.statements.deleteInstance.run(serviceId, instanceId);
      })(),
    );
  }

  async putClusterState(state: ClusterStateData): Promise<void> {
    this.run('putClusterState', () => this.statements.putClusterState.run(JSON.stringify(state)));
  }

  async putCrashLoop(loop: CrashLoop): Promise<void> {
    requireText('serviceId', loop.serviceId);
    requireText('executorId', loop.executorId);
    this.run('putCrashLoop', () => this.statements.putCrashLoop.run(loop.serviceId, loop.executorId, JSON.stringify(loop)));
  }

  async deleteCrashLoops(serviceId: string, executorIds?: readonly string[]): Promise<void> {
    this.run('deleteCrashLoops', () =>
      this.db.transaction(() => {
        if (executorIds === undefined) this.statements.deleteServiceCrashLoops.run(serviceId);
        else for (const executorId of executorIds) this.statements.deleteCrashLoop.run(serviceId, executorId);
      })(),
    );
  }

  async putExecutor(record: StoredExecutor): Promise<void> {
    requireText('executorId', record.executorId);
    this.run('putExecutor', () =>
      this.statements.putExecutor.run(record.executorId, record.removedAt ?? null, JSON.stringify(record.nodeData)),
    );
  }

  async putExecutors(records: readonly StoredExecutor[]): Promise<void> {
    for (const [i, record] of records.entries()) requireText(`executors[${i}].executorId`, record.executorId);
    if (records.length === 0) return;
    this.run('putExecutors', () =>
      this.db.transaction(() => {
        for (const record of records) {
          this.statements.putExecutor.run(record.executorId, record.removedAt ?? null, JSON.stringify(record.nodeData));
        }
      })(),
    );
  }

  async deleteExecutor(executorId: string): Promise<void> {
    this.run('deleteExecutor', () => this.statements.deleteExecutor.run(executorId));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  /** Applies pending schema migrations, each in its own transaction with the version bump. */
  private migrate(): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    const row = this.db.prepare<[], { version: number }>('SELECT version FROM schema_version').get();
    let version = row?.version ?? 0;
    if (version > SQLITE_SCHEMA_VERSION) {
      throw new Error(
        `store schema version ${version} is newer than this controller supports (${SQLITE_SCHEMA_VERSION}); upgrade the controller`,
      );
    }
    while (version < SQLITE_SCHEMA_VERSION) {
      const next = version + 1;
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[next]!);
        this.db.prepare('DELETE FROM schema_version').run();
        this.db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(next);
      })();
      version = next;
    }
  }

  /** Maps SQLite failures (disk full, I/O error, closed store, lock timeouts) to StoreUnavailableError. */
  private run<T>(operation: string, fn: () => T): T {
    if (!this.db.open) throw new StoreUnavailableError(`SQLite store ${this.path} is closed (${operation})`);
    try {
      return fn();
    } catch (e) {
      if (e instanceof StoreUnavailableError) throw e;
      throw new StoreUnavailableError(`SQLite store ${this.path}: ${operation} failed: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }
}

function requireText(field: string, value: unknown): void {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`Cannot store record: ${field} must be a non-empty string`);
  }
}
