import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock, type ClusterStateData } from '../../../src/model/index.js';
import { EventLog } from '../../../src/controller/events.js';
import { ClusterStateManager } from '../../../src/controller/cluster/maintenance.js';
import { SqliteStateStore } from '../../../src/controller/store/sqlite.js';

const GRACE = 40_000;
const stores: SqliteStateStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

function setup(stored?: ClusterStateData) {
  const clock = new ManualClock();
  const events = new EventLog(clock, { maxEventsStorageMs: 60 * 60_000 });
  const store = new SqliteStateStore(':memory:');
  stores.push(store);
  const manager = new ClusterStateManager({
    clock,
    store,
    events,
    options: { maintenanceGraceMs: GRACE, controllerHostname: 'ctl1' },
    stored,
  });
  return { clock, events, store, manager };
}

describe('ClusterStateManager', () => {
  it('starts NORMAL and outside any maintenance window', () => {
    const { manager } = setup();
    expect(manager.state()).toEqual({ state: 'NORMAL', updated: 0 });
    expect(manager.inMaintenanceWindow()).toBe(false);
  });

  it('set(true) persists MAINTENANCE, emits MAINTENANCE_MODE_SET and returns the new state', async () => {
    const { clock, manager, store, events } = setup();
    const data = await manager.set(true);
    expect(data).toEqual({ state: 'MAINTENANCE', updated: clock.now() });
    expect((await store.load()).clusterState).toEqual(data);
    expect(events.latest(0, 10).events[0]).toMatchObject({ type: 'MAINTENANCE_MODE_SET', metadata: { HOSTNAME: 'ctl1' } });
    await clock.advance(10 * GRACE);
    expect(manager.inMaintenanceWindow()).toBe(true);
  });

  it('stays in the window for the grace period after maintenance is removed', async () => {
    const { clock, manager, events } = setup();
    await manager.set(true);
    await clock.advance(5 * 60_000);
    expect(await manager.set(false)).toEqual({ state: 'NORMAL', updated: clock.now() });
    expect(events.latest(0, 10).events[0]?.type).toBe('MAINTENANCE_MODE_REMOVED');
    await clock.advance(GRACE - 1);
    expect(manager.inMaintenanceWindow()).toBe(true);
    await clock.advance(1);
    expect(manager.inMaintenanceWindow()).toBe(false);
  });

  it('starts from the stored state of its leader term, grace included', async () => {
    const now = new ManualClock().now();
    const { clock, manager } = setup({ state: 'NORMAL', updated: now - 10_000 });
    expect(manager.inMaintenanceWindow()).toBe(true);
    await clock.advance(30_000);
    expect(manager.inMaintenanceWindow()).toBe(false);
    expect(setup({ state: 'MAINTENANCE', updated: 1 }).manager.inMaintenanceWindow()).toBe(true);
    expect(setup(undefined).manager.state()).toEqual({ state: 'NORMAL', updated: 0 });
  });

  it('a failed write leaves the state unchanged and emits nothing', async () => {
    const { manager, store, events } = setup();
    vi.spyOn(store, 'putClusterState').mockRejectedValueOnce(new Error('disk full'));
    await expect(manager.set(true)).rejects.toThrow('disk full');
    expect(manager.state().state).toBe('NORMAL');
    expect(events.size()).toBe(0);
    expect((await manager.set(true)).state).toBe('MAINTENANCE');
  });

  it('concurrent set calls apply in call order', async () => {
    const { manager, store } = setup();
    await Promise.all([manager.set(true), manager.set(false), manager.set(true)]);
    expect(manager.state().state).toBe('MAINTENANCE');
    expect((await store.load()).clusterState?.state).toBe('MAINTENANCE');
  });
});
