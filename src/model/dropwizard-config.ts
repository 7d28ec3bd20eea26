import type { CompatStep } from './config-compat.js';
import { isObject, moveValue, refusal, unknownKeys } from './config-compat.js';

/**
 * The two sections every Drove config has from Dropwizard, read into drove-ts's keys (docs/drove-config.md).
 * Shared by the controller and the executor: both are Dropwizard applications in Drove.
 */

const CONNECTOR_KEYS = new Set(['type', 'port', 'bindHost']);

/**
 * `server.applicationConnectors: [{type: http, port, bindHost}]` is `server.port` and `server.host`. drove-ts
 * listens on one address, so exactly one connector; HTTPS is `server.tls` with PEM files, not a Java key store.
 */
export const dropwizardConnectors: CompatStep = (context) => {
  const server = context.raw.server;
  if (!isObject(server) || server.applicationConnectors === undefined) return;
  const at = ['server', 'applicationConnectors'];
  const connectors = server.applicationConnectors;
  delete server.applicationConnectors;
  if (!Array.isArray(connectors) || connectors.length !== 1 || !isObject(connectors[0])) {
    refusal(context, at, 'drove-ts listens on one address: give exactly one connector {type: http, port, bindHost} (or server.host and server.port)');
    return;
  }
  const connector = connectors[0];
  // Dropwizard's default connector type is http.
  const type = connector.type === undefined ? 'http' : typeof connector.type === 'string' ? connector.type.toLowerCase() : JSON.stringify(connector.type);
  if (type !== 'http') {
    refusal(
      context,
      [...at, '0', 'type'],
      `${type} connectors are not supported: drove-ts serves HTTPS from PEM files with server.tls.certFile and server.tls.keyFile (docs/security.md), on one connector of type http`,
    );
    return;
  }
  unknownKeys(context, [...at, '0'], Object.keys(connector).filter((key) => !CONNECTOR_KEYS.has(key)));
  if (connector.port !== undefined) moveValue(context, [...at, '0', 'port'], ['server', 'port'], connector.port);
  if (connector.bindHost !== undefined) moveValue(context, [...at, '0', 'bindHost'], ['server', 'host'], connector.bindHost);
};

/** Dropwizard (logback) levels -> pino levels. */
const LEVELS: Readonly<Record<string, string>> = {
  OFF: 'silent',
  ERROR: 'error',
  WARN: 'warn',
  INFO: 'info',
  DEBUG: 'debug',
  TRACE: 'trace',
  ALL: 'trace',
};

/**
 * `logging.level` is `logLevel`. drove-ts writes JSON lines to stdout, so Dropwizard's appenders and per-logger
 * levels have no counterpart: they are reported as unknown keys, with that reason.
 */
export const dropwizardLogging: CompatStep = (context) => {
  const logging = context.raw.logging;
  if (!isObject(logging)) return;
  delete context.raw.logging;
  unknownKeys(context, ['logging'], Object.keys(logging).filter((key) => key !== 'level'));
  if (logging.level === undefined) return;
  const level = typeof logging.level === 'string' ? LEVELS[logging.level.toUpperCase()] : undefined;
  if (!level) {
    refusal(context, ['logging', 'level'], `must be one of ${Object.keys(LEVELS).join(', ')}, got ${JSON.stringify(logging.level)}`);
    return;
  }
  moveValue(context, ['logging', 'level'], ['logLevel'], level);
};

/** Dropwizard keys of `server`, `logging` and the top level that drove-ts has no counterpart for, and why. */
export const DROPWIZARD_UNSUPPORTED: Readonly<Record<string, string>> = {
  'server.adminConnectors': 'there is no separate admin port; remove it',
  'server.requestLog': 'requests are logged as JSON lines on stdout (audit lines for options.auditedHttpMethods); remove it',
  'server.applicationContextPath': 'the API is always served at /; remove it',
  'server.rootPath': 'the API is always served at /apis; remove it',
  'server.gzip': 'responses are not compressed; remove it',
  'server.type': 'give one connector in server.applicationConnectors, or server.host and server.port',
  'server.connector': 'give one connector in server.applicationConnectors, or server.host and server.port',
  'logging.loggers': 'there is one log level for the whole process (logging.level or logLevel); remove it',
  'logging.appenders': 'logs are JSON lines on stdout (pipe them to your log shipper); remove it',
  metrics: 'there are no Dropwizard metrics reporters (Prometheus scrapes /metrics, and the monitoring: section says who may); remove it',
  health: 'there are no Dropwizard health checks; remove it',
};
