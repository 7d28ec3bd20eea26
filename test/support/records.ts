import type {
  ExecutorNodeData,
  ExecutorResourceSnapshot,
  ExecutorState,
  LocalInstanceInfo,
  LocalServiceInstanceInfo,
  ResourceAllocation,
} from '../../src/model/index.js';
import { executorIdOf } from '../../src/model/index.js';

/**
 * Records as executors report them, for tests: the one instance-record builder, and executor node data. Every
 * field has a default, so a test names only what it is about.
 */

let instanceSequence = 0;

/** A well-formed `SI-<uuid>` id (the controller refuses others in reports), distinct for every `n`. */
export function testInstanceId(n: number): string {
  return `SI-00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
}

/**
 * An instance record of TEST_SPEC-00001 (the reference fixture, support/specs.ts), HEALTHY on executor E1, with
 * no ports or resources; `serviceName` follows `serviceId`, `created` follows `updated`, and each call gets a new
 * instance id unless one is given.
 */
export function instanceInfo(overrides: Partial<LocalServiceInstanceInfo> = {}): LocalServiceInstanceInfo {
  const serviceId = overrides.serviceId ?? 'TEST_SPEC-00001';
  const updated = overrides.updated ?? overrides.created ?? 1;
  return {
    serviceId,
    serviceName: serviceId.replace(/-[^-]*$/, ''),
    instanceId: testInstanceId(++instanceSequence),
    executorId: 'E1',
    resources: [],
    state: 'HEALTHY',
    metadata: {},
    errorMessage: '',
    created: updated,
    updated,
    ...overrides,
  };
}

/** Where a started instance runs: host ex1.local, port `main` 8000 published on 40123. */
export function sampleLocalInfo(hostPort = 40123): LocalInstanceInfo {
  return { hostname: 'ex1.local', ports: { main: { containerPort: 8000, hostPort, portType: 'HTTP' } } };
}

/** What a started instance holds: core 3 and 128 MB on NUMA node 0. */
export function sampleResources(): ResourceAllocation[] {
  return [
    { type: 'CPU', cores: { '0': [3] } },
    { type: 'MEMORY', memoryInMB: { '0': 128 } },
  ];
}

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
  /** Configured tags; the hostname is always advertised too. */
  tags?: string[];
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
    tags: [hostname, ...(shape.tags ?? [])],
    metadata: {},
    executorState: shape.executorState ?? 'ACTIVE',
  };
}
