import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningExecutor } from '../../../src/executor/server.js';
import { FakeLeader, address, ensureImage, header, itSpec, removeContainersOf, send, startInstance, startTestExecutor, stopInstance } from '../../support/executor-harness.js';
import { waitUntil } from '../../support/wait.js';

/**
 * Readiness gating (docs/design/placement.md#readiness-gating) with real containers: UNREADY until the required local
 * services run HEALTHY here.
 */
let leader: FakeLeader;
let executor: RunningExecutor;

beforeAll(async () => {
  ensureImage();
  leader = await new FakeLeader().start();
  leader.reserved = { 'EXECUTOR_IT-1': 2 };
  executor = await startTestExecutor(leader);
});
afterAll(async () => {
  await executor?.stop();
  await removeContainersOf(executor?.executorId ?? 'none');
  await leader?.stop();
});

describe('executor readiness gating', () => {
  it('stays UNREADY until the required instances are HEALTHY, then turns ACTIVE; UNBLACKLIST goes back to UNREADY', async () => {
    expect(executor.agent.state).toBe('UNREADY');
    const a = itSpec();
    await startInstance(executor, a);
    await leader.waitForState(a.instanceId, 'HEALTHY');
    // One of two required: still UNREADY after several polls.
    const polls = leader.authHeaders.length;
    await waitUntil('more gating polls', () => leader.authHeaders.length > polls + 5);
    expect(executor.agent.state).toBe('UNREADY');
    const b = itSpec();
    await startInstance(executor, b);
    await leader.waitForState(b.instanceId, 'HEALTHY');
    await waitUntil('ACTIVE', () => executor.agent.state === 'ACTIVE', { timeoutMs: 10_000 });
    await waitUntil('node data saying ACTIVE', () =>
      leader.messages.some((m) => m.type === 'EXECUTOR_SNAPSHOT' && m.nodeData.executorState === 'ACTIVE'), { timeoutMs: 10_000 });

    expect((await send(executor, { type: 'BLACKLIST', header: header(), address: address(executor) })).body?.status).toBe('ACCEPTED');
    expect(executor.agent.state).toBe('BLACKLISTED');
    // Blacklisted executors start nothing; their running local services stay.
    expect(await startInstance(executor, itSpec())).toMatchObject({ status: 'FAILED', message: 'Executor is BLACKLISTED; it does not start instances' });
    expect(executor.engine.get(a.instanceId)?.state).toBe('HEALTHY');
    // Requirements changed meanwhile: a third instance is now wanted; gating re-fetches, so it stays UNREADY.
    leader.reserved = { 'EXECUTOR_IT-1': 3 };
    await send(executor, { type: 'UNBLACKLIST', header: header(), address: address(executor) });
    expect(executor.agent.state).toBe('UNREADY');
    const polls2 = leader.authHeaders.length;
    await waitUntil('more gating polls', () => leader.authHeaders.length > polls2 + 5);
    expect(executor.agent.state).toBe('UNREADY');
    leader.reserved = { 'EXECUTOR_IT-1': 2 };
    await waitUntil('ACTIVE again', () => executor.agent.state === 'ACTIVE', { timeoutMs: 10_000 });
    await Promise.all([stopInstance(executor, a.instanceId), stopInstance(executor, b.instanceId)]);
    await Promise.all([leader.waitForState(a.instanceId, 'STOPPED'), leader.waitForState(b.instanceId, 'STOPPED')]);
  });
});

describe('executor readiness gating with tag constraints (docs/design/placement.md#tag-constraints)', () => {
  const GPU = 'GPU_AGENT-1';
  const gpuOnly = { type: 'COMPOSITE', combiner: 'AND', policies: [{ type: 'LOCAL', hostLevel: false }, { type: 'MATCH_TAG', tag: 'gpu' }] };

  it('does not wait for a service whose constraint its own tags do not satisfy; waits when they do, or when the policy is unreadable', async () => {
    const gpuLeader = await new FakeLeader().start();
    gpuLeader.reserved = { [GPU]: 1 };
    gpuLeader.placementPolicies = { [GPU]: gpuOnly };
    const started: RunningExecutor[] = [];
    try {
      const untagged = await startTestExecutor(gpuLeader, { tags: ['ssd'] });
      started.push(untagged);
      await waitUntil('the executor without the tag to turn ACTIVE', () => untagged.agent.state === 'ACTIVE', { timeoutMs: 10_000 });
      expect(untagged.engine.list()).toEqual([]);

      const tagged = await startTestExecutor(gpuLeader, { tags: ['gpu'] });
      started.push(tagged);
      const polls = gpuLeader.authHeaders.length;
      await waitUntil('more gating polls', () => gpuLeader.authHeaders.length > polls + 5);
      expect(tagged.agent.state).toBe('UNREADY');

      // A policy that is not one counts as no constraint: the safe side is to wait for the service.
      gpuLeader.placementPolicies = { [GPU]: { type: 'COMPOSITE', policies: 'gpu' } };
      const untaggedToo = await startTestExecutor(gpuLeader, { tags: ['ssd'] });
      started.push(untaggedToo);
      const polls2 = gpuLeader.authHeaders.length;
      await waitUntil('more gating polls', () => gpuLeader.authHeaders.length > polls2 + 5);
      expect(untaggedToo.agent.state).toBe('UNREADY');
    } finally {
      for (const e of started) await e.stop();
      await gpuLeader.stop();
    }
  });
});
