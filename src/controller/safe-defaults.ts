import type { Logger } from 'pino';
import { isLoopback } from '../model/listen-address.js';
import { ConfigError, type ControllerConfig } from './config.js';
import { resolveInstanceSecret } from './instance-secret.js';

/**
 * Start-up rules that keep a controller safe by default (docs/security.md), applied before it listens:
 * - no `userAuth` section on a non-loopback address is refused: anyone who can reach the port would be
 *   EXTERNAL_ROOT and could mount any host directory on every executor. `userAuth.enabled: false` written out is
 *   the explicit opt-out, and is warned about at every start, as is running without userAuth on loopback;
 * - the instance token secret is taken from the config or generated and persisted (instance-secret.ts).
 * Returns the config with `instanceAuth.secret` set.
 */
export function applySafeDefaults(config: ControllerConfig, logger: Pick<Logger, 'warn' | 'info'>): ControllerConfig {
  const warning = userAuthWarning(config);
  if (warning) logger.warn({ host: config.server.host, userAuth: config.userAuth ? 'disabled' : 'absent' }, warning);
  const instanceSecret = resolveInstanceSecret(config);
  if (instanceSecret.generated) {
    logger.info({ file: instanceSecret.file }, instanceSecret.file
      ? 'generated the instance token secret (instanceAuth.secret was not set)'
      : 'generated an instance token secret for this process only (in-memory store)');
  }
  return { ...config, instanceAuth: { ...config.instanceAuth, secret: instanceSecret.secret } };
}

/** The warning to log at start, or undefined when users must authenticate; throws when the config is unsafe. */
export function userAuthWarning(config: ControllerConfig): string | undefined {
  const { host, port } = config.server;
  if (config.userAuth?.enabled) return undefined;
  if (config.userAuth) {
    return `userAuth.enabled is false: authentication is off and every caller is EXTERNAL_ROOT (server.host ${host})`;
  }
  if (!isLoopback(host)) {
    throw new ConfigError(
      `Refusing to start: the controller config has no userAuth section and server.host ${host} is not a loopback ` +
        `address, so anyone who can reach port ${port} would be EXTERNAL_ROOT. Configure userAuth users, listen on ` +
        `127.0.0.1, or write userAuth.enabled: false to run without authentication on purpose.`,
    );
  }
  return `No userAuth section: authentication is off and every caller is EXTERNAL_ROOT; allowed because server.host ${host} is a loopback address (only this machine can connect)`;
}
