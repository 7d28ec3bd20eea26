import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startControllerServer, type RunningController } from '../../src/controller/server.js';
import { executorIdOf, type LocalServiceInstanceInfo, type LocalServiceInstanceSpec } from '../../src/model/index.js';
import { waitUntil } from '../support/wait.js';
import { ADMIN, CLUSTER_SECRET, testConfig } from '../support/controller-config.js';
import { instanceInfo } from '../support/records.js';

export { ADMIN, GUEST, MAINT, ROOT, basic } from '../support/controller-config.js';

/** A real controller (SQLite in a temporary directory) listening on a loopback port: the attacker's target. */
export interface LiveController {
  running: RunningController;
  dir: string;
  url: string;
  call(method: string, path: string, headers?: Record<string, string>, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export async function startLiveController(overrides: Record<string, unknown> = {}): Promise<LiveController> {
  const dir = mkdtempSync(join(tmpdir(), 'drove-security-'));
  const config = testConfig({
    server: { host: '127.0.0.1', port: 0, hostname: '127.0.0.1' },
    store: { type: 'sqlite', path: join(dir, 'drove.db') },
    logLevel: 'silent',
    ...overrides,
  });
  const running = await startControllerServer(config, { logger: pino({ level: 'silent' }) });
  return {
    running,
    dir,
    url: running.url,
    async call(method, path, headers = {}, body) {
      const response = await fetch(`${running.url}${path}`, {
        method,
        headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, body: parsed };
    },
    async close() {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An executor as the leader sees it, over real HTTP: registers with a heartbeat, records the START messages it
 * is sent (answering ACCEPTED) and reports instance states when told to. No Docker: for tests about the
 * controller's side.
 */
export interface FakeExecutorEndpoint {
  starts: LocalServiceInstanceSpec[];
  executorId: string;
  report(spec: LocalServiceInstanceSpec, state: LocalServiceInstanceInfo['state']): Promise<void>;
  close(): Promise<void>;
}

export async function attachFakeExecutor(controller: LiveController): Promise<FakeExecutorEndpoint> {
  const starts: LocalServiceInstanceSpec[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const message = JSON.parse(body) as { type: string; header: unknown; spec?: LocalServiceInstanceSpec };
      if (message.type === 'START_LOCAL_SERVICE_INSTANCE' && message.spec) starts.push(message.spec);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ header: message.header, status: 'ACCEPTED' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const executorId = executorIdOf('127.0.0.1', port);
  const snapshot = {
    executorId,
    cpus: { type: 'CPU', freeCores: { '0': [0, 1, 2, 3] }, usedCores: { '0': [] } },
    memory: { type: 'MEMORY', freeMemory: { '0': 8192 }, usedMemory: { '0': 0 } },
    layout: { cores: { '0': [0, 1, 2, 3] }, memory: { '0': 8192 } },
  };
  let seq = 0;
  const header = () => ({ id: `fake-${++seq}`, senderType: 'EXECUTOR', direction: 'REQUEST', messageTime: Date.now() });
  const send = async (message: unknown) => {
    const response = await controller.call('POST', '/apis/v1/messages', { 'cluster-authorization': CLUSTER_SECRET, nodeid: '127.0.0.1' }, message);
    if (response.body?.status !== 'ACCEPTED') throw new Error(`executor message refused: ${JSON.stringify(response.body)}`);
  };
  const nodeData = {
    type: 'EXECUTOR', hostname: '127.0.0.1', port, transportType: 'HTTP', updated: Date.now(), state: snapshot,
    instances: [], tasks: [], serviceInstances: [], tags: ['127.0.0.1'], metadata: {}, executorState: 'ACTIVE',
  };
  await send({ type: 'EXECUTOR_SNAPSHOT', header: header(), nodeData });
  return {
    starts,
    executorId,
    async report(spec, state) {
      const now = Date.now();
      const report = instanceInfo({
        serviceId: spec.serviceId,
        serviceName: spec.serviceName,
        instanceId: spec.instanceId,
        executorId,
        localInfo: { hostname: '127.0.0.1', ports: { main: { containerPort: 8000, hostPort: 40001, portType: 'HTTP' } } },
        resources: spec.resources,
        state,
        created: now - 1000,
        updated: now,
      });
      await send({ type: 'LOCAL_SERVICE_INSTANCE_STATE_REPORT', header: header(), resourceSnapshot: snapshot, instanceInfo: report });
      // Reports are queued by the leader: wait until this one is what it serves.
      await waitUntil(`${spec.instanceId} ${state} stored`, async () =>
        (await controller.call('GET', `/apis/v1/localservices/${spec.serviceId}/instances/${spec.instanceId}`, ADMIN)).body?.data?.state === state);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
