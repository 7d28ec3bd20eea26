import { Command, Option } from 'commander';
import { basename } from 'node:path';
import type { CrashLoopSummary, LocalServiceInstanceInfo, LocalServiceSummary } from '../../model/index.js';
import type { DroveClient } from '../client.js';
import { formatDate, keyValues, sortRows, table } from '../format.js';
import { withOutputOption, type OutputOptions } from '../output.js';
import { action, intOption, variadic } from '../runtime.js';
import { tailLog } from '../log-tail.js';
import { colorState } from '../terminal.js';
import { OPERATIONS, opSpecDeadline, opSpecOf, withOpSpecOptions, type OpSpecOptions } from './op-spec.js';
import { runOperation, withWaitOptions, type WaitFlags } from './wait-options.js';

/** `drove lsinstances ...` (docs/design/cli.md). */

const enc = encodeURIComponent;
const instancesPath = (sid: string) => `/apis/v1/localservices/${enc(sid)}/instances`;
const logsPath = (sid: string, iid: string) => `/apis/v1/logfiles/localservices/${enc(sid)}/${enc(iid)}`;

export function lsInstancesCommand(): Command {
  const cmd = new Command('lsinstances').description('Drove local service instance related commands');

  const LIST_HEADERS = ['Instance ID', 'Executor Host', 'Ports', 'State', 'Error Message', 'Created', 'Last Updated'];
  const WIDE_HEADERS = [...LIST_HEADERS, 'Executor ID', 'CPU Cores', 'Memory (MB)', 'Container Ports', 'Restarts', 'Last Failure', 'Next Attempt'];
  // `-o` is `--old` here, as in Drove's Python CLI: the format is `--output` only.
  withOutputOption(
    cmd
      .command('list <service-id>')
      .description('List instances of a local service (active ones, or old ones with --old)')
      .option('-o, --old', 'list old (stopped, failed, lost) instances')
      .option(
        '-w, --wide',
        'the wide view, as --output wide (crash-loop backoff columns, and the last failed instance of each executor in backoff); with --json or --output json|yaml: {instances, crashLoops}',
      )
      .addOption(new Option('-s, --sort <column>', 'sort by column 0..6').default(0).argParser(intOption('--sort', 0, 6)))
      .option('-r, --reverse', 'reverse the sort order')
      .option('--json', 'print the JSON data'),
    { short: false },
  ).action(
    action<{ old?: boolean; wide?: boolean; sort: number; reverse?: boolean } & OutputOptions>(async ({ client, options, emit, terminal }, sid) => {
      const data = await client.get<LocalServiceInstanceInfo[]>(`${instancesPath(sid!)}${options.old ? '/old' : ''}`);
      // Crash loops are in the summary, read for the wide view only (docs/design/crash-loop-backoff.md#what-operators-see).
      const wideView = options.wide === true || options.output === 'wide';
      const loops = wideView ? ((await client.get<LocalServiceSummary>(`/apis/v1/localservices/${enc(sid!)}`)).crashLoops ?? []) : [];
      const listed = wideView ? await withLastFailures(client, sid!, data, loops, options.old === true) : data;
      const loopOf = new Map(loops.map((l) => [l.executorId, l]));
      const rows = listed.map((i) => {
        const loop = loopOf.get(i.executorId);
        return {
          instance: i,
          loop,
          cells: [i.instanceId, i.localInfo?.hostname ?? loop?.hostname ?? '', portsCell(i), i.state, i.errorMessage ?? '', i.created, i.updated],
        };
      });
      const sorted = sortRows(rows, (r) => r.cells[options.sort], options.reverse === true);
      const cells = (r: (typeof rows)[number]) => [...r.cells.slice(0, 5), formatDate(r.cells[5]), formatDate(r.cells[6])] as string[];
      const style = (text: string, column: number) => (column === 3 ? colorState(terminal.colors, text) : text);
      const narrow = () => table(LIST_HEADERS, sorted.map(cells), { style });
      const wide = () =>
        table(
          WIDE_HEADERS,
          sorted.map((r) => [
            ...cells(r),
            r.instance.executorId,
            cpuCount(r.instance),
            memoryMb(r.instance),
            containerPorts(r.instance),
            r.loop?.restartCount ?? '',
            r.loop?.lastFailure.reason ?? '',
            formatDate(r.loop?.nextAttemptAt),
          ]),
          { style },
        );
      // --wide alone means --output wide; with a data format it adds the crash loops to the instances.
      emit(options.wide ? { instances: data, crashLoops: loops } : data, options.wide ? wide : narrow, wide);
    }),
  );

  withOutputOption(cmd.command('info <service-id> <instance-id>').description('Show details of an instance').option('--json', 'print the JSON data'))
    .action(
      action<OutputOptions>(async ({ client, emit }, sid, iid) => {
        const i = await client.get<LocalServiceInstanceInfo>(`${instancesPath(sid!)}/${enc(iid!)}`);
        emit(i, () => instanceText(i));
      }),
    );

  withOutputOption(cmd.command('logs <service-id> <instance-id>').description('List the log files of an instance').option('--json', 'print the JSON data'))
    .action(
      action<OutputOptions>(async ({ client, emit }, sid, iid) => {
        const data = await client.getRaw<Record<string, unknown>>(`${logsPath(sid!, iid!)}/list`);
        emit(data, () => keyValues(data));
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

  withWaitOptions(
    withOpSpecOptions(cmd.command('replace <service-id> <instance-ids...>').description('Replace instances with fresh ones')).option(
      '-s, --stop',
      'stop old instances before starting new ones',
    ),
    'the instances are replaced by healthy ones',
    { timeout: false },
  ).action(
    action<OpSpecOptions & WaitFlags & { stop?: boolean }>(async (ctx, sid, ids) => {
      const instanceIds = variadic(ids!);
      const opSpec = opSpecOf(ctx.options);
      await runOperation(ctx, {
        serviceId: sid!,
        operation: 'replace',
        goal: () => ({ kind: 'replaced', targets: new Set(instanceIds) }),
        submit: async () => {
          await ctx.client.post(OPERATIONS, { type: 'REPLACE_INSTANCES', serviceId: sid, instanceIds, stopFirst: ctx.options.stop === true, opSpec });
          ctx.print('Instance(s) replace command accepted.');
        },
        timeoutMs: opSpecDeadline(opSpec),
        done: () => 'All instances replaced',
      });
    }),
  );

  withWaitOptions(withOpSpecOptions(cmd.command('kill <service-id> <instance-ids...>').description('Stop instances')), 'the instances are stopped', {
    timeout: false,
  }).action(
    action<OpSpecOptions & WaitFlags>(async (ctx, sid, ids) => {
      const instanceIds = variadic(ids!);
      const opSpec = opSpecOf(ctx.options);
      await runOperation(ctx, {
        serviceId: sid!,
        operation: 'kill',
        goal: () => ({ kind: 'stopped', targets: new Set(instanceIds) }),
        submit: async () => {
          await ctx.client.post(OPERATIONS, { type: 'STOP_INSTANCES', serviceId: sid, instanceIds, opSpec });
          ctx.print('Instance(s) kill command accepted.');
        },
        timeoutMs: opSpecDeadline(opSpec),
        done: () => 'All instances stopped',
      });
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

function instanceText(i: LocalServiceInstanceInfo): string {
  const cpu: string[] = [];
  const memory: string[] = [];
  for (const r of i.resources ?? []) {
    if (r.type === 'CPU') for (const [node, cores] of Object.entries(r.cores)) cpu.push(`NUMA Node ${node}: Cores: [${cores.join(', ')}]`);
    if (r.type === 'MEMORY') for (const [node, mb] of Object.entries(r.memoryInMB)) memory.push(`NUMA Node ${node}: ${mb}`);
  }
  const ports = Object.entries(i.localInfo?.ports ?? {}).map(([name, p]) => `${name}: ${p.containerPort}->${p.hostPort} (${p.portType})`);
  const metadata = Object.entries(i.metadata ?? {}).map(([k, v]) => `${k}: ${v}`);
  return keyValues({
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
  });
}

function cpuCount(i: LocalServiceInstanceInfo): number {
  return (i.resources ?? []).reduce((n, r) => n + (r.type === 'CPU' ? Object.values(r.cores).reduce((m, ids) => m + ids.length, 0) : 0), 0);
}

function memoryMb(i: LocalServiceInstanceInfo): number {
  return (i.resources ?? []).reduce((n, r) => n + (r.type === 'MEMORY' ? Object.values(r.memoryInMB).reduce((m, mb) => m + mb, 0) : 0), 0);
}

function containerPorts(i: LocalServiceInstanceInfo): string {
  return Object.entries(i.localInfo?.ports ?? {})
    .map(([name, p]) => `${name}:${p.containerPort}/${p.portType.toLowerCase()}`)
    .join(',');
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
