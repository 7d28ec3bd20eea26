import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import type { ExecutorResourceSnapshot, ResourceAllocation } from '../model/index.js';
import type { ExecutorResourcesConfig } from './config.js';

/**
 * CPU cores and memory per NUMA node: discovered from the host, reduced by `osCores` and
 * `exposedMemPercentage`, and locked exactly as the controller allocated them to each instance.
 */

export interface NumaNode {
  /** Core ids offered to instances (virtual ids when over-provisioning). */
  cores: number[];
  memoryMB: number;
}

export interface ResourceLayout {
  nodes: Map<number, NumaNode>;
  /** Offered core id -> physical core id, for cpuset-cpus. */
  physicalCore: Map<number, number>;
}

export interface HostTopology {
  nodes: Map<number, { cores: number[]; memoryMB: number }>;
}

/** Reads NUMA nodes, their cores and memory from sysfs; a host without it counts as one node. */
export function discoverHostTopology(sysNodeDir = '/sys/devices/system/node'): HostTopology {
  const nodes = new Map<number, { cores: number[]; memoryMB: number }>();
  if (existsSync(sysNodeDir)) {
    for (const entry of readdirSync(sysNodeDir)) {
      const match = /^node(\d+)$/.exec(entry);
      if (!match) continue;
      const id = Number(match[1]);
      const cores = parseCpuList(readFileSync(`${sysNodeDir}/${entry}/cpulist`, 'utf8'));
      const meminfo = readFileSync(`${sysNodeDir}/${entry}/meminfo`, 'utf8');
      const kb = /MemTotal:\s+(\d+)\s*kB/.exec(meminfo);
      const memoryMB = kb ? Math.floor(Number(kb[1]) / 1024) : 0;
      if (cores.length > 0) nodes.set(id, { cores, memoryMB });
    }
  }
  if (nodes.size === 0) {
    nodes.set(0, { cores: cpus().map((_, i) => i), memoryMB: Math.floor(totalmem() / 2 ** 20) });
  }
  return { nodes };
}

/** Parses a kernel cpu list such as "0-3,8,10-11". */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const [a, b] = part.split('-');
    const start = Number(a);
    const end = b === undefined ? start : Number(b);
    if (!Number.isInteger(start) || !Number.isInteger(end)) throw new Error(`Invalid cpu list: ${text}`);
    for (let c = start; c <= end; c++) out.push(c);
  }
  return out;
}

/** Applies the executor's resource configuration to the host topology (or its configured override). */
export function buildLayout(config: ExecutorResourcesConfig, host: () => HostTopology = discoverHostTopology): ResourceLayout {
  const topology: HostTopology = config.numaNodes
    ? { nodes: new Map(Object.entries(config.numaNodes).map(([id, n]) => [Number(id), { ...n }])) }
    : host();
  const osCores = new Set(config.osCores);
  const over = config.overProvisioning.enabled ? config.overProvisioning : { cpuMultiplier: 1, memoryMultiplier: 1 };
  const nodes = new Map<number, NumaNode>();
  const physicalCore = new Map<number, number>();
  const allPhysical = [...topology.nodes.values()].flatMap((n) => n.cores);
  const maxPhysical = allPhysical.length === 0 ? 0 : Math.max(...allPhysical) + 1;
  for (const [id, node] of [...topology.nodes.entries()].sort((a, b) => a[0] - b[0])) {
    const usable = node.cores.filter((c) => !osCores.has(c));
    const cores: number[] = [];
    // Virtual core k*maxPhysical + c maps onto physical c, so ids stay unique and stable across restarts.
    for (let k = 0; k < over.cpuMultiplier; k++) {
      for (const c of usable) {
        const virtual = k * maxPhysical + c;
        cores.push(virtual);
        physicalCore.set(virtual, c);
      }
    }
    const memoryMB = Math.floor((node.memoryMB * config.exposedMemPercentage) / 100) * over.memoryMultiplier;
    nodes.set(id, { cores, memoryMB });
  }
  return { nodes, physicalCore };
}

export class ResourceLockError extends Error {}

/** Exact locks on cores and memory per instance; the snapshot the controller schedules from. */
export class ResourceManager {
  private readonly usedCores = new Map<number, Set<number>>();
  private readonly usedMemory = new Map<number, number>();
  private readonly locks = new Map<string, ResourceAllocation[]>();

  constructor(
    readonly executorId: string,
    readonly layout: ResourceLayout,
  ) {
    for (const id of layout.nodes.keys()) {
      this.usedCores.set(id, new Set());
      this.usedMemory.set(id, 0);
    }
  }

  /** Locks exactly the given cores and memory for `instanceId`; throws ResourceLockError naming the problem. */
  lock(instanceId: string, resources: readonly ResourceAllocation[]): void {
    if (this.locks.has(instanceId)) throw new ResourceLockError(`Resources already locked for ${instanceId}`);
    const wantedCores = new Map<number, number[]>();
    const wantedMemory = new Map<number, number>();
    for (const r of resources) {
      if (r.type === 'CPU') {
        for (const [node, cores] of Object.entries(r.cores)) {
          const id = Number(node);
          wantedCores.set(id, [...(wantedCores.get(id) ?? []), ...cores]);
        }
      } else {
        for (const [node, mb] of Object.entries(r.memoryInMB)) {
          wantedMemory.set(Number(node), (wantedMemory.get(Number(node)) ?? 0) + mb);
        }
      }
    }
    for (const [node, cores] of wantedCores) {
      const layout = this.layout.nodes.get(node);
      if (!layout) throw new ResourceLockError(`No NUMA node ${node} on this executor`);
      const used = this.usedCores.get(node)!;
      const seen = new Set<number>();
      for (const core of cores) {
        if (!layout.cores.includes(core)) throw new ResourceLockError(`Core ${core} does not exist on NUMA node ${node}`);
        if (used.has(core) || seen.has(core)) throw new ResourceLockError(`Core ${core} on NUMA node ${node} is already in use`);
        seen.add(core);
      }
    }
    for (const [node, mb] of wantedMemory) {
      const layout = this.layout.nodes.get(node);
      if (!layout) throw new ResourceLockError(`No NUMA node ${node} on this executor`);
      if (mb < 0) throw new ResourceLockError(`Negative memory ${mb} MB on NUMA node ${node}`);
      const free = layout.memoryMB - this.usedMemory.get(node)!;
      if (mb > free) throw new ResourceLockError(`Not enough memory on NUMA node ${node}: wanted ${mb} MB, free ${free} MB`);
    }
    for (const [node, cores] of wantedCores) for (const c of cores) this.usedCores.get(node)!.add(c);
    for (const [node, mb] of wantedMemory) this.usedMemory.set(node, this.usedMemory.get(node)! + mb);
    this.locks.set(instanceId, structuredClone([...resources]));
  }

  /** Frees what `instanceId` holds; idempotent. */
  release(instanceId: string): void {
    const resources = this.locks.get(instanceId);
    if (!resources) return;
    this.locks.delete(instanceId);
    for (const r of resources) {
      if (r.type === 'CPU') {
        for (const [node, cores] of Object.entries(r.cores)) for (const c of cores) this.usedCores.get(Number(node))?.delete(c);
      } else {
        for (const [node, mb] of Object.entries(r.memoryInMB)) {
          const id = Number(node);
          this.usedMemory.set(id, Math.max(0, (this.usedMemory.get(id) ?? 0) - mb));
        }
      }
    }
  }

  isLocked(instanceId: string): boolean {
    return this.locks.has(instanceId);
  }

  /** Physical core ids for cpuset-cpus. */
  physicalCores(cores: readonly number[]): number[] {
    return [...new Set(cores.map((c) => this.layout.physicalCore.get(c) ?? c))].sort((a, b) => a - b);
  }

  snapshot(): ExecutorResourceSnapshot {
    const freeCores: Record<string, number[]> = {};
    const usedCores: Record<string, number[]> = {};
    const freeMemory: Record<string, number> = {};
    const usedMemory: Record<string, number> = {};
    const layoutCores: Record<string, number[]> = {};
    const layoutMemory: Record<string, number> = {};
    for (const [id, node] of this.layout.nodes) {
      const used = this.usedCores.get(id)!;
      const key = String(id);
      usedCores[key] = [...used].sort((a, b) => a - b);
      freeCores[key] = node.cores.filter((c) => !used.has(c));
      usedMemory[key] = this.usedMemory.get(id)!;
      freeMemory[key] = node.memoryMB - this.usedMemory.get(id)!;
      layoutCores[key] = [...node.cores];
      layoutMemory[key] = node.memoryMB;
    }
    return {
      executorId: this.executorId,
      cpus: { type: 'CPU', freeCores, usedCores },
      memory: { type: 'MEMORY', freeMemory, usedMemory },
      layout: { cores: layoutCores, memory: layoutMemory },
    };
  }
}
