import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExecutorResourcesSchema } from '../../../src/executor/config.js';
import { ResourceLockError, ResourceManager, buildLayout, discoverHostTopology, parseCpuList } from '../../../src/executor/resources.js';

const host = () => ({
  nodes: new Map([
    [0, { cores: [0, 1, 2, 3], memoryMB: 1000 }],
    [1, { cores: [4, 5, 6, 7], memoryMB: 2000 }],
  ]),
});

describe('resources', () => {
  it('parses kernel cpu lists', () => {
    expect(parseCpuList('0-3,8,10-11\n')).toEqual([0, 1, 2, 3, 8, 10, 11]);
    expect(() => parseCpuList('a-b')).toThrow('Invalid cpu list');
  });

  it('discovers NUMA nodes from sysfs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'numa-'));
    for (const [n, cpus, kb] of [[0, '0-1', 2048000], [1, '2-3', 1024000]] as const) {
      mkdirSync(join(dir, `node${n}`));
      writeFileSync(join(dir, `node${n}`, 'cpulist'), cpus);
      writeFileSync(join(dir, `node${n}`, 'meminfo'), `Node ${n} MemTotal:       ${kb} kB\nNode ${n} MemFree: 1 kB\n`);
    }
    writeFileSync(join(dir, 'online'), '0-1');
    const topology = discoverHostTopology(dir);
    expect([...topology.nodes.entries()]).toEqual([
      [0, { cores: [0, 1], memoryMB: 2000 }],
      [1, { cores: [2, 3], memoryMB: 1000 }],
    ]);
  });

  it('excludes osCores and applies exposedMemPercentage', () => {
    const layout = buildLayout(ExecutorResourcesSchema.parse({ osCores: [0, 4], exposedMemPercentage: 50 }), host);
    expect(layout.nodes.get(0)).toEqual({ cores: [1, 2, 3], memoryMB: 500 });
    expect(layout.nodes.get(1)).toEqual({ cores: [5, 6, 7], memoryMB: 1000 });
  });

  it('over-provisioning offers virtual cores mapped onto physical ones', () => {
    const config = ExecutorResourcesSchema.parse({ overProvisioning: { enabled: true, cpuMultiplier: 2, memoryMultiplier: 3 } });
    const layout = buildLayout(config, () => ({ nodes: new Map([[0, { cores: [0, 1], memoryMB: 100 }]]) }));
    expect(layout.nodes.get(0)).toEqual({ cores: [0, 1, 2, 3], memoryMB: 300 });
    const rm = new ResourceManager('E', layout);
    expect(rm.physicalCores([2, 3, 1])).toEqual([0, 1]);
  });

  it('locks exact cores and memory, snapshots free/used per node, and releases', () => {
    const rm = new ResourceManager('E', buildLayout(ExecutorResourcesSchema.parse({}), host));
    rm.lock('a', [{ type: 'CPU', cores: { '1': [5, 6] } }, { type: 'MEMORY', memoryInMB: { '1': 512 } }]);
    expect(() => rm.lock('b', [{ type: 'CPU', cores: { '1': [6] } }])).toThrow(ResourceLockError);
    expect(() => rm.lock('b', [{ type: 'CPU', cores: { '0': [5] } }])).toThrow('Core 5 does not exist on NUMA node 0');
    expect(() => rm.lock('b', [{ type: 'CPU', cores: { '2': [0] } }])).toThrow('No NUMA node 2');
    expect(() => rm.lock('b', [{ type: 'MEMORY', memoryInMB: { '1': 1600 } }])).toThrow('Not enough memory');
    const snap = rm.snapshot();
    expect(snap).toEqual({
      executorId: 'E',
      cpus: { type: 'CPU', freeCores: { '0': [0, 1, 2, 3], '1': [4, 7] }, usedCores: { '0': [], '1': [5, 6] } },
      memory: { type: 'MEMORY', freeMemory: { '0': 1000, '1': 1488 }, usedMemory: { '0': 0, '1': 512 } },
      layout: { cores: { '0': [0, 1, 2, 3], '1': [4, 5, 6, 7] }, memory: { '0': 1000, '1': 2000 } },
    });
    rm.release('a');
    rm.release('a');
    expect(rm.snapshot().cpus.usedCores).toEqual({ '0': [], '1': [] });
    expect(rm.snapshot().memory.usedMemory).toEqual({ '0': 0, '1': 0 });
  });
});
