import type { CompatStep, DroveCompatibility } from '../model/config-compat.js';
import { isObject, moveValue, unknownKeys } from '../model/config-compat.js';
import { DROPWIZARD_UNSUPPORTED, dropwizardConnectors, dropwizardLogging } from '../model/dropwizard-config.js';

/**
 * Drove's executor config (its AppConfig, ExecutorOptions, ResourceConfig, ControllerConfig) read into drove-ts's
 * keys. The table in docs/drove-config.md lists every key; keep the two in step (a unit test checks that every
 * key here is in the document).
 */

/**
 * `controllers: {endpoints: [...], leadershipCheckInterval}` is drove-ts's `controllers: [...]`; the interval
 * is the longest wait between looks for the leader, `options.leaderRetryMax`.
 */
const controllersSection: CompatStep = (context) => {
  const controllers = context.raw.controllers;
  if (!isObject(controllers)) return;
  delete context.raw.controllers;
  unknownKeys(context, ['controllers'], Object.keys(controllers).filter((key) => key !== 'endpoints' && key !== 'leadershipCheckInterval'));
  if (controllers.endpoints !== undefined) moveValue(context, ['controllers', 'endpoints'], ['controllers'], controllers.endpoints);
  if (controllers.leadershipCheckInterval !== undefined) {
    moveValue(context, ['controllers', 'leadershipCheckInterval'], ['options', 'leaderRetryMax'], controllers.leadershipCheckInterval);
  }
};

export const EXECUTOR_DROVE_COMPATIBILITY: DroveCompatibility = {
  steps: [dropwizardConnectors, dropwizardLogging, controllersSection],
  aliases: [
    { drove: 'options.hostname', ours: 'server.hostname' },
    { drove: 'options.cacheImages', ours: 'cacheImages' },
    {
      drove: 'options.maxOpenFiles',
      ours: 'maxOpenFiles',
      // Drove reads 0 (or less) as "its default"; drove-ts's default is the engine's own limit (README).
      convert: (value) => (typeof value === 'number' && value <= 0 ? { drop: true } : { value }),
    },
    { drove: 'options.dockerSocketPath', ours: 'docker.socket' },
    { drove: 'options.defaultUserSpec', ours: 'defaultUserSpec' },
    { drove: 'resources.tags', ours: 'tags' },
    {
      drove: 'options.remoteUpdateMode',
      ours: 'options.remoteUpdateMode',
      // RPC is what drove-ts executors always do: node data and reports go to the leader over HTTP.
      convert: (value) =>
        typeof value === 'string' && value.toUpperCase() === 'RPC'
          ? { drop: true }
          : { refuse: `${JSON.stringify(value)} is not supported: drove-ts executors report to the leader over HTTP (Drove's RPC); remove the key or write RPC` },
    },
  ],
  unsupported: {
    ...DROPWIZARD_UNSUPPORTED,
    zookeeper: 'executors find the leader through "controllers:" (the controllers\' URLs)',
    'options.containerCommandTimeout': 'each CMD check and hook ends at its own timeout in the spec; remove it',
    'options.controllerConnectTimeout': "the executor's calls to controllers have fixed timeouts; remove it",
    'options.controllerResponseTimeout': "the executor's calls to controllers have fixed timeouts; remove it",
  },
};
