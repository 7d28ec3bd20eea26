import { Option, type Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { UsageError } from './exit-codes.js';

/**
 * `-o json|yaml|wide` on every command that reads: json and yaml print the server's data as it came (the same
 * as `--json`, kept from before), wide prints the table with more columns. Column sets are fixed per command so
 * that scripts reading text output do not break (docs/cli.md#output-formats-and-colour).
 */

export const OUTPUT_FORMATS = ['json', 'yaml', 'wide'] as const;
export type OutputFormat = 'text' | (typeof OUTPUT_FORMATS)[number];

export type OutputOptions = { output?: (typeof OUTPUT_FORMATS)[number]; json?: boolean };

/**
 * Adds `-o, --output <format>`; `short: false` where `-o` already means something else in Drove's Python CLI
 * (`lsinstances list -o` is `--old`), so that only `--output` is added there.
 */
export function withOutputOption(command: Command, { short = true }: { short?: boolean } = {}): Command {
  return command.addOption(new Option(`${short ? '-o, ' : ''}--output <format>`, 'output format').choices([...OUTPUT_FORMATS]));
}

export function outputFormatOf(options: OutputOptions): OutputFormat {
  if (options.json && options.output !== undefined && options.output !== 'json') {
    throw new UsageError(`--json and --output ${options.output} ask for two formats; give one`);
  }
  if (options.json) return 'json';
  return options.output ?? 'text';
}

/** JSON as the CLI always printed it (4 spaces, as the Python CLI's json.dumps(indent=4)); YAML as a document. */
export function formatData(format: 'json' | 'yaml', data: unknown): string {
  return format === 'json' ? JSON.stringify(data, null, 4) : toYaml(data).trimEnd();
}

/**
 * What a read command prints for the format: the data for json/yaml, else its text (`wide` falls back to the
 * text where the command has no wider form: key/value views already show every field).
 */
export function render(format: OutputFormat, data: unknown, text: () => string, wide?: () => string): string {
  if (format === 'json' || format === 'yaml') return formatData(format, data);
  if (format === 'wide') return (wide ?? text)();
  return text();
}
