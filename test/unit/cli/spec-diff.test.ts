import { describe, expect, test } from 'vitest';
import { LocalServiceSpecSchema, maskSpec, maskSpecForReaders } from '../../../src/model/index.js';
import { canonicalJson, colorDiff, specDiff } from '../../../src/cli/spec-diff.js';
import { terminalOf } from '../../../src/cli/terminal.js';
import { testSpec } from '../../support/specs.js';

/** `apply`'s comparison of a spec file with what the controller shows of the stored one (src/cli/spec-diff.ts). */

const names = { stored: 'TEST_SPEC-00001 (stored)', file: 'spec.json' };
/** What the controller stores (its own parse) and shows (masked), for a user who may write / only read. */
const shownToWriters = (spec: unknown) => maskSpec(LocalServiceSpecSchema.parse(spec));
const shownToReaders = (spec: unknown) => maskSpecForReaders(LocalServiceSpecSchema.parse(spec));

describe('no difference', () => {
  test('the same spec, though the stored one has its inline config data and secrets masked', () => {
    const spec = testSpec({ env: { DB_PASSWORD: 'hunter2', MODE: 'x' } });
    expect(specDiff(shownToWriters(spec), spec, names)).toBeUndefined();
    // Read-only users see env values masked: not compared.
    expect(specDiff(shownToReaders(spec), spec, names)).toBeUndefined();
  });

  test('key order, a default left implicit (executable type) and Drove-style nulls do not count', () => {
    const spec = testSpec();
    const reordered = Object.fromEntries(Object.entries(spec).reverse()) as Record<string, unknown>;
    const { type: _type, ...executable } = spec.executable;
    reordered.executable = executable;
    const stored = { ...shownToWriters(spec), preShutdown: null, logging: null } as Record<string, unknown>;
    delete stored.preShutdown;
    expect(specDiff({ ...stored, somethingNew: null }, reordered, names)).toBeUndefined();
  });
});

describe('a difference', () => {
  test('is a unified diff from the stored spec to the file, changed lines only with context', () => {
    const spec = testSpec();
    const changed = testSpec({ executable: { ...spec.executable, url: 'drove-test/httpd:2' } });
    const diff = specDiff(shownToWriters(spec), changed, names)!;
    expect(diff.split('\n').slice(0, 3)).toEqual(['--- TEST_SPEC-00001 (stored)', '+++ spec.json', expect.stringMatching(/^@@ -\d+,\d+ \+\d+,\d+ @@$/)]);
    expect(diff).toContain('-    "url": "drove-test/httpd:latest"\n+    "url": "drove-test/httpd:2"');
    expect(diff.split('\n').filter((l) => /^[-+][^-+]/.test(l))).toHaveLength(2);
  });

  test('a secret is never printed, even when it is what changed elsewhere in the file', () => {
    const spec = testSpec({ env: { DB_PASSWORD: 'hunter2' } });
    const changed = testSpec({ env: { DB_PASSWORD: 'hunter3', NEW: 'y' } });
    const diff = specDiff(shownToReaders(spec), changed, names)!;
    expect(diff).toContain('+    "NEW": "***"');
    expect(diff).not.toMatch(/hunter/);
    // The inline config's data (base64 file contents) is masked the same way on the file's side.
    expect(diff).not.toContain('RHJvdmUgdGVzdA==');
  });

  test('a file the controller would refuse is compared as written', () => {
    const diff = specDiff(shownToWriters(testSpec()), { ...testSpec(), resources: 'lots' }, names)!;
    expect(diff).toContain('+  "resources": "lots"');
  });
});

test('canonical JSON: sorted keys, no nulls, two-space indent', () => {
  expect(canonicalJson({ b: 1, a: { d: null, c: [2, { z: 1, y: null }] } })).toBe('{\n  "a": {\n    "c": [\n      2,\n      {\n        "z": 1\n      }\n    ]\n  },\n  "b": 1\n}');
});

test('on a terminal, removals red and additions green', () => {
  const colors = terminalOf({ isTTY: true, columns: 80 }, {}).colors;
  expect(colorDiff('--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n z', colors)).toBe(
    '\x1b[1m--- a\x1b[22m\n\x1b[1m+++ b\x1b[22m\n\x1b[36m@@ -1 +1 @@\x1b[39m\n\x1b[31m-x\x1b[39m\n\x1b[32m+y\x1b[39m\n z',
  );
});
