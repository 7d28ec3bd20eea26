import { afterEach, describe, expect, it } from 'vitest';
import { harness, type Harness } from '../../support/engine-harness.js';
import { testSpec } from '../../support/specs.js';
import type { LocalServiceInstanceInfo } from '../../../src/model/index.js';
import { instanceInfo } from '../../support/records.js';

const DAY = 86_400_000;

describe('stale data cleaner', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  async function service(name: string, activate = false) {
    const spec = testSpec({ name });
    await h.submit({ type: 'CREATE', spec, instancesPerHost: 1 });
    const id = `${name}-00001`;
    await h.until(() => h.controller.serviceSummary(id)?.state === 'INACTIVE');
    if (activate) {
      await h.submit({ type: 'ACTIVATE', serviceId: id });
      await h.until(() => h.controller.serviceSummary(id)?.state === 'ACTIVE');
    }
    return id;
  }

  function history(serviceId: string, count: number, updated: number): LocalServiceInstanceInfo[] {
    return Array.from({ length: count }, (_, i) =>
      instanceInfo({
        serviceId,
        serviceName: 'X',
        instanceId: `SI-old-${updated}-${i}`,
        executorId: 'E',
        state: 'STOPPED',
        created: updated - i,
        updated: updated - i,
      }),
    );
  }

  /** Back-dates a service record instead of moving the clock a month. */
  async function age(serviceId: string, ms: number) {
    const ws = h.controller.term!.workingSet;
    await ws.putService({ ...ws.service(serviceId)!, updated: h.clock.now() - ms });
  }

  it('never destroys INACTIVE services unless staleServiceAge is set', async () => {
    h = await harness();
    const id = await service('IDLE');
    await age(id, 32 * DAY);
    expect((await h.controller.term!.staleCleaner.clean()).destroyed).toEqual([]);
    expect(h.controller.serviceSummary(id)).toBeDefined();
  });

  it('destroys INACTIVE services untouched for staleServiceAge, leaving active ones', async () => {
    h = await harness({ staleServiceAge: '30 days' });
    const idle = await service('IDLE');
    const busy = await service('BUSY', true);
    await age(idle, 32 * DAY);
    await age(busy, 32 * DAY);
    expect((await h.controller.term!.staleCleaner.clean()).destroyed).toEqual([idle]);
    await h.until(() => h.controller.serviceSummary(idle) === undefined);
    expect((await h.store.load()).services.map((s) => s.serviceId)).toEqual([busy]);
  });

  it('runs on its own every staleCheckInterval', async () => {
    h = await harness({ staleServiceAge: '1 day', staleCheckInterval: '1 hour' });
    const idle = await service('IDLE');
    await age(idle, DAY + 1);
    await h.clock.advance(3_600_000);
    await h.until(() => h.controller.serviceSummary(idle) === undefined, 1_000);
  });

  it('prunes old instances by age and keeps at most maxStaleInstancesCount', async () => {
    h = await harness({ maxStaleInstancesCount: 110 });
    const id = await service('PRUNED', true);
    const now = h.clock.now();
    await h.controller.term!.workingSet.overwrite([...history(id, 100, now - 32 * DAY), ...history(id, 250, now)]);
    const result = await h.controller.term!.staleCleaner.clean();
    expect(result.prunedInstances).toBe(240);
    const left = h.controller.oldServiceInstances(id);
    expect(left).toHaveLength(110);
    expect(left.every((i) => i.updated > now - DAY)).toBe(true);
    expect((await h.store.load()).instances.filter((i) => i.serviceId === id)).toHaveLength(110);
  });
});
