import { Command } from 'commander';
import { describe, expect, test } from 'vitest';
import { registerCliCommands } from '../../../src/cli/index.js';
import { complete, formatCompletion, type Lookups } from '../../../src/cli/completion/complete.js';
import { completionScript } from '../../../src/cli/completion/scripts.js';

/** Completion walks the real command tree and asks the cluster for ids (src/cli/completion/complete.ts). */

const asked: Array<[string, Record<string, unknown>, string?]> = [];
const lookups: Lookups = {
  services: async (g) => (asked.push(['services', g]), ['NODE_EXPORTER-1', 'NODE_EXPORTER-2', 'OTHER-1']),
  instances: async (g, sid) => (asked.push(['instances', g, sid]), ['SI-a', 'SI-b']),
  executors: async (g) => (asked.push(['executors', g]), ['E1']),
  clusters: async (g) => (asked.push(['clusters', g]), ['local', 'prod']),
};

function program(): Command {
  const p = new Command('drove');
  registerCliCommands(p);
  return p;
}

const values = async (...words: string[]) => (await complete(program(), words, lookups)).candidates.map((c) => c.value);

describe('commands and options', () => {
  test('top-level commands, without the hidden helper', async () => {
    const top = await values('');
    expect(top).toEqual(expect.arrayContaining(['localservices', 'lsinstances', 'executor', 'cluster', 'describe', 'config']));
    expect(top).not.toContain('__complete');
    expect(await values('ls')).toEqual(['lsinstances']);
  });

  test("a command's subcommands, then its options with their descriptions", async () => {
    expect(await values('localservices', 'ac')).toEqual(['activate']);
    const options = (await complete(program(), ['localservices', 'activate', 'X', '--'], lookups)).candidates;
    expect(options).toContainEqual({ value: '--wait', description: 'wait until every instance is healthy on every executor, showing progress' });
    expect(options.map((o) => o.value)).toEqual(['--wait', '--timeout', '--help']);
  });

  test('option values: choices, clusters for -c, files for -f', async () => {
    expect(await values('localservices', 'list', '-o', '')).toEqual(['json', 'yaml', 'wide']);
    expect(await values('lsinstances', 'list', 'X', '--output', 'y')).toEqual(['yaml']);
    expect(await values('-c', 'p')).toEqual(['prod']);
    expect(await complete(program(), ['-f', ''], lookups)).toEqual({ files: true, candidates: [] });
  });
});

describe('ids from the cluster', () => {
  test('service ids, with the global options typed before the command', async () => {
    asked.length = 0;
    expect(await values('-c', 'prod', 'localservices', 'summary', 'NODE_')).toEqual(['NODE_EXPORTER-1', 'NODE_EXPORTER-2']);
    expect(asked).toEqual([['services', { cluster: 'prod' }]]);
    // An option with a value between the command and the argument does not shift the argument.
    expect(await values('localservices', 'restart', '-t', '60s', 'OT')).toEqual(['OTHER-1']);
  });

  test("instance ids of the service named before them; one already given is not offered again", async () => {
    asked.length = 0;
    expect(await values('lsinstances', 'kill', 'NODE_EXPORTER-1', 'SI-a', '')).toEqual(['SI-b']);
    expect(asked).toEqual([['instances', {}, 'NODE_EXPORTER-1']]);
    expect(await values('describe', 'lsinstance', 'NODE_EXPORTER-1', '')).toEqual(['SI-a', 'SI-b']);
  });

  test('executor ids, cluster names, spec files; nothing past the last argument', async () => {
    expect(await values('executor', 'info', '')).toEqual(['E1']);
    expect(await values('config', 'use-cluster', '')).toEqual(['local', 'prod']);
    expect(await complete(program(), ['localservices', 'apply', ''], lookups)).toEqual({ files: true, candidates: [] });
    expect(await values('localservices', 'summary', 'NODE_EXPORTER-1', '')).toEqual([]);
  });
});

test('the helper answers a directive line, then value<TAB>description lines', () => {
  expect(formatCompletion({ files: false, candidates: [{ value: 'a', description: 'first\n one' }, { value: 'b' }] })).toBe('words\na\tfirst one\nb\n');
  expect(formatCompletion({ files: true, candidates: [] })).toBe('files\n');
});

test('the scripts call the helper with the words typed so far and register for drove', () => {
  expect(completionScript('bash')).toContain('"${COMP_WORDS[0]}" __complete -- "${COMP_WORDS[@]:1:COMP_CWORD}"');
  expect(completionScript('bash')).toContain('complete -F _drove_completion drove');
  expect(completionScript('zsh').startsWith('#compdef drove\n')).toBe(true);
  expect(completionScript('zsh')).toContain('"${words[1]}" __complete -- "${(@)words[2,CURRENT]}"');
});
