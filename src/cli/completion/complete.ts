import type { Command, Option } from 'commander';

/**
 * Shell completion: the scripts of scripts.ts hand the words typed so far to `drove __complete -- <words>`, and
 * this walks the command tree commander already has (so completion can never drift from the real commands):
 * subcommands, options, option choices, and the ids an argument names (`<service-id>`, `<instance-id>`,
 * `<executor-id>`, `<cluster-name>`) looked up on the cluster the typed global options select.
 */

export interface Candidate {
  value: string;
  description?: string;
}

export interface Completion {
  /** Let the shell complete file names (spec files, config files). */
  files: boolean;
  candidates: Candidate[];
}

/** What completion may look up; each answers [] when it cannot (no cluster configured, no answer). */
export interface Lookups {
  services(globals: Record<string, unknown>): Promise<string[]>;
  instances(globals: Record<string, unknown>, serviceId: string): Promise<string[]>;
  executors(globals: Record<string, unknown>): Promise<string[]>;
  clusters(globals: Record<string, unknown>): Promise<string[]>;
}

const FILE_ARGUMENTS = new Set(['spec-file']);

/** `words`: everything typed after the program name, the word being completed last (possibly empty). */
export async function complete(root: Command, words: readonly string[], lookups: Lookups): Promise<Completion> {
  const current = words.length > 0 ? words[words.length - 1]! : '';
  const typed = words.slice(0, -1);
  let command = root;
  const globals: Record<string, unknown> = {};
  const positionals: string[] = [];
  let pending: Option | undefined;
  for (let i = 0; i < typed.length; i++) {
    const word = typed[i]!;
    if (word.startsWith('-') && word.length > 1) {
      const [flag, inline] = splitFlag(word);
      const option = findOption(command, flag);
      let value: unknown = true;
      if (option && (option.required || option.optional) && inline === undefined) {
        if (i + 1 < typed.length) value = typed[++i];
        else pending = option;
      } else if (inline !== undefined) {
        value = inline;
      }
      if (option && command === root) globals[option.attributeName()] = value;
      continue;
    }
    const sub = positionals.length === 0 ? command.commands.find((c) => c.name() === word || c.aliases().includes(word)) : undefined;
    if (sub) command = sub;
    else positionals.push(word);
  }

  if (pending) return optionValue(pending, command === root, current, globals, lookups);
  if (current.startsWith('-')) return words_(optionsOf(command).filter((c) => c.value.startsWith(current)));
  const subcommands = command.commands.length > 0 ? command.createHelp().visibleCommands(command) : [];
  if (subcommands.length > 0 && positionals.length === 0) {
    const names = subcommands.map((c) => ({ value: c.name(), description: c.description() }));
    const matching = names.filter((c) => c.value.startsWith(current));
    // A command that is also a program of its own (`drove executor --config`) takes options, not arguments.
    if (matching.length > 0 || command.registeredArguments.length === 0) return words_(matching);
  }
  const args = command.registeredArguments;
  if (args.length === 0) return words_([]);
  const argument = args[Math.min(positionals.length, args.length - 1)]!;
  if (positionals.length >= args.length && !argument.variadic) return words_([]);
  const name = argument.name();
  if (FILE_ARGUMENTS.has(name)) return { files: true, candidates: [] };
  let values: string[] = [];
  if (name === 'service-id') values = await lookups.services(globals);
  else if (name === 'instance-id' || name === 'instance-ids') values = positionals[0] ? await lookups.instances(globals, positionals[0]) : [];
  else if (name === 'executor-id' || name === 'executor-ids') values = await lookups.executors(globals);
  else if (name === 'cluster-name') values = await lookups.clusters(globals);
  // A variadic argument does not offer what was already given.
  const given = new Set(argument.variadic ? positionals : []);
  return words_(values.filter((v) => v.startsWith(current) && !given.has(v)).map((value) => ({ value })));
}

async function optionValue(option: Option, global: boolean, current: string, globals: Record<string, unknown>, lookups: Lookups): Promise<Completion> {
  if (option.argChoices) return words_(option.argChoices.filter((c) => c.startsWith(current)).map((value) => ({ value })));
  const name = option.attributeName();
  if (global && name === 'file') return { files: true, candidates: [] };
  if (global && name === 'cluster') return words_((await lookups.clusters(globals)).filter((c) => c.startsWith(current)).map((value) => ({ value })));
  if (name === 'out') return { files: true, candidates: [] };
  return words_([]);
}

function words_(candidates: Candidate[]): Completion {
  return { files: false, candidates };
}

function splitFlag(word: string): [string, string | undefined] {
  const at = word.indexOf('=');
  return at > 0 && word.startsWith('--') ? [word.slice(0, at), word.slice(at + 1)] : [word, undefined];
}

function findOption(command: Command, flag: string): Option | undefined {
  return command.options.find((o) => o.short === flag || o.long === flag);
}

/** What `--help` lists (hidden options left out, the help option in), long forms first. */
function optionsOf(command: Command): Candidate[] {
  const visible = command.createHelp().visibleOptions(command);
  return [
    ...visible.filter((o) => o.long).map((o) => ({ value: o.long!, description: o.description })),
    ...visible.filter((o) => o.short).map((o) => ({ value: o.short!, description: o.description })),
  ];
}

/** The helper's answer on stdout: a first line `files` or `words`, then one `value<TAB>description` per line. */
export function formatCompletion(completion: Completion): string {
  const lines = [completion.files ? 'files' : 'words'];
  for (const c of completion.candidates) lines.push(c.description ? `${c.value}\t${c.description.replace(/\s+/g, ' ')}` : c.value);
  return `${lines.join('\n')}\n`;
}
