import { describe, expect, it } from 'vitest';
import type { ControllerClient } from '../../../src/executor/controller-client.js';
import { Reporter } from '../../../src/executor/reporter.js';
import { ManualClock } from '../../../src/model/clock.js';
import type { ControllerMessage } from '../../../src/model/executor.js';
import type { LocalServiceInstanceInfo } from '../../../src/model/instance.js';
import { silentLogger, testResources } from './fakes.js';
import { instanceInfo } from '../../support/records.js';

const info = (instanceId: string, state: LocalServiceInstanceInfo['state']): LocalServiceInstanceInfo =>
  instanceInfo({ serviceId: 'S-1', instanceId, state });

function setup(answer: (m: ControllerMessage) => 'ACCEPTED' | 'FAILED' | 'UNREACHABLE' | 'TOO_LARGE', maxMessageBytes?: number) {
  const clock = new ManualClock();
  const sent: ControllerMessage[] = [];
  const client = {
    header: () => ({ id: 'h', senderType: 'EXECUTOR', direction: 'REQUEST', messageTime: clock.now() }),
    send: async (m: ControllerMessage) => {
      sent.push(m);
      return { status: answer(m) };
    },
  } as unknown as ControllerClient;
  const reporter = new Reporter(client, () => testResources().snapshot(), clock, silentLogger, {
    batchWindowMs: 5, retryInitialMs: 1_000, retryMaxMs: 10_000, maxAnsweredFailures: 5,
    ...(maxMessageBytes ? { maxMessageBytes } : {}),
  });
  return { clock, sent, reporter };
}

describe('instance reporter', () => {
  it('sends one report alone and several close together as one batch, every state in order', async () => {
    const { clock, sent, reporter } = setup(() => 'ACCEPTED');
    reporter.report(info('a', 'PENDING'));
    await clock.advance(10);
    reporter.report(info('a', 'PROVISIONING'));
    reporter.report(info('b', 'PENDING'));
    reporter.report(info('a', 'STARTING'));
    await clock.advance(10);
    expect(sent.map((m) => m.type)).toEqual(['LOCAL_SERVICE_INSTANCE_STATE_REPORT', 'LOCAL_SERVICE_INSTANCE_STATE_REPORTS']);
    const batch = sent[1]!;
    expect(batch.type === 'LOCAL_SERVICE_INSTANCE_STATE_REPORTS' && batch.instanceInfos.map((i) => `${i.instanceId}:${i.state}`)).toEqual([
      'a:PROVISIONING', 'b:PENDING', 'a:STARTING',
    ]);
    expect(batch.type === 'LOCAL_SERVICE_INSTANCE_STATE_REPORTS' && batch.resourceSnapshot.executorId).toBe('E1');
  });

  it('keeps retrying while no leader is reachable, with growing delays, and delivers in order afterwards', async () => {
    let reachable = false;
    const { clock, sent, reporter } = setup(() => (reachable ? 'ACCEPTED' : 'UNREACHABLE'));
    reporter.report(info('a', 'PENDING'));
    reporter.report(info('a', 'STOPPED'));
    await clock.advance(60_000);
    const attempts = sent.length;
    expect(attempts).toBeGreaterThan(4);
    expect(attempts).toBeLessThan(12);
    expect(reporter.pendingCount()).toBe(2);
    reachable = true;
    await clock.advance(10_000);
    expect(reporter.pendingCount()).toBe(0);
    const last = sent.at(-1)!;
    expect(last.type === 'LOCAL_SERVICE_INSTANCE_STATE_REPORTS' && last.instanceInfos.map((i) => i.state)).toEqual(['PENDING', 'STOPPED']);
  });

  it('drops a report the leader keeps refusing after maxAnsweredFailures', async () => {
    const { clock, sent, reporter } = setup(() => 'FAILED');
    reporter.report(info('a', 'HEALTHY'));
    await clock.advance(120_000);
    expect(sent).toHaveLength(5);
    expect(reporter.pendingCount()).toBe(0);
  });

  it('cuts a backlog into messages of at most maxMessageBytes, oldest first', async () => {
    const { clock, sent, reporter } = setup(() => 'ACCEPTED', 4_096);
    // About 150 bytes each: some 15 KiB in all, so at least four messages.
    for (let i = 0; i < 100; i++) reporter.report(info(`i${i}`, 'HEALTHY'));
    await clock.advance(100);
    expect(reporter.pendingCount()).toBe(0);
    expect(sent.length).toBeGreaterThanOrEqual(4);
    expect(sent.every((m) => Buffer.byteLength(JSON.stringify(m)) <= 4_096)).toBe(true);
    const order = sent.flatMap((m) => (m.type === 'LOCAL_SERVICE_INSTANCE_STATE_REPORTS' ? m.instanceInfos : m.type === 'LOCAL_SERVICE_INSTANCE_STATE_REPORT' ? [m.instanceInfo] : []));
    expect(order.map((i) => i.instanceId)).toEqual(Array.from({ length: 100 }, (_, i) => `i${i}`));
  });

  it('never sends a message refused as too large again: it halves, and drops a single report the leader cannot take', async () => {
    const limit = 3_000;
    const big = { ...info('huge', 'UNHEALTHY'), errorMessage: 'x'.repeat(5_000) };
    const { clock, sent, reporter } = setup((m) => (Buffer.byteLength(JSON.stringify(m)) > limit ? 'TOO_LARGE' : 'ACCEPTED'), 64 * 1024);
    for (let i = 0; i < 20; i++) reporter.report(info(`i${i}`, 'HEALTHY'));
    reporter.report(big);
    for (let i = 20; i < 40; i++) reporter.report(info(`i${i}`, 'HEALTHY'));
    await clock.advance(100);
    expect(reporter.pendingCount()).toBe(0);
    const bodies = sent.map((m) => JSON.stringify({ ...m, header: undefined }));
    const refused = bodies.filter((b) => Buffer.byteLength(b) > limit);
    // No refused body is ever sent twice.
    expect(new Set(refused).size).toBe(refused.length);
    const delivered = sent
      .filter((m) => Buffer.byteLength(JSON.stringify(m)) <= limit)
      .flatMap((m) => (m.type === 'LOCAL_SERVICE_INSTANCE_STATE_REPORTS' ? m.instanceInfos : m.type === 'LOCAL_SERVICE_INSTANCE_STATE_REPORT' ? [m.instanceInfo] : []));
    expect(delivered.map((i) => i.instanceId)).toEqual(Array.from({ length: 40 }, (_, i) => `i${i}`));
  });
});
