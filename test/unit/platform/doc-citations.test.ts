import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import GithubSlugger from 'github-slugger';
import { describe, expect, it } from 'vitest';

/**
 * Comments and docs must stand on their own: they point at notes in docs/ (`docs/design/operations.md#restart`),
 * never at sections or rulings of documents outside the repository, and every pointer leads somewhere. A reader
 * who follows one must find the note and the section it names.
 */

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const SCANNED = ['src', 'ui', 'test', 'bench', 'scripts', 'docs', 'examples', '.ci', 'README.md'];
/** This file: its samples below are citations on purpose. */
const SELF = relative(ROOT, import.meta.filename);

interface Finding {
  file: string;
  line: number;
  problem: string;
}

/** Citations of documents that are not in the repository. */
const OUTSIDE_CITATIONS: ReadonlyArray<{ pattern: RegExp; what: string }> = [
  { pattern: /\u00a7\s*\d+(\.\d+)*/g, what: 'a section sign citation' },
  { pattern: /\bdecisions?\s+\d+/gi, what: 'a numbered decision' },
  { pattern: /\bdecisions\.md\b/g, what: 'decisions.md' },
  { pattern: /\bcli-response-shapes\b/g, what: 'cli-response-shapes' },
  { pattern: /(?<![\w.])C\.\d+\.\d+(\.\d+)?\b/g, what: 'an appendix section (C.x.y)' },
];

/** `docs/<path>.md` with an optional `#anchor`, as comments write them (resolved from the repository root). */
const DOCS_POINTER = /(?<![\w./-])docs\/[\w./-]*?\.md(?:#([\w-]+))?/g;
/** `[text](target)` links of Markdown files (resolved from the file's folder). */
const MARKDOWN_LINK = /\]\(([^)\s]+)\)/g;

function outsideCitations(file: string, text: string): Finding[] {
  const findings: Finding[] = [];
  text.split('\n').forEach((line, index) => {
    for (const { pattern, what } of OUTSIDE_CITATIONS) {
      for (const match of line.matchAll(pattern)) {
        findings.push({ file, line: index + 1, problem: `cites ${what} of a document outside the repository: "${match[0]}"` });
      }
    }
  });
  return findings;
}

/** The anchors GitHub gives a Markdown file: one per heading (outside code fences), plus explicit `<a id>`s. */
function anchorsOf(markdown: string): Set<string> {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const fenceMark = /^\s*(```|~~~)/.exec(line)?.[1];
    if (fenceMark) {
      if (fence === undefined) fence = fenceMark;
      else if (fence === fenceMark) fence = undefined;
      continue;
    }
    if (fence !== undefined) continue;
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) anchors.add(slugger.slug(heading[1]!));
    for (const explicit of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(explicit[1]!);
  }
  return anchors;
}

type Reader = (path: string) => string | undefined;

/** A file or folder at `target` (absolute), and the anchor in it when `anchor` is given. */
function targetProblem(target: string, anchor: string | undefined, read: Reader, isDirectory: (path: string) => boolean): string | undefined {
  if (isDirectory(target)) return anchor ? 'an anchor on a folder' : undefined;
  const text = read(target);
  // A picture (docs/console.png) is no text but is there all the same.
  if (text === undefined) return !anchor && isBinaryFile(target) ? undefined : 'no such file';
  if (anchor === undefined || !target.endsWith('.md')) return undefined;
  return anchorsOf(text).has(anchor) ? undefined : `no section #${anchor}`;
}

/** Pointers that lead nowhere: `docs/...md#anchor` anywhere, and relative links of Markdown files. */
function brokenPointers(
  file: string,
  text: string,
  read: Reader,
  isDirectory: (path: string) => boolean = () => false,
): Finding[] {
  const findings: Finding[] = [];
  text.split('\n').forEach((line, index) => {
    for (const match of line.matchAll(DOCS_POINTER)) {
      const [pointer, anchor] = match;
      const path = join(ROOT, pointer.split('#')[0]!);
      const problem = targetProblem(path, anchor, read, isDirectory);
      if (problem) findings.push({ file, line: index + 1, problem: `${pointer}: ${problem}` });
    }
    if (!file.endsWith('.md')) return;
    for (const match of line.matchAll(MARKDOWN_LINK)) {
      const link = match[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue;
      const [pathPart, anchor] = link.split('#') as [string, string | undefined];
      const path = pathPart === '' ? join(ROOT, file) : resolve(ROOT, dirname(file), pathPart);
      const problem = targetProblem(path, anchor, read, isDirectory);
      if (problem) findings.push({ file, line: index + 1, problem: `link ${link}: ${problem}` });
    }
  });
  return findings;
}

function filesUnder(path: string): string[] {
  const absolute = join(ROOT, path);
  if (!statSync(absolute).isDirectory()) return [path];
  return readdirSync(absolute, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === 'node_modules' || entry.name === 'dist') return [];
    const child = join(path, entry.name);
    return entry.isDirectory() ? filesUnder(child) : entry.isFile() ? [child] : [];
  });
}

function readText(absolute: string): string | undefined {
  try {
    const buffer = readFileSync(absolute);
    return buffer.includes(0) ? undefined : buffer.toString('utf8');
  } catch {
    return undefined;
  }
}

function isBinaryFile(absolute: string): boolean {
  try {
    return statSync(absolute).isFile() && readFileSync(absolute).includes(0);
  } catch {
    return false;
  }
}

function isDirectory(absolute: string): boolean {
  try {
    return statSync(absolute).isDirectory();
  } catch {
    return false;
  }
}

function scannedTexts(): Array<{ file: string; text: string }> {
  return SCANNED.flatMap(filesUnder)
    .filter((file) => file !== SELF)
    .flatMap((file) => {
      const text = readText(join(ROOT, file));
      return text === undefined ? [] : [{ file: file.split(sep).join('/'), text }];
    });
}

const show = (findings: Finding[]) => findings.map((f) => `${f.file}:${f.line}: ${f.problem}`);

describe('documentation citations', () => {
  it('no file cites a section or a numbered decision of a document outside the repository', () => {
    const texts = scannedTexts();
    expect(texts.length).toBeGreaterThan(100);
    expect(show(texts.flatMap(({ file, text }) => outsideCitations(file, text)))).toEqual([]);
  });

  it('every docs/ pointer and every Markdown link names a file and a section that exist', () => {
    const texts = scannedTexts();
    const pointers = texts.reduce((n, { text }) => n + [...text.matchAll(DOCS_POINTER)].length, 0);
    expect(pointers).toBeGreaterThan(50);
    expect(show(texts.flatMap(({ file, text }) => brokenPointers(file, text, readText, isDirectory)))).toEqual([]);
  });

  it('docs/README.md lists every note under docs/', () => {
    const index = readFileSync(join(ROOT, 'docs', 'README.md'), 'utf8');
    const notes = filesUnder('docs')
      .map((file) => relative('docs', file).split(sep).join('/'))
      .filter((note) => note.endsWith('.md') && note !== 'README.md');
    expect(notes.filter((note) => !index.includes(`](${note})`))).toEqual([]);
  });
});

describe('the checks themselves', () => {
  const notes: Record<string, string> = {
    [join(ROOT, 'docs/note.md')]: '# Note\n\n## Restart\n\n```yaml\n# not a heading\n```\n\n## Restart\n\n### `instancesPerHost`\n',
  };
  const read: Reader = (path) => notes[path];

  it('finds citations of outside documents, and only those', () => {
    const text = [
      'ok: docs/design/operations.md#restart',
      'bad: see \u00a73.2 and \u00a7 13.2.5',
      'bad: (decision 8), Decisions 12-13',
      'bad: decisions.md "Storage"',
      'bad: cli-response-shapes C.2.3',
      'ok: a decision, 8 decisions, the decision to stop',
    ].join('\n');
    expect(outsideCitations('x.ts', text).map((f) => `${f.line} ${f.problem.split('"')[1]}`)).toEqual([
      '2 \u00a73.2',
      '2 \u00a7 13.2.5',
      '3 decision 8',
      '3 Decisions 12',
      '4 decisions.md',
      '5 cli-response-shapes',
      '5 C.2.3',
    ]);
  });

  it('gives headings GitHub anchors, numbering repeats and skipping code fences', () => {
    expect([...anchorsOf(notes[join(ROOT, 'docs/note.md')]!)]).toEqual(['note', 'restart', 'restart-1', 'instancesperhost']);
  });

  it('reports pointers to missing notes and sections, in comments and in Markdown links', () => {
    const comment = [
      '// docs/note.md#restart docs/note.md#restart-1 docs/note.md',
      '// docs/note.md#not-there docs/gone.md#restart',
    ].join('\n');
    expect(show(brokenPointers('src/x.ts', comment, read))).toEqual([
      'src/x.ts:2: docs/note.md#not-there: no section #not-there',
      'src/x.ts:2: docs/gone.md#restart: no such file',
    ]);
    const markdown = '[a](note.md#instancesperhost) [b](#restart) [c](note.md#nope) [d](https://example.com/x.md#y)';
    expect(show(brokenPointers('docs/note.md', markdown, read))).toEqual(['docs/note.md:1: link note.md#nope: no section #nope']);
  });
});
