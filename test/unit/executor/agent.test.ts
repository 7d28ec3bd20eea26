import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExecutorAgent } from '../../../src/executor/agent.js';
import type { ControllerClient } from '../../../src/executor/controller-client.js';
import { InstanceEngine } from '../../../src/executor/instances/instance-engine.js';
import type { ControllerMessage, MessageHeader } from '../../../src/model/executor.js';
import { TEST_IMAGE, instanceDeps, instanceSpec, silentLogger } from './fakes.js';

class FakeClient {
  sent: ControllerMessage[] = [];
  reserved: unknown = { cpus: 0, memory: 0, requiredInstances: {} };
  reservedCalls = 0;
  /** The next this many reads of the reserved resources fail (a client bug, a body that is not JSON...). */
  reservedFailures = 0;
  accept = true;
  header(): MessageHeader {
    return { id: `h${this.sent.length}`, senderType: 'EXECUTOR', direction: 'REQUEST', messageTime: 0 };
  }
  async send(message: ControllerMessage) {
    this.sent.push(message);
    return { status: this.accept ? ('ACCEPTED' as const) : ('UNREACHABLE' as const) };
  }
  async get<T>(path: string): Promise<T | undefined> {
    if (path.endsWith('/resources/reserved')) {
      this.reservedCalls++;
      if (this.reservedFailures > 0) {
        this.reservedFailures--;
        throw new Error('reserved resources read failed');
      }
      return this.reserved as T;
    }
    return undefined;
  }
}

function setup(dataDir = mkdtempSync(join(tmpdir(), 'agent-'))) {
  const deps = instanceDeps();
  deps.runtime.images.add(TEST_IMAGE);
  const engine = new InstanceEngine(deps);
  const client = new FakeClient();
  const agent = new ExecutorAgent(
    {
      hostname: 'ex1', port: 3000, transportType: 'HTTP', executorId: 'E1', tags: ['gpu'], metadata: { rack: 'r1' }, dataDir, heartbeatMs: 20_000,
      leaderRetryInitialMs: 1_000, leaderRetryMaxMs: 10_000, reportBatchWindowMs: 5, readinessPollMs: 1_000,
    },
    { client: client as unknown as ControllerClient, engine, resources: deps.resources, clock: deps.clock, logger: silentLogger },
  );
  return { deps, engine, client, agent, dataDir };
}

const header = { id: 'm1', senderType: 'CONTROLLER', direction: 'REQUEST', messageTime: 1 } as const;
const address = { executorId: 'E1', hostname: 'ex1', port: 3000, transportType: 'HTTP' } as const;

describe('executor message handling (ExecutorMessageHandlerTest)', () => {
  it('answers malformed messages FAILED with the reason, never throwing', () => {
    const { agent } = setup();
    for (const bad of [undefined, null, 42, 'x', {}, { type: 'NOPE', header, address }, { type: 'START_LOCAL_SERVICE_INSTANCE', header, address, spec: { serviceId: 1 } }]) {
      const r = agent.handle(bad);
      expect(r.status).toBe('FAILED');
      expect(r.message).toMatch(/^Invalid message: /);
    }
    const r = agent.handle({ type: 'STOP_LOCAL_SERVICE_INSTANCE', header, address });
    expect(r.header.id).toBe('m1');
    expect(r.message).toContain('instanceId');
  });

  it('starts while UNREADY, accepts the same START again, refuses another spec under that id, wrong address and starts while blacklisted', () => {
    const { agent } = setup();
    const spec = instanceSpec();
    expect(agent.state).toBe('UNREADY');
    expect(agent.handle({ type: 'START_LOCAL_SERVICE_INSTANCE', header, address, spec })).toEqual({ header, status: 'ACCEPTED' });
    expect(agent.handle({ type: 'START_LOCAL_SERVICE_INSTANCE', header, address, spec })).toEqual({ header, status: 'ACCEPTED' });
    const otherSpec = { ...spec, env: { ...spec.env, CHANGED: '1' } };
    expect(agent.handle({ type: 'START_LOCAL_SERVICE_INSTANCE', header, address, spec: otherSpec }).message).toContain('already exists');
    expect(agent.handle({ type: 'START_LOCAL_SERVICE_INSTANCE', header, address: { ...address, executorId: 'E2' }, spec: instanceSpec() }).message).toContain('addressed to executor E2');
    expect(agent.handle({ type: 'STOP_LOCAL_SERVICE_INSTANCE', header, address, instanceId: 'SI-00000000-0000-4000-8000-00000000000f' }).status).toBe('FAILED');
    expect(agent.handle({ type: 'BLACKLIST_REQUESTED', header, address }).status).toBe('ACCEPTED');
    expect(agent.state).toBe('BLACKLIST_REQUESTED');
    expect(agent.handle({ type: 'START_LOCAL_SERVICE_INSTANCE', header, address, spec: instanceSpec() })).toMatchObject({ status: 'FAILED', message: 'Executor is BLACKLIST_REQUESTED; it does not start instances' });
    agent.handle({ type: 'BLACKLIST', header, address });
    expect(agent.state).toBe('BLACKLISTED');
    expect(agent.handle({ type: 'START_LOCAL_SERVICE_INSTANCE', header, address, spec: instanceSpec() }).status).toBe('FAILED');
    agent.handle({ type: 'UNBLACKLIST', header, address });
    expect(agent.state).toBe('UNREADY');
  });

  it('accepts a STOP again while the instance is stopping, and still refuses one for an instance it does not have', () => {
    const { agent } = setup();
    const spec = instanceSpec();
    const stop = { type: 'STOP_LOCAL_SERVICE_INSTANCE', header, address, instanceId: spec.instanceId } as const;
    expect(agent.handle(stop)).toMatchObject({ status: 'FAILED', message: `No instance ${spec.instanceId} on this executor` });
    expect(agent.handle({ type: 'START_LOCAL_SERVICE_INSTANCE', header, address, spec }).status).toBe('ACCEPTED');
    expect(agent.handle(stop)).toEqual({ header, status: 'ACCEPTED' });
    expect(agent.handle(stop)).toEqual({ header, status: 'ACCEPTED' });
  });

  it('keeps blacklisting across a restart', () => {
    const first = setup();
    first.agent.handle({ type: 'BLACKLIST', header, address });
    expect(setup(first.dataDir).agent.state).toBe('BLACKLISTED');
  });
});

describe('readiness gating (Drove\'s ExecutorStateManagerTest)', () => {
  it('turns ACTIVE once every required service has at least that many HEALTHY instances, re-fetching each poll', async () => {
    const { agent, client, deps } = setup();
    client.reserved = undefined; // leader not answering yet
    agent.start();
    await deps.clock.advance(1_500);
    expect(agent.state).toBe('UNREADY');
    client.reserved = { cpus: 1, memory: 64, requiredInstances: { 'TEST_SPEC-00001': 1 } };
    await deps.clock.advance(1_000);
    expect(agent.state).toBe('UNREADY');
    const header2 = { ...header, id: 'm2' };
    agent.handle({ type: 'START_LOCAL_SERVICE_INSTANCE', header: header2, address, spec: instanceSpec() });
    agent.handle({ type: 'START_LOCAL_SERVICE_INSTANCE', header: header2, address, spec: instanceSpec({ resources: [{ type: 'CPU', cores: { '0': [2] } }, { type: 'MEMORY', memoryInMB: { '0': 64 } }] }) });
    const calls = client.reservedCalls;
    for (let i = 0; i < 20 && agent.state === 'UNREADY'; i++) await deps.clock.advance(500);
    // Two HEALTHY instances where one is required: "at least", not "exactly" (Drove).
    expect(agent.state).toBe('ACTIVE');
    expect(client.reservedCalls).toBeGreaterThan(calls);
    await deps.clock.advance(10);
    const snapshots = client.sent.filter((m) => m.type === 'EXECUTOR_SNAPSHOT');
    expect(snapshots.at(-1)!.type === 'EXECUTOR_SNAPSHOT' && snapshots.at(-1)!.nodeData.executorState).toBe('ACTIVE');
    await agent.stop();
  });

  it('keeps polling after a readiness check that throws: the gate opens once the check answers', async () => {
    const { agent, client, deps } = setup();
    client.reservedFailures = 2;
    agent.start();
    for (let i = 0; i < 10 && client.reservedCalls < 3; i++) await deps.clock.advance(1_000);
    // The empty requirement is met at once by the first check that answers.
    expect(client.reservedCalls).toBe(3);
    expect(agent.state).toBe('ACTIVE');
    await agent.stop();
  });
});

describe('reports and node data', () => {
  it('reports every change, batching changes that happen together, and sends node data every heartbeat', async () => {
    const { agent, client, deps } = setup();
    agent.start();
    await deps.clock.advance(10);
    const first = client.sent.find((m) => m.type === 'EXECUTOR_SNAPSHOT');
    expect(first?.type === 'EXECUTOR_SNAPSHOT' && first.nodeData).toMatchObject({
      type: 'EXECUTOR', hostname: 'ex1', port: 3000, transportType: 'HTTP', tags: ['ex1', 'gpu'], executorState: 'UNREADY', serviceInstances: [],
      // The executor's configured metadata (resources.metadata) travels in every node data.
      metadata: { rack: 'r1' },
    });
    agent.handle({ type: 'START_LOCAL_SERVICE_INSTANCE', header, address, spec: instanceSpec() });
    agent.handle({ type: 'START_LOCAL_SERVICE_INSTANCE', header, address, spec: instanceSpec({ resources: [] }) });
    await deps.clock.advance(10);
    const batch = client.sent.find((m) => m.type === 'LOCAL_SERVICE_INSTANCE_STATE_REPORTS');
    expect(batch?.type === 'LOCAL_SERVICE_INSTANCE_STATE_REPORTS' && batch.instanceInfos.length).toBeGreaterThanOrEqual(2);
    const before = client.sent.filter((m) => m.type === 'EXECUTOR_SNAPSHOT').length;
    await deps.clock.advance(20_000);
    const snaps = client.sent.filter((m) => m.type === 'EXECUTOR_SNAPSHOT');
    expect(snaps.length).toBeGreaterThan(before);
    const last = snaps.at(-1)!;
    if (last.type !== 'EXECUTOR_SNAPSHOT') throw new Error('not a snapshot');
    // Every instance carries a fresh `updated` (the heartbeat keeps instance records from going stale).
    expect(last.nodeData.serviceInstances).toHaveLength(2);
    expect(last.nodeData.serviceInstances.every((i) => i.updated === last.nodeData.updated)).toBe(true);
    if (first?.type !== 'EXECUTOR_SNAPSHOT') throw new Error('no first snapshot');
    expect(last.nodeData.updated).toBeGreaterThan(first.nodeData.updated + 19_000);
    await agent.stop();
  });

  it('retries reports with backoff while no leader answers and delivers the latest state later', async () => {
    const { agent, client, deps } = setup();
    client.accept = false;
    agent.start();
    const spec = instanceSpec();
    agent.handle({ type: 'START_LOCAL_SERVICE_INSTANCE', header, address, spec });
    for (let i = 0; i < 100; i++) await deps.clock.advance(100);
    const attempts = client.sent.filter((m) => m.type !== 'EXECUTOR_SNAPSHOT').length;
    expect(attempts).toBeGreaterThan(1);
    expect(attempts).toBeLessThan(15);
    client.accept = true;
    client.sent = [];
    for (let i = 0; i < 200; i++) await deps.clock.advance(100);
    const delivered = client.sent.flatMap((m) =>
      m.type === 'LOCAL_SERVICE_INSTANCE_STATE_REPORT' ? [m.instanceInfo] : m.type === 'LOCAL_SERVICE_INSTANCE_STATE_REPORTS' ? m.instanceInfos : [],
    );
    expect(delivered.map((i) => i.state)).toContain('HEALTHY');
    await agent.stop();
  });
});
