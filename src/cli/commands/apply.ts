import { Command, Option } from 'commander';
import { serviceIdOf, type LocalServiceSummary } from '../../model/index.js';
import { SpecDiffers, UsageError } from '../exit-codes.js';
import { action, intOption } from '../runtime.js';
import { colorDiff, specDiff } from '../spec-diff.js';
import { isNotFound } from '../wait/watch.js';
import { readSpecFile } from '../spec-file.js';
import { OPERATIONS } from './op-spec.js';
import { runOperation, withWaitOptions, type WaitFlags } from './wait-options.js';

/**
 * `drove localservices apply <spec-file>`: creates the service when its id (`name-version`) is unknown, and is
 * a no-op when the stored spec is the file's. When they differ it shows the difference and what to do instead:
 * Drove has no spec update, a changed spec is a new version and so a new service id (docs/cli.md#apply).
 */
export function applyCommand(): Command {
  return withWaitOptions(
    new Command('apply')
      .argument('<spec-file>')
      .description('Create a local service from a spec file unless it exists; if it exists with another spec, show the difference')
      .addOption(new Option('-i, --instances <count>', 'instances per host when creating').default(1).argParser(intOption('--instances', 1, 256))),
    'the service is stored',
  ).action(
    action<{ instances: number } & WaitFlags>(async (ctx, file) => {
      const { client, options, print, terminal } = ctx;
      const spec = readSpecFile(file!);
      const serviceId = serviceIdOf(spec as { name?: string; version?: string });
      if (!serviceId) throw new UsageError(`Spec file ${file} needs "name" and "version": the service id is <name>-<version>`);
      const base = `/apis/v1/localservices/${encodeURIComponent(serviceId)}`;
      let stored: unknown;
      try {
        stored = await client.get(`${base}/spec`);
      } catch (error) {
        if (!isNotFound(error)) throw error;
        return runOperation(ctx, {
          serviceId,
          operation: 'apply',
          goal: () => ({ kind: 'created' }),
          submit: async () => {
            const data = await client.post<{ serviceId: string }>(OPERATIONS, { type: 'CREATE', spec, instancesPerHost: options.instances });
            print(`Local service created with service id: ${data.serviceId}`);
          },
        });
      }
      const diff = specDiff(stored, spec, { stored: `${serviceId} (stored)`, file: file! });
      if (diff === undefined) {
        print(`Local service ${serviceId} is unchanged`);
        const summary = await client.get<LocalServiceSummary>(base);
        const asked = ctx.optionSource('instances') === 'cli';
        if (asked && summary.instancesPerHost !== options.instances) {
          print(`It runs ${summary.instancesPerHost} instance(s) per host; for ${options.instances}: drove localservices update ${serviceId} ${options.instances}`);
        }
        return;
      }
      print(terminal.isTTY ? colorDiff(diff, terminal.colors) : diff);
      print(guidance(serviceId, file!, spec as { name: string; version: string }));
      throw new SpecDiffers(`Local service ${serviceId} exists with a different spec; nothing was changed`);
    }),
  );
}

function guidance(serviceId: string, file: string, spec: { name: string; version: string }): string {
  const next = /^\d+$/.test(String(spec.version)) ? String(Number(spec.version) + 1) : `${String(spec.version)}-2`;
  const nextId = serviceIdOf({ name: spec.name, version: next });
  return [
    '',
    `Drove does not change the spec of an existing service: a new version is a new service (id <name>-<version>).`,
    'To roll the change out:',
    `  1. set "version" in ${file} to a new value, e.g. "${next}" (service id ${nextId})`,
    `  2. drove localservices apply ${file} && drove localservices activate ${nextId} --wait`,
    `  3. drove localservices deactivate ${serviceId} --wait && drove localservices destroy ${serviceId}`,
  ].join('\n');
}
