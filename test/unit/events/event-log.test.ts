import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/model/index.js';
import { EventLog } from '../../../src/controller/events.js';
import type { ExecutorNodeData } from '../../../src/model/index.js';

const HOUR = 60 * 60 * 1000;

function newLog(clock = new ManualClock(), maxEventsStorageMs = HOUR) {
  const log = new EventLog(clock, { maxEventsStorageMs });
  log.start();
  return { clock, log };
}

describe('EventLog', () => {
  it('emits Drove events with a uuid, the clock time and a copy of the metadata', () => {
    const { clock, log } = newLog();
    const metadata = { EXECUTOR_ID: 'e1' };
    const event = log.emit('EXECUTOR_REMOVED', metadata);
    metadata.EXECUTOR_ID = 'changed';
    expect(event).toEqual({
      type: 'EXECUTOR_REMOVED',
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      time: clock.now(),
      metadata: { EXECUTOR_ID: 'e1' },
    });
  });

  it('gives events in the same millisecond strictly increasing times, even if the clock steps back', async () => {
    const { clock, log } = newLog();
    const a = log.emit('EXECUTOR_REMOVED', {});
    const b = log.emit('EXECUTOR_REMOVED', {});
    const c = log.emit('EXECUTOR_REMOVED', {});
    expect([b.time - a.time, c.time - b.time]).toEqual([1, 1]);
    await clock.advance(10);
    expect(log.emit('EXECUTOR_REMOVED', {}).time).toBe(clock.now());
  });

  it('a poller passing back lastSyncTime never misses an event emitted in the same millisecond', () => {
    const { log } = newLog();
    log.emit('EXECUTOR_ADDED', { n: 1 });
    const first = log.latest(0, 1024);
    log.emit('EXECUTOR_ADDED', { n: 2 });
    const second = log.latest(first.lastSyncTime, 1024);
    expect(second.events.map((e) => e.metadata.n)).toEqual([2]);
  });

  it('latest: strictly newer than lastSyncTime, newest first, truncated to size', async () => {
    const { clock, log } = newLog();
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      times.push(log.emit('LOCAL_SERVICE_STATE_CHANGE', { i }).time);
      await clock.advance(100);
    }
    const all = log.latest(0, 1024);
    expect(all.events.map((e) => e.metadata.i)).toEqual([4, 3, 2, 1, 0]);
    expect(all.lastSyncTime).toBe(times[4]);
    expect(log.latest(times[2]!, 1024).events.map((e) => e.metadata.i)).toEqual([4, 3]);
    expect(log.latest(0, 2).events.map((e) => e.metadata.i)).toEqual([4, 3]);
    expect(log.latest(0, 0).events).toEqual([]);
    expect(log.since(times[3]!, 10).map((e) => e.metadata.i)).toEqual([4]);
    // lastSyncTime is the newest event in the store, also when nothing newer was selected.
    expect(log.latest(times[4]! + 50, 10)).toEqual({ events: [], lastSyncTime: times[4] });
  });

  it('latest on an empty store echoes the requested lastSyncTime', () => {
    const { log } = newLog();
    expect(log.latest(1234, 10)).toEqual({ events: [], lastSyncTime: 1234 });
  });

  it('summary counts events per type newer than lastSyncTime', async () => {
    const { clock, log } = newLog();
    const old = log.emit('EXECUTOR_ADDED', {});
    await clock.advance(10);
    log.emit('EXECUTOR_ADDED', {});
    const last = log.emit('LOCAL_SERVICE_INSTANCE_STATE_CHANGE', {});
    expect(log.summary(0)).toEqual({
      eventsCount: { EXECUTOR_ADDED: 2, LOCAL_SERVICE_INSTANCE_STATE_CHANGE: 1 },
      lastSyncTime: last.time,
    });
    expect(log.summary(old.time).eventsCount).toEqual({ EXECUTOR_ADDED: 1, LOCAL_SERVICE_INSTANCE_STATE_CHANGE: 1 });
    expect(newLog().log.summary(77)).toEqual({ eventsCount: {}, lastSyncTime: 77 });
  });

  it('sweeps events older than the retention every minute', async () => {
    const { clock, log } = newLog(new ManualClock(), 5 * 60_000);
    log.emit('EXECUTOR_ADDED', { n: 'old' });
    await clock.advance(3 * 60_000);
    log.emit('EXECUTOR_ADDED', { n: 'new' });
    await clock.advance(2 * 60_000 + 1);
    // Retention passed for "old" but the sweep runs on minute boundaries of the timer.
    expect(log.size()).toBe(2);
    await clock.advance(60_000);
    expect(log.latest(0, 10).events.map((e) => e.metadata.n)).toEqual(['new']);
    await clock.advance(3 * 60_000);
    expect(log.size()).toBe(0);
  });

  it('notifies subscribers until they unsubscribe; a throwing subscriber does not break emit', () => {
    const { log } = newLog();
    const seen: string[] = [];
    log.subscribe(() => {
      throw new Error('boom');
    });
    const unsubscribe = log.subscribe((e) => seen.push(e.type));
    log.emit('LEADERSHIP_ACQUIRED', { HOSTNAME: 'c1' });
    unsubscribe();
    log.emit('LEADERSHIP_LOST', { HOSTNAME: 'c1' });
    expect(seen).toEqual(['LEADERSHIP_ACQUIRED']);
    expect(log.size()).toBe(2);
  });

  it('clear forgets events but keeps times increasing; stop ends the sweep timer', async () => {
    const { clock, log } = newLog();
    const before = log.emit('LEADERSHIP_LOST', {});
    log.clear();
    expect(log.latest(0, 10).events).toEqual([]);
    expect(log.emit('LEADERSHIP_ACQUIRED', {}).time).toBeGreaterThan(before.time);
    expect(clock.pending()).toBe(1);
    await log.stop();
    expect(clock.pending()).toBe(0);
    log.emit('LEADERSHIP_ACQUIRED', {});
    expect(log.size()).toBe(0);
  });

  it('rejects a non-positive retention', () => {
    expect(() => new EventLog(new ManualClock(), { maxEventsStorageMs: 0 })).toThrow(/maxEventsStorageMs/);
  });

  it('executor, maintenance and leadership helpers carry Drove\'s metadata', () => {
    const { log } = newLog();
    const nodeData = { hostname: 'ex1.local', port: 3000, state: { executorId: 'e1' } } as ExecutorNodeData;
    expect(log.executorAdded(nodeData).metadata).toEqual({ EXECUTOR_ID: 'e1', HOSTNAME: 'ex1.local', PORT: 3000 });
    expect(log.executorBlacklistRequested(nodeData).type).toBe('EXECUTOR_BLACKLIST_REQUESTED');
    expect(log.executorBlacklisted(nodeData)).toMatchObject({
      type: 'EXECUTOR_BLACKLISTED',
      metadata: { EXECUTOR_ID: 'e1', HOSTNAME: 'ex1.local', PORT: 3000 },
    });
    expect(log.executorUnblacklisted(nodeData).type).toBe('EXECUTOR_UN_BLACKLISTED');
    expect(log.executorRemoved('e1')).toMatchObject({ type: 'EXECUTOR_REMOVED', metadata: { EXECUTOR_ID: 'e1' } });
    expect(Object.keys(log.executorRemoved('e1').metadata)).toEqual(['EXECUTOR_ID']);
    expect(log.maintenanceModeSet('c1')).toMatchObject({ type: 'MAINTENANCE_MODE_SET', metadata: { HOSTNAME: 'c1' } });
    expect(log.maintenanceModeRemoved('c1').type).toBe('MAINTENANCE_MODE_REMOVED');
    expect(log.leadershipAcquired('c1')).toMatchObject({ type: 'LEADERSHIP_ACQUIRED', metadata: { HOSTNAME: 'c1' } });
    expect(log.leadershipLost('c1').type).toBe('LEADERSHIP_LOST');
  });
});

describe('EventLog as the event stream reads it (EventFeed)', () => {
  it('after(time, limit): strictly later events, oldest first, at most limit', async () => {
    const { clock, log } = newLog();
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      times.push(log.emit('EXECUTOR_REMOVED', { i }).time);
      if (i % 2 === 0) await clock.advance(10);
    }
    expect(log.after(0, 100).map((e) => e.metadata.i)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(log.after(times[2]!, 100).map((e) => e.metadata.i)).toEqual([3, 4, 5]);
    expect(log.after(times[2]! - 1, 2).map((e) => e.metadata.i)).toEqual([2, 3]);
    expect(log.after(times[5]!, 100)).toEqual([]);
    expect(log.newestTime()).toBe(times[5]);
  });

  it('horizon: everything later is held; it moves with the sweep and to the newest time on clear', async () => {
    const { clock, log } = newLog(new ManualClock(1_000_000), HOUR);
    expect(log.horizon()).toBe(999_999);
    expect(log.newestTime()).toBe(999_999);
    const old = log.emit('EXECUTOR_REMOVED', { n: 1 });
    await clock.advance(HOUR / 2);
    const kept = log.emit('EXECUTOR_REMOVED', { n: 2 });
    await clock.advance(HOUR / 2 + 1);
    expect(log.sweep()).toBe(1);
    expect(log.horizon()).toBe(old.time);
    expect(log.after(log.horizon(), 10)).toEqual([kept]);
    log.clear();
    expect(log.horizon()).toBe(kept.time);
    expect(log.after(log.horizon(), 10)).toEqual([]);
    expect(log.emit('LEADERSHIP_ACQUIRED', {}).time).toBeGreaterThan(log.horizon());
  });

  it('onReset listeners hear every clear and the shutdown; a failing one does not stop the others', async () => {
    const { log } = newLog();
    const heard: string[] = [];
    log.onReset(() => {
      throw new Error('faulty listener');
    });
    const off = log.onReset(() => heard.push('a'));
    log.onReset(() => heard.push('b'));
    log.clear();
    off();
    await log.stop();
    expect(heard).toEqual(['a', 'b', 'b']);
  });
});
