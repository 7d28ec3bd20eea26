import { Command, Option } from 'commander';
import { serviceIdOf, type LocalServiceSummary } from '../../model/index.js';
import { formatDate, keyValues, sortRows, table } from '../format.js';
import { withOutputOption, type OutputOptions } from '../output.js';
import { action, intOption } from '../runtime.js';
import { readSpecFile } from '../spec-file.js';
import { colorState } from '../terminal.js';
import { formatElapsed } from '../wait/display.js';
import { applyCommand } from './apply.js';
import { OPERATIONS, opSpecDeadline, opSpecOf, withOpSpecOptions, type OpSpecOptions } from './op-spec.js';
import { healthyOf, runOperation, withWaitOptions, type WaitFlags } from './wait-options.js';

/** `drove localservices ...` (docs/design/cli.md). */

const path = (id: string) => `/apis/v1/localservices/${encodeURIComponent(id)}`;

const LIST_HEADERS = ['Id', 'Name', 'State', 'Activation State', 'Total CPU', 'Total Memory(MB)', 'Instances Per Host', 'Healthy Instances', 'Created', 'Updated'];

export function localServicesCommand(): Command {
  const cmd = new Command('localservices').description('Drove local service related commands');

  withOutputOption(
    cmd
      .command('list')
      .description('List all local services')
      .addOption(new Option('-s, --sort <column>', 'sort by column 0..9').default(0).argParser(intOption('--sort', 0, 9)))
      .option('-r, --reverse', 'reverse the sort order')
      .option('--json', 'print the JSON data'),
  ).action(
    action<{ sort: number; reverse?: boolean } & OutputOptions>(async ({ client, options, emit, terminal }) => {
      const data = await client.get<Record<string, LocalServiceSummary>>('/apis/v1/localservices');
      const rows = Object.entries(data).map(([id, s]) => ({
        cells: [id, s.name, s.state ?? '', s.activationState, s.totalCPUs, s.totalMemory, s.instancesPerHost, s.healthyInstances, s.created, s.updated],
        tags: Object.entries(s.tags ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
      }));
      const sorted = sortRows(rows, (r) => r.cells[options.sort], options.reverse === true);
      const cells = (r: (typeof rows)[number]) => [...r.cells.slice(0, 8), formatDate(r.cells[8]), formatDate(r.cells[9])] as (string | number)[];
      const style = (text: string, column: number) => (column === 2 || column === 3 ? colorState(terminal.colors, text) : text);
      emit(
        data,
        () => table(LIST_HEADERS, sorted.map(cells), { style }),
        () => table([...LIST_HEADERS, 'Tags'], sorted.map((r) => [...cells(r), r.tags]), { style }),
      );
    }),
  );

  withOutputOption(cmd.command('summary <service-id>').description('Show a summary of a local service').option('--json', 'print the JSON data')).action(
    action<OutputOptions>(async ({ client, emit }, serviceId) => {
      const data = await client.get<Record<string, unknown>>(path(serviceId!));
      emit(data, () => keyValues(data));
    }),
  );

  withOutputOption(cmd.command('spec <service-id>').description('Print the spec of a local service (secrets masked)')).action(
    action<OutputOptions>(async ({ client, emit }, serviceId) => {
      const data = await client.get(`${path(serviceId!)}/spec`);
      emit(data, () => JSON.stringify(data, null, 4));
    }),
  );

  withWaitOptions(
    cmd
      .command('create <spec-file>')
      .description('Create a local service from a JSON (or YAML) spec file; it starts INACTIVE: activate it next')
      .addOption(new Option('-i, --instances <count>', 'instances per host').default(1).argParser(intOption('--instances', 1, 256))),
    'the service is stored',
  ).action(
    action<{ instances: number } & WaitFlags>(async (ctx, file) => {
      const spec = readSpecFile(file!);
      await runOperation(ctx, {
        serviceId: serviceIdOf(spec as { name?: string; version?: string }),
        operation: 'create',
        goal: () => ({ kind: 'created' }),
        submit: async () => {
          const data = await ctx.client.post<{ serviceId: string }>(OPERATIONS, { type: 'CREATE', spec, instancesPerHost: ctx.options.instances });
          ctx.print(`Local service created with service id: ${data.serviceId}`);
        },
      });
    }),
  );

  cmd.addCommand(applyCommand());

  const simple = (name: string, type: string, description: string, message: string, until: string, goal: Parameters<typeof runOperation>[1]['goal']) =>
    withWaitOptions(cmd.command(`${name} <service-id>`).description(description), until).action(
      action<WaitFlags>(async (ctx, serviceId) => {
        await runOperation(ctx, {
          serviceId: serviceId!,
          operation: name,
          goal,
          submit: async () => {
            await ctx.client.post(OPERATIONS, { type, serviceId });
            ctx.print(message);
          },
          done: name === 'destroy' ? (r) => `Local service ${serviceId} is gone (took ${formatElapsed(r.elapsedMs)})` : undefined,
        });
      }),
    );
  simple('destroy', 'DESTROY', 'Destroy an inactive local service', 'Local service destroyed', 'the service is gone', () => ({ kind: 'destroyed' }));
  simple('activate', 'ACTIVATE', 'Activate a local service: instances start on every executor', 'Local service activated',
    'every instance is healthy on every executor', () => ({ kind: 'running', activation: 'ACTIVE' }));
  simple('deactivate', 'DEACTIVATE', 'Deactivate a local service: all its instances stop', 'Local service deactivated',
    'every instance has stopped', () => ({ kind: 'inactive' }));
  simple('conftest', 'DEPLOY_TEST_INSTANCE', 'Deploy a single config-test instance of an inactive local service',
    'Local service config test instance requested', 'the test instance is healthy', () => ({ kind: 'running', activation: 'CONFIG_TESTING' }));

  withWaitOptions(cmd.command('update <service-id> <count>').description('Update the number of instances per host (1..256)'),
    'every executor runs the new number of healthy instances').action(
    action<WaitFlags>(async (ctx, serviceId, count) => {
      const n = intOption('count', 1, 256)(count!);
      await runOperation(ctx, {
        serviceId: serviceId!,
        operation: 'update',
        goal: () => ({ kind: 'count', instancesPerHost: n }),
        submit: async () => {
          await ctx.client.post(OPERATIONS, { type: 'UPDATE_INSTANCE_COUNT', serviceId, instancesPerHost: n });
          ctx.print('Local service instance count updated');
        },
      });
    }),
  );

  withWaitOptions(
    withOpSpecOptions(cmd.command('restart <service-id>').description('Restart all instances of a local service')).option(
      '-s, --stop',
      'stop old instances before starting new ones',
    ),
    'every old instance is replaced by a healthy one',
    { timeout: false },
  ).action(
    action<OpSpecOptions & WaitFlags & { stop?: boolean }>(async (ctx, serviceId) => {
      const opSpec = opSpecOf(ctx.options);
      await runOperation(ctx, {
        serviceId: serviceId!,
        operation: 'restart',
        goal: (before) => ({ kind: 'replaced', targets: healthyOf(before) }),
        // Drove reads RESTART's op spec from `clusterOpSpec`; drove-ts reads both. Send both so either server obeys.
        submit: async () => {
          await ctx.client.post(OPERATIONS, { type: 'RESTART', serviceId, stopFirst: ctx.options.stop === true, opSpec, clusterOpSpec: opSpec });
          ctx.print('Local service restart command accepted.');
        },
        timeoutMs: opSpecDeadline(opSpec),
        done: () => 'All instances replaced',
      });
    }),
  );

  withWaitOptions(cmd.command('cancelop <service-id>').description('Cancel the operation running on a local service'),
    'the service is at rest again').action(
    action<WaitFlags>(async (ctx, serviceId) => {
      await runOperation(ctx, {
        serviceId: serviceId!,
        operation: 'cancelop',
        goal: () => ({ kind: 'settled' }),
        submit: async () => {
          const data = await ctx.client.post<{ message?: string }>(`${OPERATIONS}/${encodeURIComponent(serviceId!)}/cancel`);
          ctx.print(`Operation cancellation request registered :${data.message ?? 'success'}`);
        },
      });
    }),
  );

  return cmd;
}

