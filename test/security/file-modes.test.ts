import { chmodSync, existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseControllerConfig } from '../../src/controller/config.js';
import { resolveInstanceSecret, secretFileOf } from '../../src/controller/instance-secret.js';
import { startControllerServer } from '../../src/controller/server.js';
import { SqliteStateStore } from '../../src/controller/store/sqlite.js';
import { loadDevState } from '../../src/dev.js';
import { testSpec } from '../support/specs.js';

/**
 * Finding: the SQLite store (every spec with its env values and inline config files) and its -wal/-shm files
 * were created with the process umask, world-readable under the usual 022. Now the store, its journal files
 * and every generated secret file are owner-only (0600).
 */

const mode = (path: string) => statSync(path).mode & 0o777;

beforeAll(() => {
  // The usual umask: without the fix, files come out 0644.
  process.umask(0o022);
});

describe('files holding secrets are created owner-only (0600)', () => {
  it('the SQLite store and its -wal and -shm files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'file-modes-'));
    const path = join(dir, 'controller.db');
    const store = new SqliteStateStore(path);
    await store.putService({ serviceId: 'TEST_SPEC-00001', spec: testSpec(), instancesPerHost: 1, activationState: 'INACTIVE', created: 1, updated: 1 });
    for (const file of [path, `${path}-wal`, `${path}-shm`]) {
      expect(existsSync(file), file).toBe(true);
      expect(mode(file).toString(8), file).toBe('600');
    }
    await store.close();
  });

  it('the store a started controller creates, and the instance token secret it generates beside it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'file-modes-'));
    const config = parseControllerConfig({
      server: { host: '127.0.0.1', port: 0 },
      store: { type: 'sqlite', path: join(dir, 'state', 'drove.db') },
      logLevel: 'silent',
    });
    const running = await startControllerServer(config, { logger: pino({ level: 'silent' }) });
    try {
      expect(mode(join(dir, 'state', 'drove.db')).toString(8)).toBe('600');
      expect(mode(secretFileOf(join(dir, 'state', 'drove.db'))).toString(8)).toBe('600');
    } finally {
      await running.close();
    }
  });

  it('a generated secret file is never left half-written or replaced when it already exists', () => {
    const dir = mkdtempSync(join(tmpdir(), 'file-modes-'));
    const config = parseControllerConfig({ store: { type: 'sqlite', path: join(dir, 'drove.db') } });
    const first = resolveInstanceSecret(config);
    const again = resolveInstanceSecret(config);
    expect([first.generated, again.generated]).toEqual([true, false]);
    expect(again.secret).toBe(first.secret);
    writeFileSync(secretFileOf(join(dir, 'drove.db')), '{"instanceAuthSecret": "short"}');
    expect(() => resolveInstanceSecret(config)).toThrow(/has no valid instanceAuthSecret; remove it to generate a new one/);
  });

  it("drove dev's data directory and cluster.json (its cluster secrets), even a cluster.json made readable by hand", () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'file-modes-')), 'data');
    loadDevState(dataDir, {});
    expect(mode(dataDir).toString(8)).toBe('700');
    expect(mode(join(dataDir, 'cluster.json')).toString(8)).toBe('600');
    chmodSync(join(dataDir, 'cluster.json'), 0o644);
    loadDevState(dataDir, {});
    expect(mode(join(dataDir, 'cluster.json')).toString(8)).toBe('600');
  });
});
