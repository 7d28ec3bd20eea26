import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, executorIdOf, type ExecutorAddress, type ExecutorMessage, type MessageResponse, type MessageResponseStatus } from '../../../src/model/index.js';
import { EventLog } from '../../../src/controller/events.js';
import { ExecutorRegistry } from '../../../src/controller/cluster/registry.js';
import { BLACKLIST_MESSAGES, BlacklistingService, UNBLACKLIST_MESSAGES } from '../../../src/controller/cluster/blacklisting.js';
import type { ExecutorMessenger } from '../../../src/controller/cluster/messenger.js';
import { SqliteStateStore } from '../../../src/controller/store/sqlite.js';
import { nodeData } from '../../support/records.js';

const E1 = executorIdOf('ex1.local', 3000);
const E2 = executorIdOf('ex2.local', 3000);

/** A fake executor side: answers with `status` and, when `confirm` is set, heartbeats the new state at once. */
class FakeMessenger implements ExecutorMessenger {
  sent: Array<{ address: ExecutorAddress; message: ExecutorMessage }> = [];
  status: Record<string, MessageResponseStatus | 'throw'> = {};
  confirm = true;
  private version = 1_700_000_100_000;

  constructor(private readonly registry: ExecutorRegistry) {}

  async send(address: ExecutorAddress, message: ExecutorMessage): Promise<MessageResponse> {
    this.sent.push({ address, message });
    const status = this.status[address.executorId] ?? 'ACCEPTED';
    if (status === 'throw') throw new Error('connection refused');
    if (status === 'ACCEPTED' && this.confirm) {
      const executorState = message.type === 'BLACKLIST' ? 'BLACKLISTED' : 'UNREADY';
      // The executor heartbeats its new state right after handling the message.
      setImmediate(() => {
        void this.registry.heartbeat(
          nodeData({ hostname: address.hostname, executorState, updated: this.version++ }),
        );
      });
    }
    return { header: { ...message.header, direction: 'REPLY', senderType: 'EXECUTOR' }, status };
  }
}

const stores: SqliteStateStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

async function setup() {
  const clock = new ManualClock();
  const events = new EventLog(clock, { maxEventsStorageMs: 60 * 60_000 });
  const store = new SqliteStateStore(':memory:');
  stores.push(store);
  const registry = new ExecutorRegistry({ clock, store, events, options: { staleExecutorAgeMs: 45_000 } });
  await registry.heartbeat(nodeData());
  await registry.heartbeat(nodeData({ hostname: 'ex2.local' }));
  const messenger = new FakeMessenger(registry);
  const service = new BlacklistingService({ registry, messenger, clock, options: { confirmationTimeoutMs: 60_000 } });
  return { clock, events, registry, messenger, service };
}

describe('BlacklistingService', () => {
  it('blacklists: sends BLACKLIST to the executor address and waits for the executor to confirm', async () => {
    const { registry, messenger, service, events } = await setup();
    const result = await service.blacklist([E1]);
    expect(result).toEqual({
      successful: [E1],
      failed: [],
      approxCompletionTimeMs: 0,
      message: 'Blacklisting successful and app movement scheduled',
    });
    expect(Object.keys(result)).toEqual(['successful', 'failed', 'approxCompletionTimeMs', 'message']);
    expect(messenger.sent).toHaveLength(1);
    expect(messenger.sent[0]!.message).toMatchObject({
      type: 'BLACKLIST',
      header: { senderType: 'CONTROLLER', direction: 'REQUEST' },
      address: { executorId: E1, hostname: 'ex1.local', port: 3000, transportType: 'HTTP' },
    });
    expect(messenger.sent[0]!.address).toEqual(messenger.sent[0]!.message.address);
    expect(registry.byId(E1)?.state).toBe('BLACKLISTED');
    expect(events.latest(0, 100).events.map((e) => e.type)).toContain('EXECUTOR_BLACKLIST_REQUESTED');
  });

  it('sends one message per executor when an id is repeated', async () => {
    const { service, messenger } = await setup();
    expect((await service.blacklist([E1, E1])).successful).toEqual([E1]);
    expect(messenger.sent).toHaveLength(1);
  });

  it('puts unknown and already blacklisted executors in failed', async () => {
    const { service, messenger } = await setup();
    await service.blacklist([E1]);
    messenger.sent = [];
    expect(await service.blacklist([E1, 'nope'])).toEqual({
      successful: [],
      failed: [E1, 'nope'],
      approxCompletionTimeMs: 0,
      message: BLACKLIST_MESSAGES.notSent,
    });
    expect(messenger.sent).toEqual([]);
    const mixed = await service.blacklist([E2, 'nope']);
    expect(mixed).toMatchObject({ successful: [E2], failed: ['nope'], message: BLACKLIST_MESSAGES.success });
  });

  it('an executor that refuses or cannot be reached goes to failed and is not marked', async () => {
    const { service, messenger, registry } = await setup();
    messenger.status[E1] = 'FAILED';
    messenger.status[E2] = 'throw';
    expect(await service.blacklist([E1, E2])).toMatchObject({
      successful: [],
      failed: [E1, E2],
      message: 'Blacklisting messages could not be sent to any of the executors.',
    });
    expect(registry.byId(E1)?.state).toBe('ACTIVE');
  });

  it('an executor that accepts but never confirms is failed after the timeout and its overlay dropped', async () => {
    const { clock, service, messenger, registry } = await setup();
    messenger.confirm = false;
    const pending = service.blacklist([E1]);
    await clock.advance(1);
    // While waiting, nothing may be scheduled there.
    expect(registry.byId(E1)?.state).toBe('BLACKLIST_REQUESTED');
    await clock.advance(60_000);
    expect(await pending).toEqual({
      successful: [],
      failed: [E1],
      approxCompletionTimeMs: 0,
      message: 'Blacklisting did not reflect in cluster resources DB for any of the executors.',
    });
    expect(registry.byId(E1)?.state).toBe('ACTIVE');
  });

  it('an executor confirming with BLACKLIST_REQUESTED (the state the overlay already shows) counts', async () => {
    const { clock, service, messenger, registry } = await setup();
    messenger.confirm = false;
    const pending = service.blacklist([E1]);
    await clock.advance(1);
    await registry.heartbeat(nodeData({ executorState: 'BLACKLIST_REQUESTED', updated: 1_700_000_200_000 }));
    expect((await pending).successful).toEqual([E1]);
  });

  it('refuses a second operation while one is underway', async () => {
    const { clock, service, messenger } = await setup();
    messenger.confirm = false;
    const first = service.blacklist([E1]);
    await clock.advance(1);
    expect(await service.unblacklist([E2])).toEqual({
      successful: [],
      failed: [E2],
      approxCompletionTimeMs: 0,
      message: 'A blacklisting related operation is underway already. Will not accept new requests',
    });
    await clock.advance(60_000);
    await first;
    // Once it finished, a new operation is accepted.
    messenger.confirm = true;
    expect((await service.blacklist([E2])).message).toBe(BLACKLIST_MESSAGES.success);
  });

  it('unblacklists: sends UNBLACKLIST and succeeds once the executor is ACTIVE or UNREADY again', async () => {
    const { service, messenger, registry, events } = await setup();
    await service.blacklist([E1, E2]);
    messenger.sent = [];
    expect(await service.unblacklist([E1, E2])).toEqual({
      successful: [E1, E2],
      failed: [],
      approxCompletionTimeMs: 0,
      message: 'Unblacklisting successful for all executors',
    });
    expect(messenger.sent.map((s) => s.message.type)).toEqual(['UNBLACKLIST', 'UNBLACKLIST']);
    expect(registry.byId(E1)?.state).toBe('UNREADY');
    expect(events.latest(0, 100).events.filter((e) => e.type === 'EXECUTOR_UN_BLACKLISTED')).toHaveLength(2);
  });

  it('unblacklist of unknown or not blacklisted executors reports them failed', async () => {
    const { service } = await setup();
    await service.blacklist([E1]);
    expect(await service.unblacklist([E1, E2, 'bogus'])).toEqual({
      successful: [E1],
      failed: [E2, 'bogus'],
      approxCompletionTimeMs: 0,
      message: UNBLACKLIST_MESSAGES.some,
    });
  });

  it('unblacklist not confirmed in time is failed', async () => {
    const { clock, service, messenger } = await setup();
    await service.blacklist([E1]);
    messenger.confirm = false;
    const pending = service.unblacklist([E1]);
    await clock.advance(60_001);
    expect(await pending).toMatchObject({ successful: [], failed: [E1], message: UNBLACKLIST_MESSAGES.some });
  });
});
