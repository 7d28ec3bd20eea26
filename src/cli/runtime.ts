import { InvalidArgumentError, type Command } from 'commander';
import { DroveCallError, DroveClient } from './client.js';
import { CliConfigError, resolveConnection, type GlobalOptions } from './config.js';

/** What a command handler gets: a client for the selected cluster, its options, and output helpers. */
export interface CommandContext<O> {
  client: DroveClient;
  options: O;
  // Properties, not methods: handlers destructure them ({ print }) and call them detached.
  print: (text: string) => void;
  printJson: (value: unknown) => void;
}

/** A failure a command detects itself (e.g. a --wait that timed out); printed like server errors, exit 1. */
export class CommandFailure extends Error {}

/**
 * Wraps a command handler: builds the client from global options and ~/.drove, prints errors with every
 * validation message to stderr, and sets a non-zero exit code on failure (the Python CLI exits 0; see README).
 */
export function action<O extends object>(
  handler: (ctx: CommandContext<O>, ...args: string[]) => Promise<void>,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const options = command.optsWithGlobals() as O & GlobalOptions;
    const positional = args.slice(0, -2).flatMap((a) => (Array.isArray(a) ? [a.join('\u0000')] : [a as string]));
    let client: DroveClient | undefined;
    try {
      client = new DroveClient(resolveConnection(options));
      await handler(
        {
          client,
          options,
          print: (text) => process.stdout.write(`${text}\n`),
          printJson: (value) => process.stdout.write(`${JSON.stringify(value, null, 4)}\n`),
        },
        ...positional,
      );
    } catch (error) {
      reportError(error);
      process.exitCode = 1;
    } finally {
      await client?.close();
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
  } else if (error instanceof CliConfigError || error instanceof CommandFailure) {
    process.stderr.write(`Error: ${error.message}\n`);
  } else {
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
