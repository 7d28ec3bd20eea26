import type { LocalServiceSpec } from '../../src/model/spec.js';

/**
 * Every write the console can make, as the exact API request and the `drove` CLI command that makes the same
 * request (docs/console.md, "Operations"). The confirmation dialog shows both before anything is sent, so an
 * operator learns the CLI from the console and can script what they just did.
 */

export interface OpSpecInput {
  timeout: string;
  parallelism: number;
}

export interface ApiRequest {
  /** What the dialog asks: "Activate NODE_EXPORTER-1?" */
  title: string;
  /** What will happen, in one or two sentences. */
  effect: string;
  method: 'POST';
  path: string;
  body?: unknown;
  /** The CLI arguments after `drove -e <endpoint>`. */
  cli: string[];
  /** Stops or removes something: the confirm button says so in red. */
  destructive: boolean;
  /** Text of the confirm button. */
  verb: string;
}

const OPERATIONS = '/apis/v1/localservices/operations';

/** Drove's op spec with the console's defaults (the CLI's: 5m, parallelism 1, STOP on failure). */
function opSpec(input: OpSpecInput) {
  return { timeout: input.timeout, parallelism: input.parallelism, failureStrategy: 'STOP' };
}

function opSpecArgs(input: OpSpecInput): string[] {
  return ['--parallelism', String(input.parallelism), '--timeout', input.timeout];
}

export const DEFAULT_OP_SPEC: OpSpecInput = { timeout: '5m', parallelism: 1 };

export const operations = {
  create: (spec: LocalServiceSpec, instancesPerHost: number): ApiRequest => ({
    title: `Create ${spec.name}-${spec.version}?`,
    effect: 'The service is stored INACTIVE: nothing runs until you start a config test instance or activate it.',
    method: 'POST',
    path: OPERATIONS,
    body: { type: 'CREATE', spec, instancesPerHost },
    cli: ['localservices', 'create', 'spec.json', '--instances', String(instancesPerHost)],
    destructive: false,
    verb: 'Create',
  }),
  conftest: (serviceId: string): ApiRequest => ({
    title: `Start a config test instance of ${serviceId}?`,
    effect: 'Exactly one instance starts on one executor of the cluster, to try the spec before activating it.',
    method: 'POST',
    path: OPERATIONS,
    body: { type: 'DEPLOY_TEST_INSTANCE', serviceId },
    cli: ['localservices', 'conftest', serviceId],
    destructive: false,
    verb: 'Start test instance',
  }),
  activate: (serviceId: string): ApiRequest => ({
    title: `Activate ${serviceId}?`,
    effect: 'Instances start on every eligible executor, instances-per-host on each.',
    method: 'POST',
    path: OPERATIONS,
    body: { type: 'ACTIVATE', serviceId },
    cli: ['localservices', 'activate', serviceId],
    destructive: false,
    verb: 'Activate',
  }),
  deactivate: (serviceId: string): ApiRequest => ({
    title: `Deactivate ${serviceId}?`,
    effect: 'Pre-shutdown hooks run, then every instance of the service stops on every executor.',
    method: 'POST',
    path: OPERATIONS,
    body: { type: 'DEACTIVATE', serviceId },
    cli: ['localservices', 'deactivate', serviceId],
    destructive: true,
    verb: 'Deactivate',
  }),
  destroy: (serviceId: string): ApiRequest => ({
    title: `Destroy ${serviceId}?`,
    effect: 'The inactive service and its history are removed. This cannot be undone.',
    method: 'POST',
    path: OPERATIONS,
    body: { type: 'DESTROY', serviceId },
    cli: ['localservices', 'destroy', serviceId],
    destructive: true,
    verb: 'Destroy',
  }),
  updateCount: (serviceId: string, instancesPerHost: number): ApiRequest => ({
    title: `Run ${instancesPerHost} instance(s) per host of ${serviceId}?`,
    effect: 'The reconciler then starts or stops instances on every executor to match the new count.',
    method: 'POST',
    path: OPERATIONS,
    body: { type: 'UPDATE_INSTANCE_COUNT', serviceId, instancesPerHost },
    cli: ['localservices', 'update', serviceId, String(instancesPerHost)],
    destructive: false,
    verb: 'Update count',
  }),
  restart: (serviceId: string, stopFirst: boolean, spec: OpSpecInput): ApiRequest => ({
    title: `Restart every instance of ${serviceId}?`,
    effect: stopFirst
      ? 'Stop-first: on each host the old instance stops before its replacement starts (a short gap per host).'
      : 'Start-first: on each host a new instance becomes healthy before the old one stops.',
    method: 'POST',
    path: OPERATIONS,
    // Drove reads RESTART's op spec from clusterOpSpec, drove-ts from either: both are sent, as the CLI does.
    body: { type: 'RESTART', serviceId, stopFirst, opSpec: opSpec(spec), clusterOpSpec: opSpec(spec) },
    cli: ['localservices', 'restart', serviceId, ...(stopFirst ? ['--stop'] : []), ...opSpecArgs(spec)],
    destructive: true,
    verb: 'Restart',
  }),
  replace: (serviceId: string, instanceIds: string[], stopFirst: boolean, spec: OpSpecInput): ApiRequest => ({
    title: `Replace ${instanceIds.length === 1 ? instanceIds[0] : `${instanceIds.length} instances`}?`,
    effect: stopFirst ? 'Each instance stops, then a fresh one starts on the same host.' : 'A fresh instance starts on the same host, then the old one stops.',
    method: 'POST',
    path: OPERATIONS,
    body: { type: 'REPLACE_INSTANCES', serviceId, instanceIds, stopFirst, opSpec: opSpec(spec) },
    cli: ['lsinstances', 'replace', serviceId, ...instanceIds, ...(stopFirst ? ['--stop'] : []), ...opSpecArgs(spec)],
    destructive: true,
    verb: 'Replace',
  }),
  kill: (serviceId: string, instanceIds: string[], spec: OpSpecInput): ApiRequest => ({
    title: `Kill ${instanceIds.length === 1 ? instanceIds[0] : `${instanceIds.length} instances`}?`,
    effect: 'The instance stops. While the service is active, the reconciler starts a fresh one in its place.',
    method: 'POST',
    path: OPERATIONS,
    body: { type: 'STOP_INSTANCES', serviceId, instanceIds, opSpec: opSpec(spec) },
    cli: ['lsinstances', 'kill', serviceId, ...instanceIds, ...opSpecArgs(spec)],
    destructive: true,
    verb: 'Kill',
  }),
  cancel: (serviceId: string): ApiRequest => ({
    title: `Cancel the running operation of ${serviceId}?`,
    effect:
      'Cancelling an adjustment, restart or replacement of a running service deactivates it (emergency deactivation): only DEACTIVATE is accepted until then.',
    method: 'POST',
    path: `${OPERATIONS}/${encodeURIComponent(serviceId)}/cancel`,
    cli: ['localservices', 'cancelop', serviceId],
    destructive: true,
    verb: 'Cancel operation',
  }),
  blacklist: (executorId: string): ApiRequest => ({
    title: `Blacklist executor ${executorId}?`,
    effect: 'Nothing new is placed there, and the local service instances running there are stopped.',
    method: 'POST',
    path: `/apis/v1/cluster/executors/blacklist?id=${encodeURIComponent(executorId)}`,
    cli: ['executor', 'blacklist', executorId],
    destructive: true,
    verb: 'Blacklist',
  }),
  unblacklist: (executorId: string): ApiRequest => ({
    title: `Take executor ${executorId} off the blacklist?`,
    effect: 'The executor receives instances again; the reconciler starts what should run there.',
    method: 'POST',
    path: `/apis/v1/cluster/executors/unblacklist?id=${encodeURIComponent(executorId)}`,
    cli: ['executor', 'unblacklist', executorId],
    destructive: false,
    verb: 'Unblacklist',
  }),
  maintenanceOn: (): ApiRequest => ({
    title: 'Put the cluster in maintenance mode?',
    effect: 'Every operation is refused until maintenance ends (and for the grace period after); running instances are left alone.',
    method: 'POST',
    path: '/apis/v1/cluster/maintenance/set',
    cli: ['cluster', 'maintenance-on'],
    destructive: true,
    verb: 'Start maintenance',
  }),
  maintenanceOff: (): ApiRequest => ({
    title: 'End maintenance mode?',
    effect: 'Operations are accepted again once the maintenance grace period has passed.',
    method: 'POST',
    path: '/apis/v1/cluster/maintenance/unset',
    cli: ['cluster', 'maintenance-off'],
    destructive: false,
    verb: 'End maintenance',
  }),
};

/** A shell word: quoted when it holds anything a shell would read. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The full command line, against the controller this console talks to. */
export function cliCommand(request: ApiRequest, endpoint = window.location.origin, username?: string): string {
  const auth = username ? ['-u', username, '-p', '<password>'] : [];
  return ['drove', '-e', endpoint, ...auth, ...request.cli].map((w) => (w === '<password>' ? w : shellWord(w))).join(' ');
}
