import { afterAll, beforeAll, expect, test } from 'vitest';
import fc from 'fast-check';
import { ADMIN, startHarness, validSpec, type Harness } from '../../support/api-harness.js';

/**
 * Hundreds of generated bad bodies against the two write endpoints: wrong types, missing and extra fields, huge
 * strings, deep nesting, invalid JSON, non-object JSON, wrong content types. Every answer must be a 4xx whose
 * body names the problem; none may be a 5xx; the store must be unchanged.
 */

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface Case {
  kind: string;
  endpoint: 'operations' | 'validate';
  payload: string;
  contentType?: string;
  /** A word the error must contain (the field that is wrong), when the case targets one field. */
  names?: string;
}

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

const SEED = 20261122;

function paths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [];
  if (Array.isArray(value)) value.forEach((v, i) => out.push([...prefix, i], ...paths(v, [...prefix, i])));
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) out.push([...prefix, k], ...paths(v, [...prefix, k]));
  return out;
}

function getAt(root: Json, path: (string | number)[]): Json {
  return path.reduce<Json>((v, k) => (v as Record<string | number, Json>)[k]!, root);
}

function setAt(root: Json, path: (string | number)[], value: Json | undefined): Json {
  const copy = structuredClone(root);
  const parent = getAt(copy, path.slice(0, -1)) as Record<string | number, Json>;
  const key = path[path.length - 1]!;
  if (value === undefined) {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
  } else parent[key] = value;
  return copy;
}

function kindOf(v: Json): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** A value of a different JSON kind than `original`: never valid where `original` was. */
const wrongKind = (original: Json) =>
  fc
    .oneof(
      fc.integer({ min: -1e9, max: 1e9 }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.string({ maxLength: 20 }),
      fc.boolean(),
      fc.array(fc.integer(), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
    )
    .filter((v) => kindOf(v as Json) !== kindOf(original) && !(typeof v === 'number' && typeof original === 'number'));

const nameOf = (path: (string | number)[]) => String([...path].reverse().find((p) => typeof p === 'string') ?? '');

const specBody = validSpec() as unknown as Json;
const createBody: Json = { type: 'CREATE', spec: specBody, instancesPerHost: 1 };
const opBodies: Json[] = [
  createBody,
  { type: 'ACTIVATE', serviceId: 'NOPE-1' },
  { type: 'UPDATE_INSTANCE_COUNT', serviceId: 'NOPE-1', instancesPerHost: 2 },
  { type: 'RESTART', serviceId: 'NOPE-1', stopFirst: true, opSpec: { timeout: '5m', parallelism: 2, failureStrategy: 'STOP' } },
  { type: 'REPLACE_INSTANCES', serviceId: 'NOPE-1', instanceIds: ['SI-1'], stopFirst: false, clusterOpSpec: { timeout: '5m', parallelism: 1, failureStrategy: 'STOP' } },
  { type: 'STOP_INSTANCES', serviceId: 'NOPE-1', instanceIds: ['SI-1'], opSpec: { timeout: '5m', parallelism: 1, failureStrategy: 'STOP' } },
];
const REQUIRED_SPEC_FIELDS = ['name', 'version', 'executable', 'exposedPorts', 'type', 'resources', 'healthcheck', 'readiness'];

function sample<T>(arb: fc.Arbitrary<T>, n: number, seedOffset: number): T[] {
  return fc.sample(arb, { numRuns: n, seed: SEED + seedOffset });
}

function buildCases(): Case[] {
  const cases: Case[] = [];
  const json = (kind: string, endpoint: Case['endpoint'], body: unknown, names?: string) =>
    cases.push({ kind, endpoint, payload: JSON.stringify(body), ...(names ? { names } : {}) });

  // Wrong types: one field of a valid body replaced by a value of another JSON kind.
  const typeMutation = (base: Json) =>
    fc.constantFrom(...paths(base)).chain((path) => wrongKind(getAt(base, path)).map((v) => ({ path, body: setAt(base, path, v as Json) })));
  for (const [i, base] of opBodies.entries()) {
    for (const m of sample(typeMutation(base), i === 0 ? 120 : 25, i)) json('wrong type', 'operations', m.body, nameOf(m.path));
  }
  for (const m of sample(typeMutation(specBody), 100, 50)) json('wrong type', 'validate', m.body, nameOf(m.path));

  // Missing required fields (and explicit nulls, which count as missing).
  for (const field of REQUIRED_SPEC_FIELDS) {
    json('missing field', 'validate', setAt(specBody, [field], undefined), field);
    json('missing field', 'operations', setAt(createBody, ['spec', field], undefined), field);
    json('null field', 'operations', setAt(createBody, ['spec', field], null), field);
  }
  for (const body of [{}, { type: 'ACTIVATE' }, { serviceId: 'x' }, { type: 'CREATE', instancesPerHost: 1 }, { type: 'CREATE', spec: specBody }, { type: 'STOP_INSTANCES', serviceId: 'x' }]) {
    json('missing field', 'operations', body);
  }

  // Extra fields never rescue an invalid body (and are otherwise ignored).
  for (const extra of sample(fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }), { minKeys: 1, maxKeys: 5 }), 40, 60)) {
    json('extra fields', 'operations', { ...extra, type: 'ACTIVATE', serviceId: 'NOPE-1' });
    json('extra fields', 'validate', { ...(setAt(specBody, ['name'], 42) as object), ...extra, name: 42 }, 'name');
  }

  // Unknown polymorphic types.
  for (const t of sample(fc.string({ maxLength: 30 }).filter((s) => !/^[A-Z_]+$/.test(s)), 25, 70)) {
    json('unknown type', 'operations', { type: t, serviceId: 'x' }, 'type');
    json('unknown type', 'operations', setAt(createBody, ['spec', 'configs', 0, 'type'], t), 'type');
  }

  // Huge strings: below the body limit they fail validation; above it they are a 413.
  for (const size of [10_000, 100_000, 900_000]) {
    json('huge string', 'operations', { type: 'ACTIVATE', serviceId: 'x'.repeat(size) });
    // Drove sets no length limit on names, so a huge name must also break a rule to be bad input.
    json('huge string', 'validate', setAt(specBody, ['name'], 'n '.repeat(size / 2)), 'name');
    json('huge string', 'validate', setAt(specBody, ['executable', 'dockerPullTimeout'], '9'.repeat(size)), 'dockerPullTimeout');
  }
  for (const size of [1_100_000, 3_000_000]) {
    json('huge string', 'operations', { type: 'ACTIVATE', serviceId: 'x'.repeat(size) });
    json('huge string', 'validate', { ...(specBody as object), version: 'v'.repeat(size) });
  }

  // Deep nesting, in known and unknown fields.
  for (const depth of [100, 1_000, 10_000, 100_000]) {
    const deep = '['.repeat(depth) + ']'.repeat(depth);
    cases.push({ kind: 'deep nesting', endpoint: 'operations', payload: `{"type":"ACTIVATE","serviceId":${deep}}`, names: 'serviceId' });
    cases.push({ kind: 'deep nesting', endpoint: 'operations', payload: `{"type":"ACTIVATE","serviceId":"NOPE-1","x":${deep}}` });
    cases.push({ kind: 'deep nesting', endpoint: 'validate', payload: `{"name":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`, names: 'name' });
  }

  // Placement policies (docs/design/placement.md#tag-constraints): bad shapes name their field; nesting is bounded, not a stack overflow.
  const LOCAL = { type: 'LOCAL', hostLevel: false };
  const badPlacements: Array<[Json, string]> = [
    [{ type: 'COMPOSITE', policies: [LOCAL, { type: 'MATCH_TAG' }] }, 'policies.1.tag'],
    [{ type: 'COMPOSITE', policies: [LOCAL, { type: 'MATCH_TAG', tag: '' }] }, 'policies.1.tag'],
    [{ type: 'COMPOSITE', policies: [] }, 'placementPolicy.policies'],
    [{ type: 'COMPOSITE', combiner: 'XOR', policies: [LOCAL] }, 'placementPolicy.combiner'],
    [{ type: 'COMPOSITE', combiner: 'OR', policies: [LOCAL, { type: 'MATCH_TAG', tag: 'gpu' }] }, 'placementPolicy.combiner'],
    [{ type: 'COMPOSITE', policies: [LOCAL, LOCAL] }, 'placementPolicy.policies'],
    [{ type: 'COMPOSITE', policies: [LOCAL, { type: 'ANY' }] }, 'placementPolicy.policies.1'],
    [{ type: 'COMPOSITE', policies: [{ type: 'COMPOSITE', policies: [LOCAL] }] }, 'placementPolicy.policies.0.policies.0'],
  ];
  for (const [placementPolicy, names] of badPlacements) {
    json('bad placement', 'validate', setAt(specBody, ['placementPolicy'], placementPolicy), names);
    json('bad placement', 'operations', setAt(createBody, ['spec', 'placementPolicy'], placementPolicy), names);
  }
  for (const depth of [10, 1_000, 25_000]) {
    const nested = `${'{"type":"COMPOSITE","policies":['.repeat(depth)}{"type":"LOCAL"}${']}'.repeat(depth)}`;
    const spec = JSON.stringify(specBody).replace(/"placementPolicy":\{[^}]*\}/, `"placementPolicy":${nested}`);
    cases.push({ kind: 'deep placement', endpoint: 'validate', payload: spec, names: 'nested at most 4 levels deep' });
  }

  // Invalid JSON text.
  const valid = JSON.stringify(createBody);
  for (const cut of sample(fc.integer({ min: 1, max: valid.length - 1 }), 30, 80)) {
    cases.push({ kind: 'invalid JSON', endpoint: 'operations', payload: valid.slice(0, cut) });
  }
  for (const text of sample(fc.string({ minLength: 1, maxLength: 40 }).filter((s) => { try { JSON.parse(s); return false; } catch { return true; } }), 30, 90)) {
    cases.push({ kind: 'invalid JSON', endpoint: 'validate', payload: text });
  }
  for (const text of ["{'type':'ACTIVATE'}", '{"type":"ACTIVATE",}', '{"__proto__":{"x":1},"type":"ACTIVATE","serviceId":"x"}', 'NaN', '{"a":1}{"b":2}']) {
    cases.push({ kind: 'invalid JSON', endpoint: 'operations', payload: text });
  }

  // JSON that is not an object.
  for (const body of ['[]', '[{"type":"ACTIVATE","serviceId":"x"}]', '42', '"CREATE"', 'true', 'null']) {
    cases.push({ kind: 'not an object', endpoint: 'operations', payload: body });
    cases.push({ kind: 'not an object', endpoint: 'validate', payload: body });
  }

  // Wrong content types.
  for (const contentType of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream']) {
    cases.push({ kind: 'wrong content type', endpoint: 'operations', payload: JSON.stringify({ type: 'ACTIVATE', serviceId: 'NOPE-1' }), contentType });
    cases.push({ kind: 'wrong content type', endpoint: 'validate', payload: JSON.stringify(specBody), contentType });
  }
  return cases;
}

test('malformed input: every answer is a 4xx naming the problem, never a 5xx, store unchanged', async () => {
  const before = JSON.stringify(await h.store.load());
  const cases = buildCases();
  expect(cases.length).toBeGreaterThanOrEqual(500);
  const byStatus: Record<number, number> = {};
  const byKind: Record<string, Record<number, number>> = {};
  const problems: string[] = [];
  for (const c of cases) {
    const res = await h.api.inject({
      method: 'POST',
      url: c.endpoint === 'operations' ? '/apis/v1/localservices/operations' : '/apis/v1/localservices/validate/spec',
      headers: { ...ADMIN, 'content-type': c.contentType ?? 'application/json' },
      payload: c.payload,
    });
    byStatus[res.statusCode] = (byStatus[res.statusCode] ?? 0) + 1;
    (byKind[c.kind] ??= {})[res.statusCode] = ((byKind[c.kind] ??= {})[res.statusCode] ?? 0) + 1;
    const where = `${c.kind} ${c.endpoint} ${c.payload.slice(0, 120)}`;
    if (res.statusCode < 400 || res.statusCode >= 500) {
      problems.push(`${res.statusCode} for ${where}: ${res.body.slice(0, 200)}`);
      continue;
    }
    const body = res.json() as { status?: string; message?: string; data?: { validationErrors?: string[] } };
    const errors = body.data?.validationErrors ?? [];
    if (body.status !== 'FAILED' || !body.message || errors.length === 0 || errors.some((e) => typeof e !== 'string' || e.trim() === '')) {
      problems.push(`no clear message for ${where}: ${res.body.slice(0, 200)}`);
    } else if (c.names && !errors.join(' | ').includes(c.names)) {
      problems.push(`message does not name "${c.names}" for ${where}: ${errors.join(' | ').slice(0, 300)}`);
    }
  }
  console.log(`malformed input: ${cases.length} requests, by status: ${JSON.stringify(byStatus)}`);
  console.log(`malformed input by kind: ${JSON.stringify(byKind)}`);
  expect(problems).toEqual([]);
  expect(Object.keys(byStatus).some((s) => Number(s) >= 500)).toBe(false);
  expect(JSON.stringify(await h.store.load())).toBe(before);
  const list = await h.api.inject({ method: 'GET', url: '/apis/v1/localservices', headers: ADMIN });
  expect(list.json().data).toEqual({});
});
