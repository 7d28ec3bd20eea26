import { Command, Option } from 'commander';
import { DROVE_EVENT_TYPES, type ClusterStateData, type ClusterSummary, type DroveEvent, type DroveEventsList } from '../../model/index.js';
import { formatDate, keyValues, pyJsonDumps, thousands } from '../format.js';
import { formatData, withOutputOption, type OutputOptions } from '../output.js';
import { action, intOption } from '../runtime.js';
import { followEvents } from '../follow-events.js';
import { installInterrupt } from './lsinstances.js';

/** `drove cluster ...` (docs/design/cli.md). */
export function clusterCommand(): Command {
  const cmd = new Command('cluster').description('Drove cluster related commands');

  cmd
    .command('ping')
    .description('Check that the endpoint is the leader controller and answers')
    .action(
      action(async ({ client, print }) => {
        await client.get('/apis/v1/ping');
        print('Cluster ping successful');
      }),
    );

  withOutputOption(cmd.command('summary').description('Show a summary of the cluster').option('--json', 'print the JSON data'))
    .action(
      action<OutputOptions>(async ({ client, emit }) => {
        const s = await client.get<ClusterSummary>('/apis/v1/cluster');
        const percent = (used: number, total: number) => Math.trunc((used * 100) / Math.max(total, 1));
        emit(s, () =>
          keyValues({
            State: s.state,
            'Leader Controller': s.leader ?? '',
            Cores: `Utilization: ${percent(s.usedCores, s.totalCores)}% (Total: ${s.totalCores} Used: ${s.usedCores} Free: ${s.freeCores})`,
            Memory: `Utilization: ${percent(s.usedMemory, s.totalMemory)}% (Total: ${thousands(s.totalMemory)} MB Used: ${thousands(s.usedMemory)} MB Free: ${thousands(s.freeMemory)} MB)`,
            'Number of live executors': s.numExecutors,
            'Local Services': `Active: ${s.numActiveLocalServices} Total: ${s.numLocalServices}`,
          }),
        );
      }),
    );

  withOutputOption(cmd.command('leader').description('Show the leader controller'))
    .action(
      action<OutputOptions>(async ({ client, emit }) => {
        const s = await client.get<ClusterSummary>('/apis/v1/cluster');
        emit({ leader: s.leader ?? null }, () => (s.leader ? `Cluster leader: ${s.leader}` : 'Cluster has no leader'));
      }),
    );

  cmd
    .command('maintenance-on')
    .description('Put the cluster in maintenance mode (operations are refused)')
    .action(
      action(async ({ client, print }) => {
        const data = await client.post<ClusterStateData>('/apis/v1/cluster/maintenance/set', {});
        print(`Cluster state: ${data.state}`);
      }),
    );

  cmd
    .command('maintenance-off')
    .description('Take the cluster out of maintenance mode')
    .action(
      action(async ({ client, print }) => {
        const data = await client.post<ClusterStateData>('/apis/v1/cluster/maintenance/unset', {});
        print(`Cluster state: ${data.state}. Operations stay blocked for the maintenance grace period after the change.`);
      }),
    );

  withOutputOption(
    cmd
      .command('events')
      .description('Show cluster events, newest first (with --follow: the latest ones oldest first, then new ones as they happen)')
      .option('-f, --follow', 'keep printing new events (Ctrl-C to stop): streamed from drove-ts, polled from Drove')
      .addOption(new Option('-t, --type <type>', 'only events of this type').choices([...DROVE_EVENT_TYPES]))
      .addOption(new Option('-c, --count <n>', 'events per poll').default(1024).argParser(intOption('--count', 1, 2_147_483_647)))
      .option('--json', 'print each event as a JSON line'),
  )
    .action(
      action<{ follow?: boolean; type?: string; count: number } & OutputOptions>(async ({ client, options, print, format }) => {
        // Events are a stream: one JSON line, or one YAML document, per event.
        const line = (e: DroveEvent) =>
          format === 'json'
            ? JSON.stringify(e)
            : format === 'yaml'
              ? `---\n${formatData('yaml', e)}`
              : `${e.type.padEnd(25)} | ${e.id.padEnd(36)} | ${formatDate(e.time).padEnd(20)} | ${pyJsonDumps(e.metadata)}`;
        if (options.follow) {
          const follow = { count: options.count, print: (e: DroveEvent) => print(line(e)), note: (text: string) => void process.stderr.write(`${text}\n`) };
          return followEvents(client, { ...follow, ...(options.type ? { type: options.type } : {}) }, installInterrupt());
        }
        const data = await client.get<DroveEventsList>(`/apis/v1/cluster/events/latest?size=${options.count}&lastSyncTime=0`);
        for (const e of data.events) if (!options.type || e.type === options.type) print(line(e));
      }),
    );

  return cmd;
}
