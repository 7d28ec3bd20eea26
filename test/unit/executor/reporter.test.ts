import { describe, expect, it } from 'vitest';
import type { ControllerClient } from '../../../src/executor/controller-client.js';
import { Reporter } from '../../../src/executor/reporter.js';
import { ManualClock } from '../../../src/model/clock.js';
import type { ControllerMessage } from '../../../src/model/executor.js';
import type { LocalServiceInstanceInfo } from '../../../src/model/instance.js';
import { silentLogger, testResources } from './fakes.js';

const info = (instanceId: string, state: LocalServiceInstanceInfo['state']): LocalServiceInstanceInfo => ({
  serviceId: 'S-1', serviceName: 'S', instanceId, executorId: 'E1', resources: [], state, metadata: {}, errorMessage: '', created: 1, updated: 1,
});

function setup(answer: () => 'ACCEPTED' | 'FAILED' | 'UNREACHABLE') {
  const clock = new ManualClock();
  const sent: ControllerMessage[] = [];
  const client = {
    header: () => ({ id: 'h', senderType: 'EXECUTOR', direction: 'REQUEST', messageTime: clock.now() }),
    send: async (m: ControllerMessage) => {
      sent.push(m);
      return { status: answer() };
    },
  } as unknown as ControllerClient;
  const reporter = new Reporter(client, () => testResources().snapshot(), clock, silentLogger, {
    batchWindowMs: 5, retryInitialMs: 1_000, retryMaxMs: 10_000, maxAnsweredFailures: 5,
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
});
