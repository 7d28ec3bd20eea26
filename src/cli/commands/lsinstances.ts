import { Command, Option } from 'commander';
import { basename } from 'node:path';
import type { CrashLoopSummary, LocalServiceInstanceInfo, LocalServiceSummary } from '../../model/index.js';
import type { DroveClient } from '../client.js';
import { formatDate, keyValues, sortRows, table } from '../format.js';
import { action, intOption, variadic } from '../runtime.js';
import { tailLog } from '../log-tail.js';
import { waitForInstancesGone } from '../wait.js';
import { durationMs } from '../../model/index.js';
import { opSpecOf, withOpSpecOptions, type OpSpecOptions } from './localservices.js';

/** `drove lsinstances ...` (docs/design/cli.md). */

const OPERATIONS = '/apis/v1/localservices/operations';
const enc = encodeURIComponent;
const instancesPath = (sid: string) => `/apis/v1/localservices/${enc(sid)}/instances`;
const logsPath = (sid: string, iid: string) => `/apis/v1/logfiles/localservices/${enc(sid)}/${enc(iid)}`;

export function lsInstancesCommand(): Command {
  const cmd = new Command('lsinstances').description('Drove local service instance related commands');

  cmd
    .command('list <service-id>')
    .description('List instances of a local service (active ones, or old ones with --old)')
    .option('-o, --old', 'list old (stopped, failed, lost) instances')
    .option('-w, --wide', 'add crash-loop backoff columns (restarts, last failure, next attempt), and the last failed instance of each executor in backoff')
    .addOption(new Option('-s, --sort <column>', 'sort by column 0..6').default(0).argParser(intOption('--sort', 0, 6)))
    .option('-r, --reverse', 'reverse the sort order')
    .option('--json', 'print the JSON data')
    .action(
      action<{ old?: boolean; wide?: boolean; sort: number; reverse?: boolean; json?: boolean }>(async ({ client, options, print, printJson }, sid) => {
        const data = await client.get<LocalServiceInstanceInfo[]>(`${instancesPath(sid!)}${options.old ? '/old' : ''}`);
        if (!options.wide) {
          if (options.json) return printJson(data);
          const rows = data.map((i) => [
            i.instanceId, i.localInfo?.hostname ?? '', portsCell(i), i.state, i.errorMessage ?? '', i.created, i.updated,
          ]);
          const sorted = sortRows(rows, (r) => r[options.sort], options.reverse === true);
          print(
            table(
              ['Instance ID', 'Executor Host', 'Ports', 'State', 'Error Message', 'Created', 'Last Updated'],
              sorted.map((r) => [...r.slice(0, 5), formatDate(r[5]), formatDate(r[6])] as string[]),
            ),
          );
          return;
        }
        const summary = await client.get<LocalServiceSummary>(`/apis/v1/localservices/${enc(sid!)}`);
        const loops = summary.crashLoops ?? [];
        if (options.json) return printJson({ instances: data, crashLoops: loops });
        const listed = await withLastFailures(client, sid!, data, loops, options.old === true);
        const loopOf = new Map(loops.map((l) => [l.executorId, l]));
        const rows = listed.map((i) => {
          const loop = loopOf.get(i.executorId);
          return [
            i.instanceId, i.localInfo?.hostname ?? loop?.hostname ?? '', portsCell(i), i.state, i.errorMessage ?? '', i.created, i.updated,
            loop?.restartCount ?? '', loop?.lastFailure.reason ?? '', loop?.nextAttemptAt,
          ];
        });
        const sorted = sortRows(rows, (r) => r[options.sort], options.reverse === true);
        print(
          table(
            ['Instance ID', 'Executor Host', 'Ports', 'State', 'Error Message', 'Created', 'Last Updated', 'Restarts', 'Last Failure', 'Next Attempt'],
            sorted.map((r) => [...r.slice(0, 5), formatDate(r[5]), formatDate(r[6]), r[7], r[8], formatDate(r[9])] as string[]),
          ),
        );
      }),
    );

  cmd
    .command('info <service-id> <instance-id>')
    .description('Show details of an instance')
    .option('--json', 'print the JSON data')
    .action(
      action<{ json?: boolean }>(async ({ client, options, print, printJson }, sid, iid) => {
        const i = await client.get<LocalServiceInstanceInfo>(`${instancesPath(sid!)}/${enc(iid!)}`);
        if (options.json) return printJson(i);
        const cpu: string[] = [];
        const memory: string[] = [];
        for (const r of i.resources ?? []) {
          if (r.type === 'CPU') for (const [node, cores] of Object.entries(r.cores)) cpu.push(`NUMA Node ${node}: Cores: [${cores.join(', ')}]`);
          if (r.type === 'MEMORY') for (const [node, mb] of Object.entries(r.memoryInMB)) memory.push(`NUMA Node ${node}: ${mb}`);
        }
        const ports = Object.entries(i.localInfo?.ports ?? {}).map(
          ([name, p]) => `${name}: ${p.containerPort}->${p.hostPort} (${p.portType})`,
        );
        const metadata = Object.entries(i.metadata ?? {}).map(([k, v]) => `${k}: ${v}`);
        print(
          keyValues({
            'Instance ID': i.instanceId,
            'Service ID': i.serviceId,
            State: i.state,
            Host: i.localInfo?.hostname ?? '',
            CPU: cpu.join(', '),
            'Memory (MB)': memory.join(', '),
            Ports: ports.join(', '),
            Metadata: metadata.join(', '),
            'Error Message': i.errorMessage ?? '',
            Created: formatDate(i.created),
            'Last Updated': formatDate(i.updated),
          }),
        );
      }),
    );

  cmd
    .command('logs <service-id> <instance-id>')
    .description('List the log files of an instance')
    .option('--json', 'print the JSON data')
    .action(
      action<{ json?: boolean }>(async ({ client, options, print, printJson }, sid, iid) => {
        const data = await client.getRaw<Record<string, unknown>>(`${logsPath(sid!, iid!)}/list`);
        if (options.json) return printJson(data);
        print(keyValues(data));
      }),
    );

  cmd
    .command('tail <service-id> <instance-id>')
    .description('Follow a log file of an instance (Ctrl-C to stop)')
    .option('-l, --log <file>', 'log file name', 'output.log')
    .addOption(
      new Option('-S, --skip-chars <n>', 'start this many bytes before the end of the file').default(0).argParser(intOption('--skip-chars', 0, 1 << 30)),
    )
    .action(
      action<{ log: string; skipChars: number }>(async ({ client, options }, sid, iid) => {
        const tail = {
          base: logsPath(sid!, iid!),
          file: options.log,
          skipBytes: options.skipChars ?? 0,
          write: (text: string) => void process.stdout.write(text),
          note: (text: string) => void process.stderr.write(`${text}\n`),
        };
        await tailLog(client, tail, installInterrupt());
      }),
    );

  cmd
    .command('download <service-id> <instance-id> <file>')
    .description('Download a log file of an instance')
    .option('-o, --out <file>', 'output file (default: the log file name)')
    .action(
      action<{ out?: string }>(async ({ client, options, print }, sid, iid, file) => {
        const out = options.out ?? basename(file!);
        print(`Downloading log to: ${out}`);
        const size = await client.download(`${logsPath(sid!, iid!)}/download/${enc(file!)}`, out);
        print(`Downloaded size: ${size} bytes`);
      }),
    );

  withOpSpecOptions(cmd.command('replace <service-id> <instance-ids...>').description('Replace instances with fresh ones'))
    .option('-s, --stop', 'stop old instances before starting new ones')
    .option('-w, --wait', 'wait until the instances are replaced, showing progress')
    .action(
      action<OpSpecOptions & { stop?: boolean; wait?: boolean }>(async ({ client, options, print }, sid, ids) => {
        const instanceIds = variadic(ids!);
        const opSpec = opSpecOf(options);
        await client.post(OPERATIONS, { type: 'REPLACE_INSTANCES', serviceId: sid, instanceIds, stopFirst: options.stop === true, opSpec });
        print('Instance(s) replace command accepted.');
        if (!options.wait) return;
        await waitForInstancesGone(client, sid!, new Set(instanceIds), {
          timeoutMs: durationMs(opSpec.timeout), parallelism: opSpec.parallelism, print, what: 'old instances',
          requireHealthy: true,
        });
        print('All instances replaced');
      }),
    );

  withOpSpecOptions(cmd.command('kill <service-id> <instance-ids...>').description('Stop instances'))
    .option('-w, --wait', 'wait until the instances are stopped, showing progress')
    .action(
      action<OpSpecOptions & { wait?: boolean }>(async ({ client, options, print }, sid, ids) => {
        const instanceIds = variadic(ids!);
        const opSpec = opSpecOf(options);
        await client.post(OPERATIONS, { type: 'STOP_INSTANCES', serviceId: sid, instanceIds, opSpec });
        print('Instance(s) kill command accepted.');
        if (!options.wait) return;
        await waitForInstancesGone(client, sid!, new Set(instanceIds), {
          timeoutMs: durationMs(opSpec.timeout), parallelism: opSpec.parallelism, print, what: 'killed instances', requireHealthy: false,
        });
        print('All instances stopped');
      }),
    );

  return cmd;
}

/**
 * An executor in crash-loop backoff has no current instance while it waits: the active list gets the instance
 * that failed last there (from the old ones), so that every executor in a loop has its row.
 */
async function withLastFailures(
  client: DroveClient,
  sid: string,
  listed: LocalServiceInstanceInfo[],
  loops: CrashLoopSummary[],
  old: boolean,
): Promise<LocalServiceInstanceInfo[]> {
  const shown = new Set(listed.map((i) => i.executorId));
  const missing = loops.filter((l) => !shown.has(l.executorId));
  if (old || missing.length === 0) return listed;
  const history = await client.get<LocalServiceInstanceInfo[]>(`${instancesPath(sid)}/old`);
  const byId = new Map(history.map((i) => [i.instanceId, i]));
  return [...listed, ...missing.flatMap((l) => byId.get(l.lastFailure.instanceId) ?? [])];
}

function portsCell(i: LocalServiceInstanceInfo): string {
  return Object.entries(i.localInfo?.ports ?? {})
    .filter(([, p]) => p.hostPort !== undefined)
    .map(([name, p]) => `${name}:${p.hostPort}`)
    .join(',');
}

/** Loops that run until Ctrl-C: stop cleanly so the client can close; `signal` aborts a call in flight. */
export interface Interrupt {
  stopped: boolean;
  signal: AbortSignal;
  sleep(ms: number): Promise<void>;
}

export function installInterrupt(): Interrupt {
  const abort = new AbortController();
  const state = {
    stopped: false,
    signal: abort.signal,
    wake: undefined as (() => void) | undefined,
    sleep(ms: number) {
      return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        state.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    },
  };
  process.once('SIGINT', () => {
    state.stopped = true;
    abort.abort();
    state.wake?.();
  });
  return state;
}
