import { Command, Option } from 'commander';
import type { BlacklistOperationResponse, ExecutorNodeData, ExecutorSummary } from '../../model/index.js';
import { formatDate, pyList, sortRows, table, thousands } from '../format.js';
import { withOutputOption, type OutputOptions } from '../output.js';
import { action, intOption, variadic } from '../runtime.js';
import { colorState } from '../terminal.js';

/** `drove executor ...` (docs/design/cli.md). */

const EXECUTOR_HEADERS: Record<string, string> = {
  executorId: 'Executor ID',
  hostname: 'Host',
  port: 'Port',
  transportType: 'Transport',
  freeCores: 'Free Cores',
  usedCores: 'Used Cores',
  freeMemory: 'Free Memory (MB)',
  usedMemory: 'Used Memory (MB)',
  tags: 'Tags',
  state: 'State',
};

/**
 * Adds the operator subcommands to `drove executor`. The executor daemon may own the same command name
 * (`drove executor --config executor.yml`); commander runs its action when no subcommand matches.
 */
export function addExecutorCommands(cmd: Command): Command {
  withOutputOption(cmd.command('list').description('List all executors').option('--json', 'print the JSON data'))
    .action(
      action<OutputOptions>(async ({ client, emit, terminal }) => {
        const data = await client.get<ExecutorSummary[]>('/apis/v1/cluster/executors');
        // Like the Python CLI: columns follow the first object's keys; an empty list shows the raw keys.
        const keys = data.length > 0 ? Object.keys(data[0]!) : Object.keys(EXECUTOR_HEADERS);
        const headers = data.length > 0 ? keys.map((k) => EXECUTOR_HEADERS[k] ?? k) : keys;
        const rows = data.map((e) =>
          keys.map((k) => {
            const v = (e as unknown as Record<string, unknown>)[k];
            return Array.isArray(v) ? pyList(v) : (v as string | number);
          }),
        );
        const stateColumn = keys.indexOf('state');
        // Every field is a column already: wide is the same table.
        emit(data, () => table(headers, rows, { style: (text, c) => (c === stateColumn ? colorState(terminal.colors, text) : text) }));
      }),
    );

  withOutputOption(cmd.command('info <executor-id>').description('Show details of an executor').option('--json', 'print the JSON data'))
    .action(
      action<OutputOptions>(async ({ client, emit }, id) => {
        const e = await client.get<ExecutorNodeData>(`/apis/v1/cluster/executors/${encodeURIComponent(id!)}`);
        const pad = (k: string) => k.padEnd(30);
        const lines = [
          `${pad('ID')}${e.state.executorId}`,
          `${pad('Host')}${e.hostname}`,
          `${pad('Port')}${e.port}`,
          `${pad('Transport')}${e.transportType}`,
          'Resources',
          '    CPU',
        ];
        for (const [node, free] of Object.entries(e.state.cpus.freeCores).sort()) {
          const used = e.state.cpus.usedCores[node];
          const usedText = used && used.length > 0 ? ` Used cores: ${[...used].sort((a, b) => a - b).join(',')}` : '';
          lines.push(`        ${`NUMA node ${node}`.padEnd(30)}Free cores: ${[...free].sort((a, b) => a - b).join(',')}${usedText}`);
        }
        lines.push('    Memory');
        for (const [node, free] of Object.entries(e.state.memory.freeMemory).sort()) {
          const used = e.state.memory.usedMemory[node];
          const usedText = used !== undefined ? ` Used:  ${thousands(used)} MB` : '';
          lines.push(`        ${`NUMA node ${node}`.padEnd(30)}Free :  ${thousands(free)} MB${usedText}`);
        }
        lines.push(`${pad('State')}${e.executorState}`, `${pad('Tags')}${e.tags.join(',')}`, `${pad('Last Updated')}${formatDate(e.updated)}`);
        emit(e, () => lines.join('\n'));
      }),
    );

  withOutputOption(
    cmd
      .command('lsinstances <executor-id>')
      .description('List local service instances on an executor')
      .addOption(new Option('-s, --sort <column>', 'sort by column 0..8').default(1).argParser(intOption('--sort', 0, 8)))
      .option('-r, --reverse', 'reverse the sort order')
      .option('--json', 'print the JSON data'),
  )
    .action(
      action<{ sort: number; reverse?: boolean } & OutputOptions>(async ({ client, options, emit, terminal }, id) => {
        const e = await client.get<ExecutorNodeData>(`/apis/v1/cluster/executors/${encodeURIComponent(id!)}`);
        const rows = (e.serviceInstances ?? []).map((i) => {
          let cpu = 0;
          let memory = 0;
          for (const r of i.resources ?? []) {
            if (r.type === 'CPU') cpu += Object.values(r.cores).reduce((n, ids) => n + ids.length, 0);
            if (r.type === 'MEMORY') memory += Object.values(r.memoryInMB).reduce((n, mb) => n + mb, 0);
          }
          return [i.instanceId, i.serviceName, i.serviceId, cpu, memory, i.state, i.errorMessage ?? '', i.created, i.updated];
        });
        const sorted = sortRows(rows, (r) => r[options.sort], options.reverse === true);
        emit(e.serviceInstances ?? [], () =>
          table(
            ['Instance ID', 'Service name', 'Service ID', 'CPU', 'Memory (MB)', 'State', 'Error Message', 'Created', 'Last Updated'],
            sorted.map((r) => [...r.slice(0, 7), formatDate(r[7]), formatDate(r[8])] as (string | number)[]),
            { style: (text, c) => (c === 5 ? colorState(terminal.colors, text) : text) },
          ),
        );
      }),
    );

  const blacklisting = (name: 'blacklist' | 'unblacklist') =>
    cmd
      .command(`${name} <executor-ids...>`)
      .description(name === 'blacklist' ? 'Blacklist executors (no new instances are placed there)' : 'Take executors off the blacklist')
      .option('--json', 'print the JSON data')
      .action(
        action<{ json?: boolean }>(async ({ client, options, print, printJson }, ids) => {
          const query = variadic(ids!).map((id) => `id=${encodeURIComponent(id)}`).join('&');
          const data = await client.post<BlacklistOperationResponse>(`/apis/v1/cluster/executors/${name}?${query}`, {});
          if (options.json) return printJson(data);
          print(`Successful: ${data.successful.join(', ')}`.trimEnd());
          print(`Failed: ${data.failed.join(', ')}`.trimEnd());
          if (data.message) print(data.message);
          if (name === 'blacklist') print(`Approximate completion time: ${((data.approxCompletionTimeMs ?? 0) / 1000).toFixed(2)} seconds`);
          // Scripts need to know: some executors did not change state.
          if (data.failed.length > 0) process.exitCode = 1;
        }),
      );
  blacklisting('blacklist');
  blacklisting('unblacklist');
  return cmd;
}
