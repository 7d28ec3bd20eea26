import type { Command } from 'commander';
import { configCommand } from './commands/config.js';
import { localServicesCommand } from './commands/localservices.js';
import { lsInstancesCommand } from './commands/lsinstances.js';
import { addExecutorCommands } from './commands/executor.js';
import { clusterCommand } from './commands/cluster.js';
import { describeCommand } from './commands/describe.js';
import { registerCompletion } from './completion/command.js';
import { DEFAULT_HTTP_TIMEOUT_MS, PASSWORD_ENV } from './config.js';
import { EXIT_CODES } from './exit-codes.js';

/**
 * The operator commands of Drove's Python CLI (`localservices`, `lsinstances`, `executor`, `cluster`,
 * `describe`, `config`) with its global options, read before the command name as argparse does, and
 * `--print-completion`. A mistake on the command line exits 2 (exit-codes.ts).
 */
export function registerCliCommands(program: Command): void {
  program
    .enablePositionalOptions()
    .option('-f, --file <file>', 'configuration file for the CLI (default: ~/.drove)')
    .option('-c, --cluster <cluster>', 'cluster (section of the configuration file) to use')
    .option('-e, --endpoint <url>', 'controller endpoint, e.g. http://localhost:10000 (overrides the config file)')
    .option('-t, --auth-header <value>', 'Authorization header value to send (instead of username/password)')
    .option('-u, --username <username>', 'username for basic authentication')
    .option('-p, --password <password>', `password for basic authentication (better: ${PASSWORD_ENV}, or be asked on a terminal)`)
    .option('-i, --insecure', 'do not verify the TLS certificate of the endpoint')
    .option('-d, --debug', 'print HTTP requests and responses to stderr')
    .option('--http-timeout <seconds>', `per-request timeout (default ${DEFAULT_HTTP_TIMEOUT_MS / 1000})`);

  registerCompletion(program);

  const operatorCommands = [localServicesCommand(), lsInstancesCommand(), clusterCommand(), describeCommand(), configCommand()];
  for (const command of operatorCommands) program.addCommand(command);
  // The executor daemon may already own `drove executor`; the operator subcommands join it.
  const existing = program.commands.find((c) => c.name() === 'executor');
  if (existing) {
    relaxMandatoryOptions(existing);
    existing.description(`${existing.description()}; with a subcommand: list, inspect and blacklist executors`);
  }
  const executor = existing ?? program.command('executor').description('Drove executor related commands');
  addExecutorCommands(executor);
  exitTwoOnUsageErrors(program, false);
  for (const command of [...operatorCommands, ...executor.commands]) exitTwoOnUsageErrors(command, true);
}

/**
 * commander exits 1 on a bad command line, which scripts cannot tell from a refusal by the server; 0 stays 0
 * (--help). The daemons' own commands keep commander's behaviour.
 */
function exitTwoOnUsageErrors(command: Command, recursive: boolean): void {
  command.exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : EXIT_CODES.USAGE));
  if (recursive) for (const sub of command.commands) exitTwoOnUsageErrors(sub, true);
}

/**
 * commander checks an ancestor's mandatory options before running a subcommand, so the daemon's required
 * `--config` would block `drove executor list`. Keep it required for the daemon's own action only.
 */
function relaxMandatoryOptions(command: Command): void {
  const mandatory = command.options.filter((o) => o.mandatory);
  if (mandatory.length === 0) return;
  for (const option of mandatory) option.mandatory = false;
  command.hook('preAction', (_self, actionCommand) => {
    if (actionCommand !== command) return;
    for (const option of mandatory) {
      if (command.getOptionValue(option.attributeName()) === undefined) {
        command.error(`error: required option '${option.flags}' not specified`, { code: 'commander.missingMandatoryOptionValue' });
      }
    }
  });
}
