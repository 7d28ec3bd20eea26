import { Command, Option } from 'commander';
import type { ExecutorSummary, LocalServiceInstanceInfo } from '../../model/index.js';
import { DroveClient } from '../client.js';
import { defaultConfigPath, readConfigFile, resolveConnection, type GlobalOptions } from '../config.js';
import { clustersOf } from '../commands/config.js';
import { complete, formatCompletion, type Lookups } from './complete.js';
import { COMPLETION_SHELLS, completionScript, type CompletionShell } from './scripts.js';

/**
 * 3 s per lookup: a TAB that takes longer feels hung; a cluster that slow gets no ids completed, the rest
 * (commands, options) still works.
 */
const LOOKUP_TIMEOUT_SECONDS = '3';

/** `drove --print-completion bash|zsh` and the hidden `drove __complete -- <words>` the scripts call. */
export function registerCompletion(program: Command): void {
  program.addOption(new Option('--print-completion <shell>', 'print the shell completion script for the given shell').choices([...COMPLETION_SHELLS]));
  // The option does all there is to do, with or without a command after it; commander calls this on parsing it.
  program.on('option:print-completion', (shell: CompletionShell) => {
    process.stdout.write(completionScript(shell));
    process.exit(0);
  });

  program
    .command('__complete', { hidden: true })
    .description('complete the words typed so far (used by the completion scripts)')
    .argument('[words...]')
    .helpOption(false)
    .action(async (words: string[]) => {
      try {
        process.stdout.write(formatCompletion(await complete(program, words, clusterLookups())));
      } catch {
        // Completion never prints an error into someone's command line.
        process.stdout.write('words\n');
      }
    });
}

function clusterLookups(): Lookups {
  async function ask<T>(globals: Record<string, unknown>, read: (client: DroveClient) => Promise<T[]>): Promise<T[]> {
    let client: DroveClient | undefined;
    try {
      // No password prompt here: the shell is waiting on a TAB.
      client = new DroveClient(resolveConnection({ ...(globals as GlobalOptions), debug: false, httpTimeout: LOOKUP_TIMEOUT_SECONDS }));
      return await read(client);
    } catch {
      return [];
    } finally {
      await client?.close();
    }
  }
  return {
    services: (globals) => ask(globals, async (c) => Object.keys(await c.get<Record<string, unknown>>('/apis/v1/localservices')).sort()),
    instances: (globals, serviceId) =>
      ask(globals, async (c) =>
        (await c.get<LocalServiceInstanceInfo[]>(`/apis/v1/localservices/${encodeURIComponent(serviceId)}/instances`)).map((i) => i.instanceId),
      ),
    executors: (globals) => ask(globals, async (c) => (await c.get<ExecutorSummary[]>('/apis/v1/cluster/executors')).map((e) => e.executorId)),
    clusters: async (globals) => {
      try {
        return clustersOf(readConfigFile((globals.file as string | undefined) ?? defaultConfigPath()) ?? {}).map((c) => c.name);
      } catch {
        return [];
      }
    },
  };
}
