import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControllerServer, type RunningController } from '../../../src/controller/server.js';
import { parseExecutorConfig } from '../../../src/executor/config.js';
import type { RunningExecutor } from '../../../src/executor/server.js';
import { startExecutor } from '../../../src/executor/server.js';
import { ADMIN, CLUSTER_SECRET, CONTROLLER_SECRET, testConfig } from '../../support/controller-config.js';
import { waitUntil } from '../../support/wait.js';

/**
 * Executor metadata (Drove's CONFIGURED and ENVIRONMENT providers) as an operator sees it: a real executor sends
 * it with its node data to a real controller, whose executor API shows it.
 */
let dir: string;
let controller: RunningController;
let executor: RunningExecutor;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'drove-metadata-'));
  controller = await startControllerServer(
    testConfig({ server: { host: '127.0.0.1', port: 0 }, store: { type: 'sqlite', path: join(dir, 'drove.db') }, logLevel: 'silent' }),
  );
  const config = parseExecutorConfig({
    server: { host: '127.0.0.1', port: 0, hostname: 'metadata-host' },
    controllers: [controller.url],
    clusterAuth: { secrets: [{ nodeType: 'CONTROLLER', secret: CONTROLLER_SECRET }, { nodeType: 'EXECUTOR', secret: CLUSTER_SECRET }] },
    logDir: join(dir, 'logs'),
    dataDir: join(dir, 'data'),
    resources: {
      metadata: {
        metadataProviders: {
          placement: { type: 'CONFIGURED', metadata: { rack: 'r12', floor: 3 } },
          environment: { type: 'ENVIRONMENT', whitelistedVariables: ['DC', 'NODE_.*'] },
        },
        blacklistedKeys: ['NODE_SECRET.*'],
      },
    },
    logLevel: 'silent',
  });
  const executorEnv = { DC: 'dc-7', NODE_POOL: 'agents', NODE_SECRET_KEY: 'hidden', PATH: '/usr/bin' };
  executor = await startExecutor(config, { logger: pino({ level: 'silent' }), executorEnv });
});
afterAll(async () => {
  await executor?.stop();
  await controller?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('executor metadata in executor info', () => {
  it("the controller's executor API shows the configured values and the whitelisted environment variables", async () => {
    const node = await waitUntil('the executor on the controller', async () => {
      const res = await fetch(`${controller.url}/apis/v1/cluster/executors/${executor.executorId}`, { headers: ADMIN });
      const body = (await res.json()) as { status: string; data?: { metadata?: Record<string, string> } };
      return body.status === 'SUCCESS' ? body.data : undefined;
    }, { timeoutMs: 30_000 });
    expect(node.metadata).toEqual({ DC: 'dc-7', NODE_POOL: 'agents', floor: '3', rack: 'r12' });
  });
});
