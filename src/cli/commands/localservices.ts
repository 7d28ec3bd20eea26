import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { durationMs, parseDuration, type LocalServiceInstanceInfo, type LocalServiceSummary } from '../../model/index.js';
import { formatDate, keyValues, sortRows, table } from '../format.js';
import { action, CommandFailure, intOption } from '../runtime.js';
import { waitForInstancesGone } from '../wait.js';

/** `drove localservices ...` (docs/design/cli.md). */

const OPERATIONS = '/apis/v1/localservices/operations';
const path = (id: string) => `/apis/v1/localservices/${encodeURIComponent(id)}`;

type JsonOpt = { json?: boolean };

export function localServicesCommand(): Command {
  const cmd = new Command('localservices').description('Drove local service related commands');

  cmd
    .command('list')
    .description('List all local services')
    .addOption(new Option('-s, --sort <column>', 'sort by column 0..9').default(0).argParser(intOption('--sort', 0, 9)))
    .option('-r, --reverse', 'reverse the sort order')
    .option('--json', 'print the JSON data')
    .action(
      action<{ sort: number; reverse?: boolean } & JsonOpt>(async ({ client, options, print, printJson }) => {
        const data = await client.get<Record<string, LocalServiceSummary>>('/apis/v1/localservices');
        if (options.json) return printJson(data);
        const rows = Object.entries(data).map(([id, s]) => [
          id, s.name, s.state ?? '', s.activationState, s.totalCPUs, s.totalMemory, s.instancesPerHost, s.healthyInstances, s.created, s.updated,
        ]);
        const sorted = sortRows(rows, (r) => r[options.sort], options.reverse === true);
        print(
          table(
            ['Id', 'Name', 'State', 'Activation State', 'Total CPU', 'Total Memory(MB)', 'Instances Per Host', 'Healthy Instances', 'Created', 'Updated'],
            sorted.map((r) => [...r.slice(0, 8), formatDate(r[8]), formatDate(r[9])] as (string | number)[]),
          ),
        );
      }),
    );

  cmd
    .command('summary <service-id>')
    .description('Show a summary of a local service')
    .option('--json', 'print the JSON data')
    .action(
      action<JsonOpt>(async ({ client, options, print, printJson }, serviceId) => {
        const data = await client.get<Record<string, unknown>>(path(serviceId!));
        if (options.json) return printJson(data);
        print(keyValues(data));
      }),
    );

  cmd
    .command('spec <service-id>')
    .description('Print the spec of a local service (secrets masked)')
    .action(
      action(async ({ client, printJson }, serviceId) => {
        printJson(await client.get(`${path(serviceId!)}/spec`));
      }),
    );

  cmd
    .command('create <spec-file>')
    .description('Create a local service from a JSON (or YAML) spec file; it starts INACTIVE: activate it next')
    .addOption(new Option('-i, --instances <count>', 'instances per host').default(1).argParser(intOption('--instances', 1, 256)))
    .action(
      action<{ instances: number }>(async ({ client, options, print }, file) => {
        const spec = readSpecFile(file!);
        const data = await client.post<{ serviceId: string }>(OPERATIONS, { type: 'CREATE', spec, instancesPerHost: options.instances });
        print(`Local service created with service id: ${data.serviceId}`);
      }),
    );

  const simple = (name: string, type: string, description: string, message: string) =>
    cmd
      .command(`${name} <service-id>`)
      .description(description)
      .action(
        action(async ({ client, print }, serviceId) => {
          await client.post(OPERATIONS, { type, serviceId });
          print(message);
        }),
      );
  simple('destroy', 'DESTROY', 'Destroy an inactive local service', 'Local service destroyed');
  simple('activate', 'ACTIVATE', 'Activate a local service: instances start on every executor', 'Local service activated');
  simple('deactivate', 'DEACTIVATE', 'Deactivate a local service: all its instances stop', 'Local service deactivated');
  simple(
    'conftest',
    'DEPLOY_TEST_INSTANCE',
    'Deploy a single config-test instance of an inactive local service',
    'Local service config test instance requested',
  );

  cmd
    .command('update <service-id> <count>')
    .description('Update the number of instances per host (1..256)')
    .action(
      action(async ({ client, print }, serviceId, count) => {
        const n = intOption('count', 1, 256)(count!);
        await client.post(OPERATIONS, { type: 'UPDATE_INSTANCE_COUNT', serviceId, instancesPerHost: n });
        print('Local service instance count updated');
      }),
    );

  withOpSpecOptions(cmd.command('restart <service-id>').description('Restart all instances of a local service'))
    .option('-s, --stop', 'stop old instances before starting new ones')
    .option('-w, --wait', 'wait until every old instance is replaced, showing progress')
    .action(
      action<OpSpecOptions & { stop?: boolean; wait?: boolean }>(async ({ client, options, print }, serviceId) => {
        const opSpec = opSpecOf(options);
        const before = options.wait ? await healthyIds(client, serviceId!) : new Set<string>();
        // Drove reads RESTART's op spec from `clusterOpSpec`; drove-ts reads both. Send both so either server obeys.
        await client.post(OPERATIONS, { type: 'RESTART', serviceId, stopFirst: options.stop === true, opSpec, clusterOpSpec: opSpec });
        print('Local service restart command accepted.');
        if (!options.wait) return;
        await waitForInstancesGone(client, serviceId!, before, {
          timeoutMs: durationMs(opSpec.timeout),
          parallelism: opSpec.parallelism,
          print,
          what: 'old instances',
          requireHealthy: true,
        });
        print('All instances replaced');
      }),
    );

  cmd
    .command('cancelop <service-id>')
    .description('Cancel the operation running on a local service')
    .action(
      action(async ({ client, print }, serviceId) => {
        const data = await client.post<{ message?: string }>(`${OPERATIONS}/${encodeURIComponent(serviceId!)}/cancel`);
        print(`Operation cancellation request registered :${data.message ?? 'success'}`);
      }),
    );

  return cmd;
}

export type OpSpecOptions = { parallelism: number; timeout: string };

export function withOpSpecOptions(command: Command): Command {
  return command
    .addOption(new Option('-p, --parallelism <n>', 'instances handled in parallel').default(1).argParser(intOption('--parallelism', 1, 512)))
    .addOption(
      new Option('-t, --timeout <duration>', 'timeout of each instance job, e.g. 5m, 300 seconds').default('5m').argParser((v) => {
        if (!parseDuration(v)) throw new InvalidArgumentError(`--timeout must be a duration such as 5m or "300 seconds", got "${v}"`);
        return v;
      }),
    );
}

export function opSpecOf(options: OpSpecOptions) {
  return { timeout: options.timeout, parallelism: options.parallelism, failureStrategy: 'STOP' };
}

export async function healthyIds(client: import('../client.js').DroveClient, serviceId: string): Promise<Set<string>> {
  const instances = await client.get<LocalServiceInstanceInfo[]>(`${path(serviceId)}/instances`);
  return new Set(instances.filter((i) => i.state === 'HEALTHY').map((i) => i.instanceId));
}

function readSpecFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CommandFailure(`Cannot read spec file ${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (jsonError) {
    if (/\.ya?ml$/i.test(file)) {
      try {
        return parseYaml(text);
      } catch (yamlError) {
        throw new CommandFailure(`Spec file ${file} is not valid YAML: ${(yamlError as Error).message}`);
      }
    }
    throw new CommandFailure(`Spec file ${file} is not valid JSON: ${(jsonError as Error).message}`);
  }
}
