import { CommanderError, InvalidArgumentError, type Command } from 'commander';
import { systemClock, type Clock } from '../model/index.js';
import { DroveCallError, DroveClient } from './client.js';
import { resolveConnection, type GlobalOptions } from './config.js';
import { exitCodeOf, OperationFailure, SpecDiffers, UsageError } from './exit-codes.js';
import { outputFormatOf, render, type OutputFormat, type OutputOptions } from './output.js';
import { promptHidden, withPassword } from './password.js';
import { terminalOf, type Terminal } from './terminal.js';

/** What a command handler gets: a client for the selected cluster, its options, and output helpers. */
export interface CommandContext<O> {
  client: DroveClient;
  options: O;
  // Properties, not methods: handlers destructure them ({ print }) and call them detached.
  print: (text: string) => void;
  printJson: (value: unknown) => void;
  /** Prints `data` in the format asked for with `-o`/`--json`; `text` (and `wide`) build the table forms. */
  emit: (data: unknown, text: () => string, wide?: () => string) => void;
  /** The format asked for (`text` when none). */
  format: OutputFormat;
  /** Where stdout goes: a terminal gets colour and the live --wait display. */
  terminal: Terminal;
  clock: Clock;
  /** Where an option's value came from: `cli` when given on the command line, `default` otherwise. */
  optionSource: (attribute: string) => string | undefined;
}

/** A command that needs no cluster (config, completion): options and output only. */
export type LocalContext<O> = Omit<CommandContext<O>, 'client'>;

/**
 * Wraps a command handler: builds the client from global options and ~/.drove (asking for a missing password on
 * a terminal), prints errors with every validation message to stderr, and exits with the code of the error's
 * class (exit-codes.ts; the Python CLI exits 0 in every case).
 */
export function action<O extends object>(
  handler: (ctx: CommandContext<O>, ...args: string[]) => Promise<void>,
): (...args: unknown[]) => Promise<void> {
  return run<O>(async (ctx, positional) => {
    const connection = await withPassword(resolveConnection(ctx.options), { stdin: process.stdin, prompt: promptHidden });
    const client = new DroveClient(connection);
    try {
      await handler({ ...ctx, client }, ...positional);
    } finally {
      await client.close();
    }
  });
}

export function localAction<O extends object>(
  handler: (ctx: LocalContext<O>, ...args: string[]) => Promise<void>,
): (...args: unknown[]) => Promise<void> {
  return run<O>((ctx, positional) => handler(ctx, ...positional));
}

function run<O extends object>(
  body: (ctx: LocalContext<O & GlobalOptions>, positional: string[]) => Promise<void>,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    // The command's own options win over global ones of the same name (`config add-cluster -e` vs `drove -e`);
    // optsWithGlobals alone lets the ancestors win.
    const options = { ...command.optsWithGlobals(), ...command.opts() } as O & GlobalOptions;
    const positional = args.slice(0, -2).flatMap((a) => (Array.isArray(a) ? [a.join('\u0000')] : [a as string]));
    const terminal = terminalOf(process.stdout);
    const print = (text: string) => process.stdout.write(`${text}\n`);
    try {
      const format = outputFormatOf(options as OutputOptions);
      await body(
        {
          options,
          print,
          printJson: (value) => print(JSON.stringify(value, null, 4)),
          emit: (data, text, wide) => print(render(format, data, text, wide)),
          format,
          terminal,
          clock: systemClock,
          optionSource: (attribute) => command.getOptionValueSource(attribute),
        },
        positional,
      );
    } catch (error) {
      reportError(error);
      process.exitCode = exitCodeOf(error);
    }
  };
}

export function reportError(error: unknown): void {
  if (error instanceof DroveCallError) {
    process.stderr.write(`Error: ${error.message}\n`);
    if (error.validationErrors.length > 0) {
      process.stderr.write('Validation errors:\n');
      for (const message of error.validationErrors) process.stderr.write(`  - ${message}\n`);
    }
  } else if (error instanceof UsageError || error instanceof OperationFailure || error instanceof SpecDiffers || error instanceof CommanderError) {
    process.stderr.write(`Error: ${error.message}\n`);
  } else {
    // Not raised by the CLI on purpose: said as such, so that it reads as the bug it is.
    process.stderr.write(`Drove CLI error: ${error instanceof Error ? error.message : String(error)}\n`);
  }
}

/** Splits a variadic argument that `action` joined (commander passes variadics as arrays). */
export function variadic(value: string): string[] {
  return value.split('\u0000').filter((v) => v !== '');
}

export function intOption(name: string, min: number, max: number) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be an integer, got "${value}".`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be between ${min} and ${max}, got ${n}.`);
    return n;
  };
}
