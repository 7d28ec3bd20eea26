import { Command, Option } from 'commander';
import { DROVE_EVENT_TYPES, type ClusterStateData, type ClusterSummary, type DroveEventsList } from '../../model/index.js';
import { formatDate, keyValues, pyJsonDumps, thousands } from '../format.js';
import { action, intOption } from '../runtime.js';
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

  cmd
    .command('summary')
    .description('Show a summary of the cluster')
    .option('--json', 'print the JSON data')
    .action(
      action<{ json?: boolean }>(async ({ client, options, print, printJson }) => {
        const s = await client.get<ClusterSummary>('/apis/v1/cluster');
        if (options.json) return printJson(s);
        const percent = (used: number, total: number) => Math.trunc((used * 100) / Math.max(total, 1));
        print(
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

  cmd
    .command('leader')
    .description('Show the leader controller')
    .action(
      action(async ({ client, print }) => {
        const s = await client.get<ClusterSummary>('/apis/v1/cluster');
        print(s.leader ? `Cluster leader: ${s.leader}` : 'Cluster has no leader');
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

  cmd
    .command('events')
    .description('Show cluster events, newest first (with --follow: keep printing new ones)')
    .option('-f, --follow', 'keep polling for new events (Ctrl-C to stop)')
    .addOption(new Option('-t, --type <type>', 'only events of this type').choices([...DROVE_EVENT_TYPES]))
    .addOption(new Option('-c, --count <n>', 'events per poll').default(1024).argParser(intOption('--count', 1, 2_147_483_647)))
    .option('--json', 'print each event as a JSON line')
    .action(
      action<{ follow?: boolean; type?: string; count: number; json?: boolean }>(async ({ client, options, print }) => {
        // The server's lastSyncTime is handed back (not the client clock, as Drove's CLI does), so nothing is lost or
        // repeated.
        let lastSyncTime = 0;
        const stop = options.follow ? installInterrupt() : undefined;
        do {
          const data = await client.get<DroveEventsList>(`/apis/v1/cluster/events/latest?size=${options.count}&lastSyncTime=${lastSyncTime}`);
          lastSyncTime = data.lastSyncTime;
          const events = options.type ? data.events.filter((e) => e.type === options.type) : data.events;
          // Oldest first when following, so the stream reads in time order.
          for (const e of options.follow ? [...events].reverse() : events) {
            print(
              options.json
                ? JSON.stringify(e)
                : `${e.type.padEnd(25)} | ${e.id.padEnd(36)} | ${formatDate(e.time).padEnd(20)} | ${pyJsonDumps(e.metadata)}`,
            );
          }
          if (stop && !stop.stopped) await stop.sleep(1_000);
        } while (stop && !stop.stopped);
      }),
    );

  return cmd;
}
