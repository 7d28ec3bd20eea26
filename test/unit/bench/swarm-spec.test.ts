import { describe, expect, it } from 'vitest';
import { runningContainers, swarmHealthCheck, swarmMembership, swarmMode, swarmServiceSpec } from '../../../bench/rollout/swarm-spec.js';
import type { CheckSpec } from '../../../src/model/index.js';
import { httpCheck } from '../../support/specs.js';

const check = httpCheck('/cgi-bin/health', '100 milliseconds', 50);

describe('swarmMembership', () => {
  it('initialises a swarm when the engine is in none', () => {
    expect(swarmMembership({ LocalNodeState: 'inactive', ControlAvailable: false })).toBe('init');
    expect(swarmMembership({})).toBe('init');
  });

  it('uses a swarm whose manager this engine is, to leave it as found', () => {
    expect(swarmMembership({ LocalNodeState: 'active', ControlAvailable: true })).toBe('use');
  });

  it('refuses a worker and the in-between states, naming them', () => {
    expect(() => swarmMembership({ LocalNodeState: 'active', ControlAvailable: false })).toThrow(/worker/);
    expect(() => swarmMembership({ LocalNodeState: 'pending' })).toThrow(/"pending"/);
    expect(() => swarmMembership({ LocalNodeState: 'locked' })).toThrow(/"locked"/);
  });
});

describe('swarmMode', () => {
  it('is global for one instance per host and replicated beyond it', () => {
    expect(swarmMode(1)).toBe('global');
    expect(swarmMode(4)).toBe('replicated');
  });
});

describe('swarmHealthCheck', () => {
  it('mirrors the HTTP check as wget in the container, durations in nanoseconds', () => {
    expect(swarmHealthCheck({ ...check, initialDelay: '2 seconds' }, 8000)).toEqual({
      Test: ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:8000/cgi-bin/health'],
      Interval: 100_000_000,
      Timeout: 1_000_000_000,
      Retries: 50,
      StartPeriod: 2_000_000_000,
    });
  });

  it('refuses a check it cannot mirror', () => {
    const command: CheckSpec = { ...check, mode: { type: 'CMD', command: 'true' } };
    expect(() => swarmHealthCheck(command, 8000)).toThrow(/HTTP checks only, not CMD/);
  });
});

describe('swarmServiceSpec', () => {
  const input = {
    name: 'drove-bench-swarm-1',
    imageId: 'sha256:abc',
    check,
    containerPort: 8000,
    memoryBytes: 64 * 1024 * 1024,
    labels: { 'drove-ts.bench': 'drove-bench-swarm-1' },
  };

  it('runs one global task for N = 1, by image ID, with the memory limit and no restarts', () => {
    const spec = swarmServiceSpec({ ...input, instances: 1 });
    expect(spec.Mode).toEqual({ Global: {} });
    expect(spec.TaskTemplate.ContainerSpec?.Image).toBe('sha256:abc');
    expect(spec.TaskTemplate.ContainerSpec?.HealthCheck?.Retries).toBe(50);
    expect(spec.TaskTemplate.Resources?.Limits?.MemoryBytes).toBe(67_108_864);
    expect(spec.TaskTemplate.RestartPolicy?.Condition).toBe('none');
    expect(spec.EndpointSpec).toBeUndefined();
  });

  it('replicates N tasks for N > 1', () => {
    expect(swarmServiceSpec({ ...input, instances: 8 }).Mode).toEqual({ Replicated: { Replicas: 8 } });
  });
});

describe('runningContainers', () => {
  const running = (id: string) => ({ ID: `t-${id}`, Status: { State: 'running', ContainerStatus: { ContainerID: id } } });

  it('waits until N tasks run with containers', () => {
    const starting = { ID: 't-b', Status: { State: 'starting', ContainerStatus: { ContainerID: 'b' } } };
    expect(runningContainers([running('a'), starting], 2)).toBeNull();
    expect(runningContainers([running('a'), { ID: 't-c', Status: { State: 'running' } }], 2)).toBeNull();
    expect(runningContainers([running('a'), running('b')], 2)).toEqual(['a', 'b']);
  });

  it('fails at once with the engine reason when a task ended', () => {
    const failed = { ID: 't-x', Status: { State: 'rejected', Err: 'No such image: sha256:abc' } };
    expect(() => runningContainers([running('a'), failed], 2)).toThrow('swarm task t-x is rejected: No such image: sha256:abc');
  });
});
