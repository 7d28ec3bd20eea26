import { existsSync, readFileSync } from 'node:fs';
import { Command } from 'commander';
import {
  defaultConfigPath,
  escapeConfigValue,
  readConfigFile,
  writeConfigFile,
  type ConfigFileData,
  type GlobalOptions,
} from '../config.js';
import { UsageError } from '../exit-codes.js';
import { withOutputOption, type OutputOptions } from '../output.js';
import { localAction } from '../runtime.js';

/**
 * `drove config ...`: the Python CLI's cluster management over ~/.drove (kubectl's contexts): get-clusters,
 * current-cluster, use-cluster, view, init, add-cluster, delete-cluster, with its names, options and file
 * layout. `-f` names another file, as it does for every other command. Mistakes exit 2 instead of printing an
 * error and exiting 0.
 */

type ClusterFlags = { endpoint: string; username?: string; password?: string; authHeader?: string; insecure?: boolean };

interface ClusterEntry {
  name: string;
  endpoint: string;
  hasAuth: boolean;
  insecure: boolean;
}

export function configCommand(): Command {
  const cmd = new Command('config').description('Manage drove cluster configurations (~/.drove)');

  withOutputOption(cmd.command('get-clusters').description('List all configured clusters')).action(
    localAction<OutputOptions & GlobalOptions>(async ({ options, print, emit, format }) => {
      const data = readConfigFile(pathOf(options)) ?? {};
      const clusters = clustersOf(data);
      const current = data.DEFAULT?.current_cluster;
      if (clusters.length === 0 && (format === 'text' || format === 'wide')) {
        print("No clusters configured. Run 'drove config init' to set up.");
        return;
      }
      emit({ current: current ?? null, clusters }, () => {
        // The Python CLI's fixed-width layout.
        const lines = [`${'CURRENT'.padEnd(10)} ${'NAME'.padEnd(20)} ${'ENDPOINT'.padEnd(50)} ${'AUTH'.padEnd(6)} ${'INSECURE'.padEnd(8)}`, '-'.repeat(95)];
        for (const c of clusters) {
          const marker = c.name === current ? '*' : '';
          lines.push(`${marker.padEnd(10)} ${c.name.padEnd(20)} ${c.endpoint.padEnd(50)} ${(c.hasAuth ? 'yes' : 'no').padEnd(6)} ${(c.insecure ? 'yes' : 'no').padEnd(8)}`);
        }
        if (current) lines.push('', `Current cluster: ${current}`);
        return lines.join('\n');
      });
    }),
  );

  cmd
    .command('current-cluster')
    .description('Show the current default cluster')
    .action(
      localAction<GlobalOptions>(async ({ options, print }) => {
        const current = readConfigFile(pathOf(options))?.DEFAULT?.current_cluster;
        if (!current) throw new UsageError("No current cluster set. Use 'drove config use-cluster <name>' to set one.");
        print(current);
      }),
    );

  cmd
    .command('use-cluster')
    .argument('<cluster-name>', 'cluster to use by default')
    .description('Set the default cluster')
    .action(
      localAction<GlobalOptions>(async ({ options, print }, name) => {
        const path = pathOf(options);
        const data = readConfigFile(path) ?? {};
        const known = clustersOf(data).map((c) => c.name);
        if (!known.includes(name!)) {
          throw new UsageError(`cluster '${name}' not found in config; available clusters: ${known.join(', ') || 'none'}`);
        }
        writeConfigFile(path, { ...data, DEFAULT: { ...data.DEFAULT, current_cluster: escapeConfigValue(name!) } });
        print(`Switched to cluster "${name}".`);
      }),
    );

  cmd
    .command('view')
    .description('Display the configuration file (passwords and auth headers masked)')
    .option('-r, --raw', 'show the file as it is, secrets included')
    .action(
      localAction<{ raw?: boolean } & GlobalOptions>(async ({ options, print }) => {
        const path = pathOf(options);
        if (!existsSync(path)) throw new UsageError(`Config file not found: ${path}. Run 'drove config init' to create one.`);
        if (options.raw) return print(readFileSync(path, 'utf8').trimEnd());
        const data = readConfigFile(path) ?? {};
        const current = data.DEFAULT?.current_cluster;
        const lines = [`Config file: ${path}`, `Current cluster: ${current ?? '(not set)'}`, ''];
        for (const [name, section] of Object.entries(data)) {
          const values = name === 'DEFAULT' ? section : { ...section };
          if (!values.endpoint) continue;
          lines.push(`[${name}]${name === current ? ' (current)' : ''}`);
          // Fully masked: the Python CLI shows the first and last four characters, too much of a short secret.
          for (const [key, value] of Object.entries(values)) lines.push(`  ${key} = ${['password', 'auth_header'].includes(key) && value ? '****' : value}`);
          lines.push('');
        }
        print(lines.join('\n').trimEnd());
      }),
    );

  withClusterFlags(
    cmd.command('init').description('Create ~/.drove with one cluster and make it the current one').option('-n, --name <name>', 'cluster name', 'default'),
  ).action(
    localAction<ClusterFlags & { name: string } & GlobalOptions>(async ({ options, print }) => {
      const path = pathOf(options);
      if (existsSync(path)) throw new UsageError(`Config file already exists: ${path}. Use 'drove config add-cluster' to add more clusters.`);
      // As in the Python CLI, the name "default" puts the cluster in [DEFAULT].
      const section = options.name === 'default' ? 'DEFAULT' : options.name;
      const data: ConfigFileData = { DEFAULT: {} };
      data[section] = { ...data[section], ...sectionOf(options) };
      data.DEFAULT = { ...data.DEFAULT, current_cluster: escapeConfigValue(section) };
      writeConfigFile(path, data);
      print(`Config initialized at: ${path}`);
      print(`Current cluster set to: ${section}`);
    }),
  );

  withClusterFlags(cmd.command('add-cluster').argument('<cluster-name>', 'name for this cluster').description('Add a cluster to the config file')).action(
    localAction<ClusterFlags & GlobalOptions>(async ({ options, print }, name) => {
      const path = pathOf(options);
      const data = readConfigFile(path) ?? {};
      if (name === 'DEFAULT' || data[name!]) throw new UsageError(`cluster '${name}' already exists`);
      writeConfigFile(path, { ...data, [name!]: sectionOf(options) });
      print(`Cluster '${name}' added to ${path}`);
    }),
  );

  cmd
    .command('delete-cluster')
    .argument('<cluster-name>', 'cluster to remove')
    .description('Remove a cluster from the config file')
    .action(
      localAction<GlobalOptions>(async ({ options, print }, name) => {
        const path = pathOf(options);
        const data = readConfigFile(path) ?? {};
        if (name === 'DEFAULT' || !data[name!]) throw new UsageError(`cluster '${name}' not found`);
        const rest = Object.fromEntries(Object.entries(data).filter(([n]) => n !== name));
        const wasCurrent = rest.DEFAULT?.current_cluster === name;
        if (wasCurrent) {
          const { current_cluster: _dropped, ...defaults } = rest.DEFAULT!;
          rest.DEFAULT = defaults;
        }
        writeConfigFile(path, rest);
        print(wasCurrent ? `Cluster '${name}' deleted and was current cluster (now unset)` : `Cluster '${name}' deleted from ${path}`);
      }),
    );

  return cmd;
}

function withClusterFlags(command: Command): Command {
  return command
    .requiredOption('-e, --endpoint <url>', 'controller endpoint, e.g. http://localhost:10000')
    .option('-u, --username <username>', 'username for basic authentication')
    .option('-p, --password <password>', 'password (left out: DROVE_PASSWORD or a prompt supplies it when needed)')
    .option('-t, --auth-header <value>', 'Authorization header value')
    .option('-i, --insecure', 'do not verify the TLS certificate of the endpoint');
}

function sectionOf(options: ClusterFlags): Record<string, string> {
  if (!/^https?:\/\/[^/]+/i.test(options.endpoint)) throw new UsageError(`Endpoint "${options.endpoint}" must be an http:// or https:// URL`);
  const section: Record<string, string> = { endpoint: escapeConfigValue(options.endpoint) };
  if (options.username) section.username = escapeConfigValue(options.username);
  if (options.password) section.password = escapeConfigValue(options.password);
  if (options.authHeader) section.auth_header = escapeConfigValue(options.authHeader);
  if (options.insecure) section.insecure = 'true';
  return section;
}

/** Sections with an endpoint, DEFAULT first when it has one (the Python CLI's list). */
export function clustersOf(data: ConfigFileData): ClusterEntry[] {
  const entry = (name: string, s: Record<string, string>): ClusterEntry => ({
    name,
    endpoint: s.endpoint!,
    hasAuth: Boolean(s.username || s.auth_header),
    insecure: String(s.insecure ?? 'false').toLowerCase() === 'true',
  });
  const defaults = data.DEFAULT ?? {};
  const clusters = Object.entries(data)
    .filter(([name, s]) => name !== 'DEFAULT' && ({ ...defaults, ...s }).endpoint)
    .map(([name, s]) => entry(name, { ...defaults, ...s }));
  if (defaults.endpoint) clusters.unshift(entry('DEFAULT', defaults));
  return clusters;
}

function pathOf(options: GlobalOptions): string {
  return options.file ?? defaultConfigPath();
}
