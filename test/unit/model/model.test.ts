import { describe, expect, it } from 'vitest';
import {
  LocalServiceInstanceInfoSchema,
  LocalServiceOperationSchema,
  LocalServiceSpecSchema,
  canonicalDuration,
  dropNulls,
  durationMs,
  executorIdOf,
  issueMessages,
  maskSpec,
  newInstanceId,
  serviceIdOf,
} from '../../../src/model/index.js';
import { testSpec } from '../../support/specs.js';

describe('durations', () => {
  it('accepts every Dropwizard form and prints the plural form', () => {
    expect(canonicalDuration('5m')).toBe('5 minutes');
    expect(canonicalDuration('5 minutes')).toBe('5 minutes');
    expect(canonicalDuration('5minutes')).toBe('5 minutes');
    expect(canonicalDuration('1 second')).toBe('1 second');
    expect(canonicalDuration('300s')).toBe('300 seconds');
    expect(durationMs('100 seconds')).toBe(100_000);
    expect(durationMs('2 days')).toBe(172_800_000);
    expect(() => canonicalDuration('5 fortnights')).toThrow(/Invalid duration/);
    expect(() => canonicalDuration('5M')).toThrow(/Invalid duration/);
  });
});

describe('ids', () => {
  it('derives the executor id as Java nameUUIDFromBytes does', () => {
    expect(executorIdOf('ex1.local', 3000)).toBe('46282eb4-861a-3afa-b202-8353e3f57ed7');
  });
  it('derives service ids and fresh instance ids', () => {
    expect(serviceIdOf({ name: 'NODE_EXPORTER', version: '1' })).toBe('NODE_EXPORTER-1');
    expect(serviceIdOf({ name: '', version: '1' })).toBe('');
    expect(newInstanceId()).toMatch(/^SI-[0-9a-f-]{36}$/);
    expect(newInstanceId()).not.toBe(newInstanceId());
  });
});

describe('LocalServiceSpec schema', () => {
  it('accepts the reference fixture and normalises durations and enums', () => {
    const raw = structuredClone(testSpec()) as Record<string, unknown>;
    (raw.executable as Record<string, unknown>).dockerPullTimeout = '100s';
    (raw.exposedPorts as Array<Record<string, unknown>>)[0]!.type = 'http';
    raw.unknownField = 'ignored';
    const parsed = LocalServiceSpecSchema.parse(dropNulls(raw));
    expect(parsed.executable.dockerPullTimeout).toBe('100 seconds');
    expect(parsed.exposedPorts[0]!.type).toBe('HTTP');
    expect(parsed).not.toHaveProperty('unknownField');
  });

  it('reports bean-validation messages with the property path', () => {
    const raw = { ...testSpec(), name: '', exposedPorts: [], executable: undefined, resources: [{ type: 'CPU', count: 'x' }] };
    const result = LocalServiceSpecSchema.safeParse(dropNulls(raw));
    expect(result.success).toBe(false);
    const messages = issueMessages(result.error!, 'spec');
    expect(messages).toContain('spec.name - Service name is mandatory');
    expect(messages).toContain('spec.exposedPorts - Port specifications are needed');
    expect(messages).toContain('spec.executable - Executable details is required');
    expect(messages.some((m) => m.startsWith('spec.resources.0.count '))).toBe(true);
  });

  it('rejects names outside the allowed character set', () => {
    const result = LocalServiceSpecSchema.safeParse({ ...testSpec(), name: 'bad name!' });
    expect(issueMessages(result.error!)).toEqual(['name - Only characters, numbers, hyphen and underscore is allowed']);
  });

  it('masks secrets on a copy, never the original', () => {
    const spec = testSpec();
    const masked = maskSpec(spec);
    expect(masked.configs![0]).toMatchObject({ data: '' });
    expect(spec.configs![0]).toMatchObject({ data: 'RHJvdmUgdGVzdA==' });
  });
});

describe('operations', () => {
  it('parses STOP as DEACTIVATE', () => {
    expect(LocalServiceOperationSchema.parse({ type: 'STOP', serviceId: 'S-1' })).toEqual({ type: 'DEACTIVATE', serviceId: 'S-1' });
  });
  it('accepts both opSpec spellings, opSpec winning', () => {
    const opSpec = { timeout: '5m', parallelism: 4, failureStrategy: 'STOP' };
    const restart = LocalServiceOperationSchema.parse({ type: 'RESTART', serviceId: 'S-1', stopFirst: true, opSpec });
    expect(restart).toEqual({
      type: 'RESTART',
      serviceId: 'S-1',
      stopFirst: true,
      opSpec: { timeout: '5 minutes', parallelism: 4, failureStrategy: 'STOP' },
    });
    const both = LocalServiceOperationSchema.parse({
      type: 'ADJUST_INSTANCES',
      serviceId: 'S-1',
      opSpec,
      clusterOpSpec: { ...opSpec, parallelism: 9 },
    });
    expect(both).toMatchObject({ opSpec: { parallelism: 4 } });
    const legacy = LocalServiceOperationSchema.parse({ type: 'RESTART', serviceId: 'S-1', clusterOpSpec: opSpec });
    expect(legacy).toMatchObject({ stopFirst: false, opSpec: { parallelism: 4 } });
  });
  it('enforces ranges with Drove messages', () => {
    const bad = LocalServiceOperationSchema.safeParse({ type: 'UPDATE_INSTANCE_COUNT', serviceId: 'S-1', instancesPerHost: 257 });
    expect(issueMessages(bad.error!)).toEqual(['instancesPerHost - Instances per host must be between 1 and 256']);
    const badPar = LocalServiceOperationSchema.safeParse({
      type: 'ADJUST_INSTANCES',
      serviceId: 'S-1',
      opSpec: { timeout: '1m', parallelism: 513, failureStrategy: 'STOP' },
    });
    expect(issueMessages(badPar.error!)).toEqual(['opSpec.parallelism - Parallelism must be between 1 and 512']);
  });
  it('rejects an unknown type', () => {
    expect(LocalServiceOperationSchema.safeParse({ type: 'EXPLODE', serviceId: 'S-1' }).success).toBe(false);
  });
});

describe('service id parts', () => {
  it('caps name and version length with a message naming the rule', () => {
    const long = 'a'.repeat(101);
    const result = LocalServiceSpecSchema.safeParse({ ...testSpec(), name: long, version: long });
    expect(issueMessages(result.error!)).toEqual([
      'name - Service name can be at most 100 characters',
      'version - Service version can be at most 100 characters',
    ]);
    expect(LocalServiceSpecSchema.safeParse({ ...testSpec(), name: 'a'.repeat(100) }).success).toBe(true);
  });
});

describe('hostAccess on the wire', () => {
  const report = (extra: Record<string, unknown>) => ({
    serviceId: 'NODE_EXPORTER-1', serviceName: 'NODE_EXPORTER', instanceId: 'SI-1', executorId: 'E1', resources: [],
    state: 'HEALTHY', metadata: {}, errorMessage: '', created: 1, updated: 2, ...extra,
  });

  it('instance records keep the hostAccess the executor reports (the controller parses reports with this schema)', () => {
    const parsed = LocalServiceInstanceInfoSchema.parse(report({ hostAccess: { network: true, addCapabilities: ['cap_net_raw'] } }));
    expect(parsed.hostAccess).toEqual({ network: true, addCapabilities: ['NET_RAW'] });
  });

  it('a Drove record without it stays without it', () => {
    expect(LocalServiceInstanceInfoSchema.parse(report({}))).not.toHaveProperty('hostAccess');
  });
});
