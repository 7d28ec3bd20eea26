import { Command } from 'commander';
import { placementConstraintText, type LocalServiceInstanceInfo, type LocalServiceSpec, type LocalServiceSummary } from '../../model/index.js';
import { formatDate, stateMarker, thousands } from '../format.js';
import { withOutputOption, type OutputOptions } from '../output.js';
import { action } from '../runtime.js';

/** `drove describe localservice|lsinstance`, reading the summary's real keys (docs/design/cli.md#where-it-differs). */
export function describeCommand(): Command {
  const cmd = new Command('describe').description('Show detailed information about a resource');

  withOutputOption(
    cmd
      .command('localservice <service-id>')
      .description('Describe a local service: summary, spec and instances')
      .option('-j, --json', 'print {summary, spec, instances} as JSON'),
  )
    .action(
      action<OutputOptions>(async ({ client, emit }, serviceId) => {
        const base = `/apis/v1/localservices/${encodeURIComponent(serviceId!)}`;
        const summary = await client.get<LocalServiceSummary>(base);
        const spec = await client.get<LocalServiceSpec>(`${base}/spec`);
        const instances = await client.get<LocalServiceInstanceInfo[]>(`${base}/instances`);
        emit({ summary, spec, instances }, () => describeService(summary, spec, instances));
      }),
    );

  withOutputOption(
    cmd.command('lsinstance <service-id> <instance-id>').description('Describe a local service instance').option('-j, --json', 'print the instance JSON'),
  )
    .action(
      action<OutputOptions>(async ({ client, emit }, sid, iid) => {
        const i = await client.get<LocalServiceInstanceInfo>(
          `/apis/v1/localservices/${encodeURIComponent(sid!)}/instances/${encodeURIComponent(iid!)}`,
        );
        emit(i, () => describeInstance(i));
      }),
    );

  return cmd;
}

function describeService(summary: LocalServiceSummary, spec: LocalServiceSpec, instances: LocalServiceInstanceInfo[]): string {
  const cpu = spec.resources.filter((r) => r.type === 'CPU').reduce((n, r) => n + (r.type === 'CPU' ? r.count : 0), 0);
  const memory = spec.resources.reduce((n, r) => n + (r.type === 'MEMORY' ? r.sizeInMB : 0), 0);
  const out = [
    ...section('Local Service Details'),
    row('ID', summary.id),
    row('Name', summary.name),
    row('State', summary.state ?? ''),
    row('Activation State', summary.activationState),
    row('Created', formatDate(summary.created)),
    row('Updated', formatDate(summary.updated)),
    ...section('Instance Summary'),
    row('Per Host', summary.instancesPerHost),
    ...(summary.requiredInstances !== undefined ? [row('Required', summary.requiredInstances)] : []),
    row('Healthy', summary.healthyInstances),
    row('Total CPU', summary.totalCPUs),
    row('Total Memory', `${thousands(summary.totalMemory)} MB`),
    ...section('Specification'),
    row('Executable Type', spec.executable.type ?? 'DOCKER'),
    row('Docker Image', spec.executable.url),
    row('CPU per Instance', cpu),
    row('Memory per Inst', `${thousands(memory)} MB`),
    ...section('Exposed Ports'),
    ...spec.exposedPorts.map((p) => `  - ${p.name}: ${p.port} (${p.type})`),
    ...section('Placement Policy'),
    row('Type', spec.placementPolicy?.type ?? 'LOCAL'),
    ...constraintRow(spec),
    ...section(`Instances (${instances.length})`),
  ];
  if (instances.length === 0) out.push('  No instances running (activate to start instances)');
  for (const i of instances) {
    out.push(`  ${stateMarker(i.state)} ${i.instanceId}`);
    out.push(`      Host: ${i.localInfo?.hostname ?? i.executorId}`);
    out.push(`      State: ${i.state}`);
    out.push(`      Created: ${formatDate(i.created)}`);
    if (i.errorMessage) out.push(`      Error: ${i.errorMessage.trim()}`);
  }
  // drove-ts: executors in crash-loop backoff have no instance while they wait; say so, and until when.
  const loops = summary.crashLoops ?? [];
  if (loops.length > 0) out.push(...section(`Crash Loops (${loops.length})`));
  for (const l of loops) {
    out.push(`  [!!] ${l.hostname ?? l.executorId}`);
    out.push(`      Restarts: ${l.restartCount}`);
    out.push(`      Last Failure: ${l.lastFailure.reason.trim()} (${formatDate(l.lastFailure.time)})`);
    out.push(`      Next Attempt: ${formatDate(l.nextAttemptAt)}`);
  }
  return out.join('\n');
}

function describeInstance(i: LocalServiceInstanceInfo): string {
  const out = [
    ...section('Local Service Instance Details'),
    row('Instance ID', i.instanceId),
    row('Service ID', i.serviceId),
    row('State', i.state),
    row('Created', formatDate(i.created)),
    row('Updated', formatDate(i.updated)),
    ...section('Host Information'),
    row('Hostname', i.localInfo?.hostname ?? ''),
    row('Executor ID', i.executorId),
  ];
  const ports = Object.entries(i.localInfo?.ports ?? {});
  if (ports.length > 0) {
    out.push(...section('Port Mappings'));
    for (const [name, p] of ports) {
      out.push(`  ${name}:`, `    Container Port:  ${p.containerPort}`, `    Host Port:       ${p.hostPort}`, `    Type:            ${p.portType}`);
    }
  }
  out.push(...section('Resources'));
  for (const r of i.resources ?? []) {
    if (r.type === 'CPU') {
      out.push(row('CPU Cores', Object.values(r.cores).reduce((n, ids) => n + ids.length, 0)));
      for (const [node, ids] of Object.entries(r.cores)) out.push(`    NUMA ${node}:        ${ids.join(', ')}`);
    } else {
      out.push(row('Memory', `${thousands(Object.values(r.memoryInMB).reduce((n, mb) => n + mb, 0))} MB`));
      for (const [node, mb] of Object.entries(r.memoryInMB)) out.push(`    NUMA ${node}:        ${thousands(mb)} MB`);
    }
  }
  const metadata = Object.entries(i.metadata ?? {});
  if (metadata.length > 0) {
    out.push(...section('Metadata'));
    for (const [k, v] of metadata) out.push(`  ${k}: ${v}`);
  }
  if (i.errorMessage) out.push(...section('Error'), `  ${i.errorMessage.trim()}`);
  return out.join('\n');
}

function section(title: string): string[] {
  return ['', `${title}:`, '-'.repeat(title.length + 1)];
}

function row(label: string, value: unknown): string {
  return `  ${`${label}:`.padEnd(19)}${String(value)}`;
}

/** The tag constraint of a COMPOSITE placement (docs/design/placement.md#tag-constraints), in words; nothing for a plain LOCAL. */
function constraintRow(spec: LocalServiceSpec): string[] {
  const text = placementConstraintText(spec.placementPolicy);
  return text === undefined ? [] : [row('Executors with', text)];
}
