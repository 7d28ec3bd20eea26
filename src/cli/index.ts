import type { Command } from 'commander';
import { localServicesCommand } from './commands/localservices.js';
import { lsInstancesCommand } from './commands/lsinstances.js';
import { addExecutorCommands } from './commands/executor.js';
import { clusterCommand } from './commands/cluster.js';
import { describeCommand } from './commands/describe.js';
import { DEFAULT_HTTP_TIMEOUT_MS } from './config.js';

/**
 * The operator commands of Drove's Python CLI (`localservices`, `lsinstances`, `executor`, `cluster`,
 * `describe`) with its global options, read before the command name as argparse does.
 */
export function registerCliCommands(program: Command): void {
  program
    .enablePositionalOptions()
    .option('-f, --file <file>', 'configuration file for the CLI (default: ~/.drove)')
    .option('-c, --cluster <cluster>', 'cluster (section of the configuration file) to use')
    .option('-e, --endpoint <url>', 'controller endpoint, e.g. http://localhost:10000 (overrides the config file)')
    .option('-t, --auth-header <value>', 'Authorization header value to send (instead of username/password)')
    .option('-u, --username <username>', 'username for basic authentication')
    .option('-p, --password <password>', 'password for basic authentication')
    .option('-i, --insecure', 'do not verify the TLS certificate of the endpoint')
    .option('-d, --debug', 'print HTTP requests and responses to stderr')
    .option('--http-timeout <seconds>', `per-request timeout (default ${DEFAULT_HTTP_TIMEOUT_MS / 1000})`);

  program.addCommand(localServicesCommand());
  program.addCommand(lsInstancesCommand());
  program.addCommand(clusterCommand());
  program.addCommand(describeCommand());
  // The executor daemon may already own `drove executor`; the operator subcommands join it.
  const existing = program.commands.find((c) => c.name() === 'executor');
  addExecutorCommands(existing ?? program.command('executor').description('Drove executor related commands'));
}
