import type {
  ExecutorNodeData,
  ExecutorResourceSnapshot,
  ExecutorState,
  LocalServiceInstanceInfo,
} from '../../src/model/index.js';
import { executorIdOf } from '../../src/model/index.js';

/** Free cores per NUMA node and free MB per node; used maps are derived from a fixed layout. */
export interface ExecutorShape {
  hostname?: string;
  port?: number;
  /** NUMA node -> free core ids (default: node 0 with cores 0..7). */
  freeCores?: Record<string, number[]>;
  /** NUMA node -> free MB (default: 16384 on every node of freeCores). */
  freeMemory?: Record<string, number>;
  executorState?: ExecutorState;
  updated?: number;
  serviceInstances?: LocalServiceInstanceInfo[];
}

export function resourceSnapshot(executorId: string, shape: ExecutorShape = {}): ExecutorResourceSnapshot {
  const freeCores = shape.freeCores ?? { '0': [0, 1, 2, 3, 4, 5, 6, 7] };
  const freeMemory = shape.freeMemory ?? Object.fromEntries(Object.keys(freeCores).map((n) => [n, 16384]));
  return {
    executorId,
    cpus: { type: 'CPU', freeCores, usedCores: {} },
    memory: { type: 'MEMORY', freeMemory, usedMemory: {} },
    layout: { cores: freeCores, memory: freeMemory },
  };
}

export function nodeData(shape: ExecutorShape = {}): ExecutorNodeData {
  const hostname = shape.hostname ?? 'ex1.local';
  const port = shape.port ?? 3000;
  return {
    type: 'EXECUTOR',
    hostname,
    port,
    transportType: 'HTTP',
    updated: shape.updated ?? 1_700_000_000_000,
    state: resourceSnapshot(executorIdOf(hostname, port), shape),
    instances: [],
    tasks: [],
    serviceInstances: shape.serviceInstances ?? [],
    tags: [hostname],
    metadata: {},
    executorState: shape.executorState ?? 'ACTIVE',
  };
}

export function instance(executorId: string, instanceId: string, updated: number): LocalServiceInstanceInfo {
  return {
    serviceId: 'TEST_SPEC-00001',
    serviceName: 'TEST_SPEC',
    instanceId,
    executorId,
    resources: [],
    state: 'PENDING',
    metadata: {},
    errorMessage: '',
    created: updated,
    updated,
  };
}
