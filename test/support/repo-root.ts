import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository (the directory holding package.json), from the source tree or from dist/ (the benchmarks). */
export function findRepoRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${import.meta.dirname}`);
    dir = parent;
  }
  return dir;
}
