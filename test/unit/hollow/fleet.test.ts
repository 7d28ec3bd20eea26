import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hollowAddress, memoryBackedDir, startHollowFleet } from '../../support/hollow/fleet.js';

describe('hollowAddress', () => {
  it('gives every hollow host its own loopback address, never 127.0.0.1 nor a .0 or .255 one', () => {
    const addresses = Array.from({ length: 70_000 }, (_, n) => hollowAddress(n));
    expect(new Set(addresses).size).toBe(70_000);
    expect(addresses.slice(0, 2)).toEqual(['127.1.0.1', '127.1.0.2']);
    expect(hollowAddress(253)).toBe('127.1.0.254');
    expect(hollowAddress(254)).toBe('127.1.1.1');
    for (const address of addresses) {
      const [a, b, c, d] = address.split('.').map(Number);
      expect(a).toBe(127);
      expect(b).toBeGreaterThanOrEqual(1);
      expect(c).toBeLessThanOrEqual(255);
      expect(d).toBeGreaterThanOrEqual(1);
      expect(d).toBeLessThanOrEqual(254);
    }
  });

  it('refuses an index it has no address for', () => {
    expect(() => hollowAddress(-1)).toThrow('hollow host index -1 out of range');
    expect(() => hollowAddress(1.5)).toThrow('out of range');
    expect(() => hollowAddress(254 * 256 * 254)).toThrow('out of range');
  });
});

describe('startHollowFleet', () => {
  it('refuses sizes that make no sense before forking anything', async () => {
    await expect(startHollowFleet({ controllerUrls: ['http://127.0.0.1:9'], executors: -1 })).rejects.toThrow('executors must be a number >= 0');
    await expect(startHollowFleet({ controllerUrls: ['http://127.0.0.1:9'], executors: 2, initialExecutors: 3 })).rejects.toThrow(
      'initialExecutors must not exceed executors',
    );
  });
});

describe('the fleet files', () => {
  // Nothing listens on the controller's address: these executors only start, they never register.
  const executorConfig = {
    clusterAuth: {
      secrets: [
        { nodeType: 'CONTROLLER' as const, secret: 'unused-controller-secret' },
        { nodeType: 'EXECUTOR' as const, secret: 'unused-executor-secret' },
      ],
    },
  };
  const fleetDirs = (parent: string, prefix: string) => readdirSync(parent).filter((name) => name.startsWith(`${prefix}-fleet-`));

  // Each instance start makes a log directory and file: on a disk file system that was seconds of the cores the
  // controller needs (memoryBackedDir).
  it('go to a memory-backed directory where the machine has one, else to the temporary directory, and leave with the fleet', async () => {
    const prefix = `files-${process.pid}`;
    const parent = memoryBackedDir() ?? tmpdir();
    const fleet = await startHollowFleet({ controllerUrls: ['http://127.0.0.1:9'], executors: 1, workers: 1, hostnamePrefix: prefix, executorConfig });
    try {
      const [dir] = fleetDirs(parent, prefix);
      expect(dir).toBeDefined();
      expect(readdirSync(join(parent, dir!, 'worker-0'))).toContain(`${prefix}-0`);
    } finally {
      await fleet.stop();
    }
    expect(fleetDirs(parent, prefix)).toEqual([]);
  }, 30_000);

  it('go where parentDir says', async () => {
    const prefix = `parent-${process.pid}`;
    const parent = mkdtempSync(join(tmpdir(), 'fleet-parent-'));
    try {
      const fleet = await startHollowFleet({ controllerUrls: ['http://127.0.0.1:9'], executors: 1, workers: 1, hostnamePrefix: prefix, parentDir: parent, executorConfig });
      expect(fleetDirs(parent, prefix)).toHaveLength(1);
      await fleet.stop();
      expect(fleetDirs(parent, prefix)).toEqual([]);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('a fleet that cannot start', () => {
  it('leaves no directory behind when its workers refuse the setup', async () => {
    const prefix = `refused-${process.pid}`;
    const parent = mkdtempSync(join(tmpdir(), 'fleet-parent-'));
    try {
      // No clusterAuth: every worker's parse of the executor config fails.
      await expect(startHollowFleet({ controllerUrls: ['http://127.0.0.1:9'], executors: 1, workers: 2, hostnamePrefix: prefix, parentDir: parent })).rejects.toThrow(
        'clusterAuth',
      );
      expect(readdirSync(parent)).toEqual([]);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('memoryBackedDir', () => {
  it('names /dev/shm where it is a directory this process may write, and nothing else', () => {
    const dir = memoryBackedDir();
    expect([undefined, '/dev/shm']).toContain(dir);
  });

  it('takes its candidate only when that is a directory, not a file or a missing path', () => {
    const parent = mkdtempSync(join(tmpdir(), 'memory-dir-'));
    try {
      const file = join(parent, 'a-file');
      writeFileSync(file, '');
      expect(memoryBackedDir(parent)).toBe(parent);
      expect(memoryBackedDir(file)).toBeUndefined();
      expect(memoryBackedDir(join(parent, 'missing'))).toBeUndefined();
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});

