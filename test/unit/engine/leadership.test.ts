import { afterEach, describe, expect, it } from 'vitest';
import type { Controller } from '../../../src/controller/controller.js';
import type { SqliteStateStore } from '../../../src/controller/store/sqlite.js';
import { SingleLeaderElector } from '../../../src/controller/leadership/single.js';
import { NotLeaderError } from '../../../src/controller/core.js';
import { electedController, type ElectedController } from '../../support/elected-controller.js';
import type { FakeExecutorOptions } from '../../support/fake-executors.js';
import { testSpec } from '../../support/specs.js';

const ID = 'TEST_SPEC-00001';

describe('leadership (docs/design/leadership.md)', () => {
  let elected: ElectedController | undefined;
  let controller: Controller | undefined;
  let store: SqliteStateStore;
  afterEach(async () => {
    await elected?.close();
    elected = undefined;
  });

  async function setup() {
    elected = await electedController({ options: { allowedMountDirs: [] }, untilMaxMs: 100_000, untilStepMs: 50 });
    ({ controller, store } = elected);
    return elected;
  }

  /** TEST_SPEC created and activated with one instance on a new executor `ex1.local`, that instance HEALTHY. */
  async function activeService(executor: FakeExecutorOptions = {}) {
    const { fleet, until } = elected!;
    await fleet.add('ex1.local', executor);
    expect((await controller!.submitOperation({ type: 'CREATE', spec: testSpec(), instancesPerHost: 1 })).ok).toBe(true);
    await until(() => controller!.serviceSummary(ID)?.state === 'INACTIVE');
    expect((await controller!.submitOperation({ type: 'ACTIVATE', serviceId: ID })).ok).toBe(true);
    await until(() => controller!.serviceSummary(ID)?.state === 'ACTIVE' && controller!.serviceInstances(ID, ['HEALTHY']).length === 1);
  }

  it('does nothing and rejects executor messages until it leads', async () => {
    const { fleet, elector } = await setup();
    expect(controller!.isLeader()).toBe(false);
    expect(controller!.leaderAddress()).toBe('other:4000');
    expect(await controller!.submitOperation({ type: 'CREATE', spec: testSpec(), instancesPerHost: 1 })).toEqual({
      ok: false,
      errors: ['This node is not the leader controller'],
    });
    const answer = await fleet.add('ex1.local');
    expect(answer.executorId).toBeDefined();
    expect(controller!.executorSummaries()).toEqual([]);
    await elector.gain();
    expect(controller!.isLeader()).toBe(true);
    expect(controller!.latestEvents(0, 10).events.map((e) => e.type)).toEqual(['LEADERSHIP_ACQUIRED']);
  });

  it('drops every state machine on loss and rebuilds them from the store on gain, without re-validation', async () => {
    const { elector, fleet, until } = await setup();
    await elector.gain();
    await activeService();

    await elector.lose();
    expect(controller!.isLeader()).toBe(false);
    expect(controller!.term).toBeUndefined();
    expect(controller!.serviceSummary(ID)).toBeUndefined();
    expect(controller!.latestEvents(0, 10).events.map((e) => e.type)).toEqual(['LEADERSHIP_LOST']);

    // Options became stricter meanwhile: the stored service must still come back
    // (docs/design/leadership.md#rebuilt-from-the-store).
    controller!.options.raw.allowedMountDirs = ['/nowhere'];
    await elector.gain();
    expect(controller!.term!.engine.stateOf(ID)).toBe('ACTIVE');
    expect(controller!.serviceSummary(ID)?.state).toBe('ACTIVE');
    expect(controller!.serviceInstances(ID, ['HEALTHY'])).toHaveLength(1);
    // And it is managed again: a crashed instance is replaced (after the heartbeat its executor sends on a
    // terminal instance: a new leader starts nothing on an executor before it reported).
    const victim = controller!.serviceInstances(ID)[0]!;
    await fleet.setState(victim.instanceId, 'STOPPED');
    await fleet.heartbeatAll();
    await until(() => controller!.serviceInstances(ID, ['HEALTHY']).some((i) => i.instanceId !== victim.instanceId));
  });

  it('each gain builds a new term from the store; a lost term is stopped for good, its parts with it', async () => {
    const { elector, fleet, until } = await setup();
    await elector.gain();
    const first = controller!.term!;
    expect([first.runState, first.engine.runState, first.reconciler.runState, first.staleCleaner.runState]).toEqual([
      'RUNNING', 'RUNNING', 'RUNNING', 'RUNNING',
    ]);
    await fleet.add('ex1.local');
    await controller!.submitOperation({ type: 'CREATE', spec: testSpec(), instancesPerHost: 1 });
    await until(() => controller!.serviceSummary(ID)?.state === 'INACTIVE');
    await elector.lose();
    expect([first.runState, first.engine.runState, first.reconciler.runState, first.staleCleaner.runState]).toEqual([
      'STOPPED', 'STOPPED', 'STOPPED', 'STOPPED',
    ]);
    // The stopped term takes nothing any more, even when called directly.
    expect(first.engine.submit({ type: 'ACTIVATE', serviceId: ID }).ok).toBe(false);
    await elector.gain();
    const second = controller!.term!;
    expect(second).not.toBe(first);
    expect(second.runState).toBe('RUNNING');
    expect(second.workingSet).not.toBe(first.workingSet);
    expect(second.registry.byId(fleet.executors.keys().next().value!)).toBeDefined();
    expect(second.engine.stateOf(ID)).toBe('INACTIVE');
  });

  it('writes only a leader may make are refused on a follower, never applied', async () => {
    const { elector, fleet } = await setup();
    await expect(controller!.setMaintenance(true)).rejects.toBeInstanceOf(NotLeaderError);
    await expect(controller!.blacklist(['E1'])).rejects.toBeInstanceOf(NotLeaderError);
    expect(await controller!.handleControllerMessage({
      type: 'EXECUTOR_SNAPSHOT',
      header: { id: 'h', senderType: 'EXECUTOR', direction: 'REQUEST', messageTime: 1 },
      nodeData: (await fleet.add('ex1.local')) && [...fleet.executors.values()][0]!.nodeData(1),
    })).toMatchObject({ status: 'REJECTED', message: 'This node is not the leader controller' });
    await elector.gain();
    expect((await store.load()).clusterState).toBeUndefined();
    expect(controller!.inMaintenanceWindow()).toBe(false);
  });

  it('a heartbeat still being stored when leadership is lost keeps its executor in the store', async () => {
    const { elector, fleet } = await setup();
    await elector.gain();
    const executor = await fleet.add('ex1.local');
    executor.state = 'UNREADY';
    const answer = fleet.heartbeat(executor);
    await elector.lose();
    await answer;
    expect((await store.load()).executors.map((e) => [e.executorId, e.nodeData.executorState])).toEqual([[executor.executorId, 'UNREADY']]);
  });

  it('a service that lost its leader mid-operation comes back in its steady state', async () => {
    const { elector, fleet, until } = await setup();
    await elector.gain();
    await fleet.add('ex1.local', { onStart: () => ({ kind: 'hang' }) });
    await controller!.submitOperation({ type: 'CREATE', spec: testSpec(), instancesPerHost: 1 });
    await until(() => controller!.serviceSummary(ID)?.state === 'INACTIVE');
    await controller!.submitOperation({ type: 'ACTIVATE', serviceId: ID });
    await until(() => controller!.serviceSummary(ID)?.state === 'ADJUSTING_INSTANCES');
    await elector.lose();
    await elector.gain();
    expect(controller!.term!.engine.stateOf(ID)).toBe('ACTIVE');
  });

  it('leadership loss ends running stop jobs at once instead of waiting out their timeout', async () => {
    const { elector, until } = await setup();
    await elector.gain();
    await activeService({ onStop: 'hang' });
    await controller!.submitOperation({ type: 'DEACTIVATE', serviceId: ID });
    await until(() => controller!.serviceInstances(ID, ['STOPPING']).length === 1);
    expect(controller!.serviceSummary(ID)?.state).toBe('ADJUSTING_INSTANCES');
    // No virtual time passes: the 300 s stop wait must not hold leadership hand-over.
    await elector.lose();
    expect(controller!.term).toBeUndefined();
  });

  it('a leader returning after a long outage waits for executors to report before calling instances lost', async () => {
    const { elector, fleet, clock } = await setup();
    await elector.gain();
    await activeService();
    const starts = () => fleet.sent.filter((m) => m.type === 'START_LOCAL_SERVICE_INSTANCE').length;
    await elector.lose();
    await clock.advance(10 * 60_000);
    await elector.gain();
    // Ten minutes without a report, yet the first heartbeat (20 s away) decides, not a staleness sweep.
    await clock.advance(15_000);
    expect(controller!.serviceInstances(ID, ['HEALTHY'])).toHaveLength(1);
    expect(starts()).toBe(1);
    await fleet.heartbeatAll();
    fleet.startHeartbeats(20_000);
    await clock.advance(120_000);
    expect(controller!.serviceInstances(ID, ['HEALTHY'])).toHaveLength(1);
    expect(starts()).toBe(1);
    fleet.stopHeartbeats();
  });

  it('a new leader starts nothing on an executor before its first heartbeat: the store may miss what it runs', async () => {
    const { elector, fleet, clock } = await setup();
    await elector.gain();
    await activeService();
    const running = fleet.running()[0]!;
    await elector.lose();
    // The previous leader acknowledged this instance's reports but never stored them (it lost quorum).
    await store.deleteInstances(ID, [running.instanceId]);
    const starts = () => fleet.sent.filter((m) => m.type === 'START_LOCAL_SERVICE_INSTANCE').length;
    const before = starts();
    await elector.gain();
    expect(controller!.serviceInstances(ID)).toEqual([]);
    await clock.advance(10_000);
    expect(starts()).toBe(before);
    // Its heartbeat shows the instance: nothing to start.
    await fleet.heartbeatAll();
    await clock.advance(10_000);
    expect(controller!.serviceInstances(ID, ['HEALTHY']).map((i) => i.instanceId)).toEqual([running.instanceId]);
    expect(starts()).toBe(before);
    expect(fleet.running()).toHaveLength(1);
  });

  it('an executor that joins running unrecorded instances gets no duplicates: its heartbeat is applied first', async () => {
    const { elector, fleet, clock } = await setup();
    await elector.gain();
    await activeService();
    const running = fleet.running()[0]!;
    // A second executor, removed while its instance's reports were lost with a leader that could not store them.
    const other = fleet.restore('ex2.local', [{ ...running, instanceId: 'SI-5b3c6a4e-8f1d-4a6b-9c2e-7d8f9a0b1c2d', executorId: '' }]);
    for (const instance of other.instances.values()) instance.info.executorId = other.executorId;
    const starts = () => fleet.sent.filter((m) => m.type === 'START_LOCAL_SERVICE_INSTANCE').length;
    const before = starts();
    await fleet.heartbeat(other);
    await clock.advance(10_000);
    expect(starts()).toBe(before);
    expect(controller!.serviceInstances(ID, ['HEALTHY']).filter((i) => i.executorId === other.executorId)).toHaveLength(1);
    expect(fleet.running()).toHaveLength(2);
  });

  it('the single elector always leads and hands leadership back on stop', async () => {
    const elector = new SingleLeaderElector('host:1');
    const calls: string[] = [];
    await elector.start({ onAcquired: async () => void calls.push('acquired'), onLost: async () => void calls.push('lost') });
    expect(elector.isLeader()).toBe(true);
    expect(elector.leaderAddress()).toBe('host:1');
    await elector.stop();
    expect(elector.isLeader()).toBe(false);
    expect(calls).toEqual(['acquired', 'lost']);
  });
});
