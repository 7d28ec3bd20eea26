import type { FastifyInstance } from 'fastify';
import { buildControllerApp } from '../../src/controller/api/app.js';
import { parseControllerConfig, type ControllerConfig } from '../../src/controller/config.js';
import type { ControllerCore } from '../../src/controller/core.js';

export const CLUSTER_SECRET = 'executor-secret';
export const CONTROLLER_SECRET = 'controller-secret';

/** Users for every role; PLAIN passwords equal to the user name. */
export function testConfig(overrides: Record<string, unknown> = {}): ControllerConfig {
  return parseControllerConfig({
    clusterAuth: {
      secrets: [
        { nodeType: 'EXECUTOR', secret: CLUSTER_SECRET },
        { nodeType: 'CONTROLLER', secret: CONTROLLER_SECRET },
      ],
    },
    userAuth: {
      enabled: true,
      encoding: 'PLAIN',
      users: [
        { username: 'admin', password: 'admin', role: 'EXTERNAL_READ_WRITE' },
        { username: 'root', password: 'root', role: 'EXTERNAL_ROOT' },
        { username: 'guest', password: 'guest', role: 'EXTERNAL_READ_ONLY' },
        { username: 'maint', password: 'maint', role: 'EXTERNAL_MAINTENANCE' },
      ],
    },
    ...overrides,
  });
}

export function basic(user: string, password = user): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

export const ADMIN = basic('admin');
export const GUEST = basic('guest');
export const ROOT = basic('root');
export const MAINT = basic('maint');
export const NODE = { 'cluster-authorization': CLUSTER_SECRET, nodeid: 'ex1.local' };

export function app(core: ControllerCore, config: ControllerConfig = testConfig()): FastifyInstance {
  return buildControllerApp({ core, config });
}
