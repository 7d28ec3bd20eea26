#!/usr/bin/env -S node --max-semi-space-size=64
import { Command } from 'commander';
import { registerControllerCommand } from './controller/command.js';
import { registerExecutorCommand } from './executor/command.js';
import { registerDevCommand } from './dev.js';
import { registerCliCommands } from './cli/index.js';

/** One binary: `drove controller | executor | dev` and the operator commands of Drove's CLI. */
const program = new Command('drove');
program.description('drove-ts: Drove-compatible local services on every executor host');
registerControllerCommand(program);
registerExecutorCommand(program);
registerDevCommand(program);
registerCliCommands(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`drove: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
