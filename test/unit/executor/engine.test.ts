import { describe, expect, it } from 'vitest';
import { InstanceEngine } from '../../../src/executor/instances/instance-engine.js';
import type { LocalServiceInstanceInfo } from '../../../src/model/instance.js';
import { INSTANCE_ACTIVE_STATES } from '../../../src/model/states.js';
import { TEST_IMAGE, instanceDeps, instanceSpec } from './fakes.js';
import { advanceUntil } from '../../support/wait.js';

function settle(deps: ReturnType<typeof instanceDeps>, condition: () => boolean): Promise<number> {
  return advanceUntil(deps.clock, 'the engine to settle', condition, { maxMs: 200_000, stepMs: 100 });
}

describe('instance engine (LocalServiceInstanceEngineTest)', () => {
  it('start, the same start again, a different spec under the same id, list, stop, stop again', async () => {
    const deps = instanceDeps();
    deps.runtime.images.add(TEST_IMAGE);
    const engine = new InstanceEngine(deps);
    const seen: LocalServiceInstanceInfo[] = [];
    engine.onChange((i) => seen.push(i));
    const spec = instanceSpec();
    expect(engine.start(spec)).toEqual({ ok: true });
    const first = engine.get(spec.instanceId);
    // The same START again (a re-send, a pipelined replay; a copy, as a parsed message is): accepted, nothing new.
    expect(engine.start(structuredClone(spec))).toEqual({ ok: true });
    expect(engine.get(spec.instanceId)).toBe(first);
    const other = engine.start({ ...spec, resources: [{ type: 'CPU', cores: { '0': [2] } }, { type: 'MEMORY', memoryInMB: { '0': 64 } }] });
    expect(other.ok).toBe(false);
    expect(other.ok === false && other.reason).toContain('already exists');
    await settle(deps, () => engine.get(spec.instanceId)?.state === 'HEALTHY');
    expect(engine.infos().map((i) => i.instanceId)).toEqual([spec.instanceId]);
    expect(deps.resources.snapshot().cpus.usedCores).toEqual({ '0': [1] });
    expect(deps.runtime.containers.size).toBe(1);
    expect(engine.stop(spec.instanceId)).toEqual({ ok: true });
    await settle(deps, () => !engine.has(spec.instanceId));
    expect(engine.stop(spec.instanceId).ok).toBe(false);
    expect(deps.resources.snapshot().cpus.usedCores).toEqual({ '0': [] });
    const allowed = new Set([...INSTANCE_ACTIVE_STATES, 'STOPPED']);
    expect(seen.every((i) => allowed.has(i.state))).toBe(true);
    expect(seen.at(-1)!.state).toBe('STOPPED');
  });

  it('refuses a start whose cores cannot be locked (invalid ids -1, -3, or already used)', () => {
    const deps = instanceDeps();
    const engine = new InstanceEngine(deps);
    const bad = engine.start(instanceSpec({ resources: [{ type: 'CPU', cores: { '0': [-1, -3] } }, { type: 'MEMORY', memoryInMB: { '0': 64 } }] }));
    expect(bad).toEqual({ ok: false, reason: 'Could not lock resources: Core -1 does not exist on NUMA node 0' });
    expect(engine.start(instanceSpec()).ok).toBe(true);
    const clash = engine.start(instanceSpec());
    expect(clash.ok === false && clash.reason).toContain('Core 1 on NUMA node 0 is already in use');
    const memory = engine.start(instanceSpec({ resources: [{ type: 'CPU', cores: { '0': [2] } }, { type: 'MEMORY', memoryInMB: { '0': 999999 } }] }));
    expect(memory.ok === false && memory.reason).toContain('Not enough memory on NUMA node 0');
    expect(engine.list()).toHaveLength(1);
  });

  it('stopping an unknown instance fails with a reason', () => {
    const engine = new InstanceEngine(instanceDeps());
    expect(engine.stop('SI-nope')).toEqual({ ok: false, reason: 'No instance SI-nope on this executor' });
  });

  // info() runs for every instance on every heartbeat: it shares the held record's parts instead of copying them.
  it('hands out records whose parts cannot be changed, and a change to the spec afterwards does not reach them', async () => {
    const deps = instanceDeps();
    deps.runtime.images.add(TEST_IMAGE);
    const engine = new InstanceEngine(deps);
    const spec = instanceSpec();
    engine.start(spec);
    await settle(deps, () => engine.get(spec.instanceId)?.state === 'HEALTHY');
    const [info] = engine.infos();
    expect(() => {
      (info!.resources[0] as { type: string }).type = 'GPU';
    }).toThrow(TypeError);
    expect(() => {
      info!.localInfo!.ports['main']!.hostPort = 1;
    }).toThrow(TypeError);
    info!.state = 'LOST';
    (spec.resources[0] as { cores: Record<string, number[]> }).cores['0']!.push(7);
    const [again] = engine.infos();
    expect(again!.state).toBe('HEALTHY');
    expect(again!.resources[0]).toEqual({ type: 'CPU', cores: { '0': [1] } });
    expect(again!.resources).toBe(info!.resources);
  });

  // Each transition copies the record it holds: the parts it did not change are the ones of the record before.
  it('keeps the unchanged parts of the held record through a transition instead of copying them again', async () => {
    const deps = instanceDeps();
    deps.runtime.images.add(TEST_IMAGE);
    const engine = new InstanceEngine(deps);
    const spec = instanceSpec();
    const seen: LocalServiceInstanceInfo[] = [];
    engine.onChange((info) => seen.push(info));
    engine.start(spec);
    await settle(deps, () => engine.get(spec.instanceId)?.state === 'HEALTHY');
    const states = seen.map((info) => info.state);
    expect(states).toEqual(expect.arrayContaining(['PENDING', 'HEALTHY']));
    const [first, last] = [seen[0]!, seen.at(-1)!];
    expect(first.state).not.toBe(last.state);
    expect(last.resources).toBe(first.resources);
    expect(last.metadata).toBe(first.metadata);
    expect(Object.isFrozen(last.resources[0])).toBe(true);
  });

  // A recovered record comes from JSON, where `__proto__` is an ordinary key.
  it('copies a `__proto__` key of a recovered record as data, never as the copy\'s prototype', () => {
    const deps = instanceDeps();
    const engine = new InstanceEngine(deps);
    const spec = instanceSpec();
    const recovered: LocalServiceInstanceInfo = {
      serviceId: spec.serviceId,
      serviceName: spec.serviceName,
      instanceId: spec.instanceId,
      executorId: 'old-executor',
      resources: spec.resources,
      state: 'HEALTHY',
      metadata: JSON.parse('{"__proto__": {"polluted": "yes"}, "k": "v"}') as Record<string, string>,
      errorMessage: '',
      created: 1,
      updated: 2,
    };
    engine.adopt(spec, recovered);
    const [info] = engine.infos();
    expect(Object.getPrototypeOf(info!.metadata)).toBe(Object.prototype);
    expect(Object.keys(info!.metadata)).toEqual(['__proto__', 'k']);
    expect((info!.metadata as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
