import { join } from 'node:path';
import { ESLint } from 'eslint';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { checks } from '../../../scripts/prepare.mjs';
import { repoRoot } from '../../support/images.js';

/** The type-check and the linter that `npm test` runs before vitest (scripts/prepare.mjs `checks`). */

function filesOf(tsconfig: string): string[] {
  const parsed = ts.getParsedCommandLineOfConfigFile(join(repoRoot, tsconfig), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  if (!parsed) throw new Error(`cannot read ${tsconfig}`);
  return parsed.fileNames.map((f) => f.slice(repoRoot.length + 1));
}

describe('checks before the tests', () => {
  it('npm test type-checks with tsconfig.json and ui/tsconfig.json and lints the whole repository with no warning allowed', () => {
    expect(checks.map((c) => [c.name, c.args.join(' ')])).toEqual([
      ['type-check', '-p tsconfig.json'],
      ['type-check (web console)', '-p ui/tsconfig.json'],
      ['lint', '--max-warnings 0 .'],
    ]);
  });

  it('ui/tsconfig.json type-checks the web console, which tsconfig.json does not', () => {
    expect(filesOf(join('ui', 'tsconfig.json'))).toContain('ui/src/app.tsx');
    expect(filesOf('tsconfig.json').filter((f) => f.startsWith('ui/'))).toEqual([]);
  });

  it('tsconfig.json type-checks test/ and bench/; the build compiles src/, bench/ and the hollow fleet bench:scale forks, no tests', () => {
    const checked = filesOf('tsconfig.json');
    for (const file of ['src/main.ts', 'bench/engine.ts', 'test/unit/cli/format.test.ts', 'test/support/wait.ts', 'vitest.config.ts']) {
      expect(checked).toContain(file);
    }
    const built = filesOf('tsconfig.build.json');
    expect(built).toContain('src/main.ts');
    expect(built).toContain('bench/engine.ts');
    // The hollow fleet's worker is forked by path from dist (bench:scale), so its folder is listed; nothing else of
    // test/ is, and no test file is ever built.
    expect(built).toContain('test/support/hollow/worker.ts');
    expect(built.filter((f) => f.startsWith('test/') && !f.startsWith('test/support/hollow/'))).toEqual([]);
    expect(built.filter((f) => f.endsWith('.test.ts'))).toEqual([]);
  });

  it('the linter reports the bugs it is there for, in TypeScript of the repository', async () => {
    const eslint = new ESLint({ cwd: repoRoot });
    const code = [
      'export async function work(): Promise<number> { return 1; }',
      'export function callers(items: number[]): void {',
      '  work();', // a promise nobody awaits
      '  items.forEach(async () => { await work(); });', // an async callback where a sync one is expected
      '}',
      'export async function awaitsNothing(): Promise<void> { await 5; }', // await on a non-promise
      'const unused = 1;',
      '',
    ].join('\n');
    // An existing path, so that the file belongs to tsconfig.json's program as a real test file would.
    const [result] = await eslint.lintText(code, { filePath: join(repoRoot, 'test', 'support', 'wait.ts') });
    const rules = new Set(result!.messages.map((m) => m.ruleId));
    expect(rules).toEqual(
      new Set([
        '@typescript-eslint/no-floating-promises',
        '@typescript-eslint/no-misused-promises',
        '@typescript-eslint/await-thenable',
        '@typescript-eslint/no-unused-vars',
      ]),
    );
  });
});
