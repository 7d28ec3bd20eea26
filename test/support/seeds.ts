import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './images.js';

/**
 * The seed documents (shared/seeds beside the repository: CI checks `shared/` out next to it, as on the dev
 * machines). Missing seeds fail the test: their curl examples are a compatibility contract, not optional.
 */
export function seedsDir(): string {
  const dir = join(repoRoot, '..', 'shared', 'seeds');
  if (!existsSync(dir)) {
    throw new Error(`seed documents not found at ${dir}: check out shared/ beside the repository (${repoRoot})`);
  }
  return dir;
}

/** The curl examples of the seed documents in document order, each as one command (continuations joined). */
export function seedCurlExamples(dir = seedsDir()): string[] {
  const examples: string[] = [];
  for (const file of readdirSync(dir).sort()) {
    const lines = readFileSync(join(dir, file), 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i]!.startsWith('curl ')) continue;
      let command = lines[i]!;
      // Continuation lines, and a quoted --data body spanning lines.
      while ((command.endsWith('\\') || (command.split("'").length - 1) % 2 === 1) && i + 1 < lines.length) {
        command = `${command.endsWith('\\') ? command.slice(0, -1) : `${command}\n`}${lines[++i]}`;
      }
      examples.push(command);
    }
  }
  return examples;
}

/** Splits a shell command line with single-quoted words (all the seeds use). */
export function shellWords(command: string): string[] {
  const words: string[] = [];
  const re = /'([^']*)'|(\S+)/g;
  for (let m = re.exec(command); m; m = re.exec(command)) words.push(m[1] ?? m[2]!);
  return words;
}
