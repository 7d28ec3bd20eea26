import { describe, expect, it } from 'vitest';
import {
  LocalServiceSpecSchema,
  PlacementPolicySchema,
  isHostLevel,
  issueMessages,
  placementAllows,
  placementConstraintText,
  requiredInstanceCount,
  type PlacementPolicy,
} from '../../../src/model/index.js';
import { testSpec } from '../../support/specs.js';

const LOCAL: PlacementPolicy = { type: 'LOCAL', hostLevel: false };
const tag = (t: string): PlacementPolicy => ({ type: 'MATCH_TAG', tag: t });
const and = (...policies: PlacementPolicy[]): PlacementPolicy => ({ type: 'COMPOSITE', combiner: 'AND', policies });
const or = (...policies: PlacementPolicy[]): PlacementPolicy => ({ type: 'COMPOSITE', combiner: 'OR', policies });
const host = (tags: string[], hostname = 'h1') => ({ hostname, tags: [hostname, ...tags] });

describe('placement policies (docs/design/placement.md#tag-constraints)', () => {
  it('evaluates tag constraints as Drove\'s scheduler does', () => {
    expect(placementAllows(LOCAL, host([]))).toBe(true);
    expect(placementAllows(undefined, host([]))).toBe(true);
    expect(placementAllows(and(LOCAL, tag('gpu')), host(['gpu']))).toBe(true);
    expect(placementAllows(and(LOCAL, tag('gpu')), host(['ssd']))).toBe(false);
    // The hostname is always a tag: a service can be pinned to hosts.
    expect(placementAllows(and(LOCAL, or(tag('h1'), tag('h2'))), host([], 'h2'))).toBe(true);
    // NO_TAG: no tag but the hostname.
    expect(placementAllows(and(LOCAL, { type: 'NO_TAG' }), host([]))).toBe(true);
    expect(placementAllows(and(LOCAL, { type: 'NO_TAG' }), host(['gpu']))).toBe(false);
    // No combiner is AND (Drove's default).
    expect(placementAllows({ type: 'COMPOSITE', policies: [LOCAL, tag('a'), tag('b')] }, host(['a']))).toBe(false);
    expect(placementAllows({ type: 'COMPOSITE', policies: [LOCAL, tag('a'), tag('b')] }, host(['a', 'b']))).toBe(true);
    // Tags are compared exactly, as Drove's Set.contains does.
    expect(placementAllows(and(LOCAL, tag('GPU')), host(['gpu']))).toBe(false);
  });

  it('says the constraint in words, and nothing for a plain LOCAL', () => {
    expect(placementConstraintText(LOCAL)).toBeUndefined();
    expect(placementConstraintText(and(LOCAL))).toBeUndefined();
    expect(placementConstraintText(and(LOCAL, tag('gpu')))).toBe('tag gpu');
    expect(placementConstraintText(and(LOCAL, tag('gpu'), or(tag('a'), { type: 'NO_TAG' })))).toBe('tag gpu and (tag a or no tag but the hostname)');
    expect(placementConstraintText(and(LOCAL, or(tag('a'), tag('b'))))).toBe('tag a or tag b');
    expect(placementConstraintText(or(and(tag('a'), tag('b')), and(tag('c'))))).toBe('(tag a and tag b) or tag c');
  });

  it('takes host level from the LOCAL member of a COMPOSITE', () => {
    expect(isHostLevel({ placementPolicy: and({ type: 'LOCAL', hostLevel: true }, tag('gpu')) })).toBe(true);
    expect(isHostLevel({ placementPolicy: and(LOCAL, tag('gpu')) })).toBe(false);
  });

  it('counts required instances over the executors that take the service', () => {
    const executors = [
      { state: 'ACTIVE' as const, nodeData: host(['gpu'], 'h1') },
      { state: 'UNREADY' as const, nodeData: host(['gpu'], 'h2') },
      { state: 'BLACKLISTED' as const, nodeData: host(['gpu'], 'h3') },
      { state: 'ACTIVE' as const, nodeData: host([], 'h4') },
    ];
    const svc = (activationState: 'ACTIVE' | 'CONFIG_TESTING' | 'INACTIVE', placementPolicy: PlacementPolicy) => ({
      activationState,
      instancesPerHost: 3,
      spec: { placementPolicy },
    });
    expect(requiredInstanceCount(svc('ACTIVE', LOCAL), executors)).toBe(9);
    expect(requiredInstanceCount(svc('ACTIVE', and(LOCAL, tag('gpu'))), executors)).toBe(6);
    expect(requiredInstanceCount(svc('CONFIG_TESTING', and(LOCAL, tag('gpu'))), executors)).toBe(1);
    expect(requiredInstanceCount(svc('CONFIG_TESTING', and(LOCAL, tag('tpu'))), executors)).toBe(0);
    expect(requiredInstanceCount(svc('INACTIVE', LOCAL), executors)).toBe(0);
  });

  it('parses Drove\'s shapes with Drove\'s messages, naming the field', () => {
    const parse = (placementPolicy: unknown) => {
      const result = LocalServiceSpecSchema.safeParse({ ...testSpec(), placementPolicy });
      return result.success ? [] : issueMessages(result.error);
    };
    expect(parse(and(LOCAL, tag('gpu')))).toEqual([]);
    expect(parse({ type: 'COMPOSITE', combiner: 'or', policies: [LOCAL] })).toEqual([]);
    expect(parse({ type: 'COMPOSITE', policies: [LOCAL, { type: 'MATCH_TAG' }, { type: 'MATCH_TAG', tag: '' }] })).toEqual([
      'placementPolicy.policies.1.tag - Tag is mandatory',
      'placementPolicy.policies.2.tag - Tag is mandatory',
    ]);
    expect(parse({ type: 'COMPOSITE', policies: [] })).toEqual(['placementPolicy.policies - Specify one or more policies to combine']);
    expect(parse({ type: 'COMPOSITE' })).toEqual(['placementPolicy.policies - Specify one or more policies to combine']);
    expect(parse({ type: 'COMPOSITE', combiner: 'XOR', policies: [LOCAL] })).toEqual([
      'placementPolicy.combiner Invalid value, expected one of AND, OR',
    ]);
    expect(parse({ type: 'COMPOSITE', policies: [LOCAL, { type: 'MATCH_TAG', tag: 7 }] })).toEqual([
      'placementPolicy.policies.1.tag Invalid input: expected string, received number',
    ]);
    expect(parse({ type: 'COMPOSITE', policies: 'LOCAL' })).toEqual(['placementPolicy.policies Invalid input: expected array, received string']);
    expect(parse({ type: 'COMPOSITE', policies: Array.from({ length: 33 }, () => tag('a')) })).toEqual([
      'placementPolicy.policies - At most 32 policies can be combined',
    ]);
  });

  it('refuses a deeply nested policy with a message instead of overflowing the stack', () => {
    let deep: unknown = LOCAL;
    // About what a 1 MiB body can nest (each level is ~34 bytes).
    for (let i = 0; i < 30_000; i++) deep = { type: 'COMPOSITE', policies: [deep] };
    const result = PlacementPolicySchema.safeParse(deep);
    expect(result.success).toBe(false);
    expect(issueMessages(result.error!)).toEqual([
      'policies.0.policies.0.policies.0.policies - Placement policies can be nested at most 4 levels deep',
    ]);
  });
});
