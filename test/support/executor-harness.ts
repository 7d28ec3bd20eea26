import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import Fastify from 'fastify';
import { pino } from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll } from 'vitest';
import type { ExecutorConfigInput } from '../../src/executor/config.js';
import { ExecutorConfigSchema, parseExecutorConfig } from '../../src/executor/config.js';
import type { RunningExecutor } from '../../src/executor/server.js';
import { startExecutor } from '../../src/executor/server.js';
import type {
  ControllerMessage,
  ExecutorMessage,
  KnownInstancesData,
  LocalServiceInstanceSpec,
  MessageResponse,
} from '../../src/model/executor.js';
import { newInstanceId } from '../../src/model/ids.js';
import type { LocalServiceInstanceInfo } from '../../src/model/instance.js';
import { madeByHooks, type Made } from './hook-value.js';
import { waitUntil } from './wait.js';

export const IMAGE = 'drove-ts/httpd:1';
/** The executor's own secret: it sends it to the (fake) leader. */
export const SECRET = 'executor-it-secret';
/** What controllers send; the only secret the executor accepts. */
export const CONTROLLER_SECRET = 'controller-it-secret';
export const docker = new Docker({ socketPath: '/var/run/docker.sock' });
export const repoRoot = join(import.meta.dirname, '..', '..');

/** Builds the offline test image (idempotent); fails loudly when docker is absent. */
export function ensureImage(): void {
  execFileSync('bash', [join(repoRoot, 'scripts', 'images.sh'), 'httpd'], { stdio: 'inherit' });
}

/** A stand-in leader for executor tests: ping, message intake, and the internal cluster APIs. */
export class FakeLeader {
  readonly app = Fastify();
  readonly messages: ControllerMessage[] = [];
  readonly authHeaders: Array<{ secret?: string; nodeId?: string }> = [];
  reserved: Record<string, number> = {};
  /** The answer's `placementPolicies` (tag-constrained services, docs/design/placement.md#tag-constraints); not validated, like a real leader's could be anything. */
  placementPolicies: Record<string, unknown> | undefined;
  lastKnown: KnownInstancesData | undefined;
  url = '';

  async start(port = 0): Promise<this> {
    this.app.addHook('onRequest', async (req, reply) => {
      this.authHeaders.push({
        ...(typeof req.headers['cluster-authorization'] === 'string' ? { secret: req.headers['cluster-authorization'] } : {}),
        ...(typeof req.headers.nodeid === 'string' ? { nodeId: req.headers.nodeid } : {}),
      });
      if (req.headers['cluster-authorization'] !== SECRET) return reply.code(401).send();
    });
    this.app.get('/apis/v1/ping', async () => ({ status: 'SUCCESS', data: 'pong', message: 'success' }));
    this.app.post('/apis/v1/messages', async (req) => {
      const message = req.body as ControllerMessage;
      this.messages.push(message);
      return { header: message.header, status: 'ACCEPTED' };
    });
    this.app.get('/apis/v1/internal/cluster/resources/reserved', async () => ({
      status: 'SUCCESS',
      data: {
        cpus: 0,
        memory: 0,
        requiredInstances: this.reserved,
        ...(this.placementPolicies ? { placementPolicies: this.placementPolicies } : {}),
      },
      message: 'success',
    }));
    this.app.get('/apis/v1/internal/cluster/executors/:id/instances/last', async () =>
      this.lastKnown
        ? { status: 'SUCCESS', data: this.lastKnown, message: 'success' }
        : { status: 'FAILED', message: 'No data found' },
    );
    const address = await this.app.listen({ host: '127.0.0.1', port });
    this.url = address;
    return this;
  }

  /** Every instance report received, in order (single and batched). */
  reports(instanceId?: string): LocalServiceInstanceInfo[] {
    const all = this.messages.flatMap((m) =>
      m.type === 'LOCAL_SERVICE_INSTANCE_STATE_REPORT' ? [m.instanceInfo] : m.type === 'LOCAL_SERVICE_INSTANCE_STATE_REPORTS' ? m.instanceInfos : [],
    );
    return instanceId ? all.filter((i) => i.instanceId === instanceId) : all;
  }

  states(instanceId: string): string[] {
    return this.reports(instanceId).map((i) => i.state);
  }

  lastState(instanceId: string): string | undefined {
    return this.reports(instanceId).at(-1)?.state;
  }

  async waitForState(instanceId: string, state: string, timeoutMs = 60_000): Promise<LocalServiceInstanceInfo> {
    return waitUntil(`${instanceId} ${state}`, () => this.reports(instanceId).find((i) => i.state === state), {
      timeoutMs,
      detail: () => `states seen: ${this.states(instanceId).join(',')}`,
    });
  }

  async stop(): Promise<void> {
    await this.app.close();
  }
}

export function executorConfigInput(leaderUrl: string, overrides: Partial<ExecutorConfigInput> = {}): ExecutorConfigInput {
  const root = mkdtempSync(join(tmpdir(), 'drove-executor-it-'));
  return {
    server: { host: '127.0.0.1', port: 0, hostname: 'localhost' },
    controllers: [leaderUrl],
    clusterAuth: { secrets: [{ nodeType: 'CONTROLLER', secret: CONTROLLER_SECRET }, { nodeType: 'EXECUTOR', secret: SECRET }] },
    logDir: join(root, 'logs'),
    dataDir: join(root, 'data'),
    // Two cores on the test host: offer virtual cores so several instances fit, each pinned to a real core.
    resources: { overProvisioning: { enabled: true, cpuMultiplier: 8, memoryMultiplier: 1 } },
    // busybox httpd as PID 1 ignores SIGTERM: a short grace keeps every stop from costing 10 s.
    options: { readinessPollInterval: '100 milliseconds', recoveryLeaderWait: '2 seconds', containerStopGracePeriod: '1 second' },
    // EXECUTOR_IT_LOG=debug shows the executor's own log while debugging a test; the schema checks the name.
    logLevel: ExecutorConfigSchema.shape.logLevel.parse(process.env.EXECUTOR_IT_LOG ?? 'error'),
    ...overrides,
  };
}

export async function startTestExecutor(leader: FakeLeader, overrides: Partial<ExecutorConfigInput> = {}): Promise<RunningExecutor> {
  const config = parseExecutorConfig(executorConfigInput(leader.url, overrides));
  return startExecutor(config, { logger: pino({ level: config.logLevel }) });
}

let messageSeq = 0;
export function header() {
  return { id: `it-${++messageSeq}`, senderType: 'CONTROLLER' as const, direction: 'REQUEST' as const, messageTime: Date.now() };
}

/** Posts a message as a controller would; `body` is undefined when the executor answered with an empty body. */
export async function send(executor: RunningExecutor, message: unknown, secret = CONTROLLER_SECRET): Promise<{ status: number; body: MessageResponse | undefined }> {
  const res = await request(`${executor.url}/apis/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'Cluster-Authorization': secret },
    body: typeof message === 'string' ? message : JSON.stringify(message),
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? (JSON.parse(text) as MessageResponse) : undefined };
}

export function address(executor: RunningExecutor) {
  const port = Number(new URL(executor.url).port);
  return { executorId: executor.executorId, hostname: 'localhost', port, transportType: 'HTTP' as const };
}

export async function startInstance(executor: RunningExecutor, spec: LocalServiceInstanceSpec): Promise<MessageResponse> {
  return answered(executor, { type: 'START_LOCAL_SERVICE_INSTANCE', header: header(), address: address(executor), spec });
}

export async function stopInstance(executor: RunningExecutor, instanceId: string): Promise<MessageResponse> {
  return answered(executor, { type: 'STOP_LOCAL_SERVICE_INSTANCE', header: header(), address: address(executor), instanceId });
}

async function answered(executor: RunningExecutor, message: ExecutorMessage): Promise<MessageResponse> {
  const { status, body } = await send(executor, message);
  if (!body) throw new Error(`${message.type}: HTTP ${status} with an empty body`);
  return body;
}

const check = (path: string, portName = 'main', attempts = 10) => ({
  mode: { type: 'HTTP' as const, protocol: 'HTTP' as const, portName, path, verb: 'GET' as const, successCodes: [200], connectionTimeout: '1 second' },
  timeout: '1 second',
  interval: '200 milliseconds',
  attempts,
  initialDelay: '0 seconds',
});
export { check };

let seq = 0;
export function itSpec(overrides: Partial<LocalServiceInstanceSpec> = {}): LocalServiceInstanceSpec {
  seq++;
  return {
    serviceId: 'EXECUTOR_IT-1',
    serviceName: 'EXECUTOR_IT',
    instanceId: newInstanceId(),
    executable: { type: 'DOCKER', url: IMAGE, dockerPullTimeout: '30 seconds' },
    resources: [
      { type: 'CPU', cores: { '0': [seq % 16] } },
      { type: 'MEMORY', memoryInMB: { '0': 32 } },
    ],
    ports: [{ name: 'main', port: 8000, type: 'HTTP' }],
    hostLevelInstance: false,
    volumes: [],
    configs: [],
    healthcheck: check('/cgi-bin/health', 'main', 3),
    readiness: check('/health'),
    env: {},
    ...overrides,
  };
}

/** Removes whatever containers an executor left (tests that fail midway must not leak containers). */
export async function removeContainersOf(executorId: string): Promise<void> {
  const list = await docker.listContainers({ all: true, filters: { label: [`drove.executor.id=${executorId}`] } });
  await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined)));
}

export async function containerOf(instanceId: string) {
  const list = await docker.listContainers({ all: true, filters: { label: [`drove.instance.id=${instanceId}`] } });
  return list[0] ? docker.getContainer(list[0].Id) : undefined;
}

export async function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await request(`http://127.0.0.1:${port}${path}`);
  return { status: res.statusCode, body: await res.body.text() };
}

/** The fake leader and the real executor of a test file or describe block (useTestExecutor). */
export interface TestExecutor {
  readonly leader: FakeLeader;
  readonly executor: RunningExecutor;
}

/**
 * Starts a fake leader and a real executor on real Docker before the tests of the calling file or describe
 * block, and stops them after those tests with every container the executor made (a test failing midway must
 * not leak containers). `options` are merged over the test defaults of executorConfigInput; `config` replaces
 * other sections. Read `leader` and `executor` inside tests and hooks only: they exist once the hook ran.
 */
export function useTestExecutor(
  setup: { options?: ExecutorConfigInput['options']; config?: Omit<Partial<ExecutorConfigInput>, 'options'> } = {},
): TestExecutor {
  const made: Made<TestExecutor> = {};
  beforeAll(async () => {
    ensureImage();
    const leader = (made.leader = await new FakeLeader().start());
    const options = { ...executorConfigInput(leader.url).options, ...setup.options };
    made.executor = await startTestExecutor(leader, { ...setup.config, options });
  });
  afterAll(async () => {
    await made.executor?.stop();
    if (made.executor) await removeContainersOf(made.executor.executorId);
    await made.leader?.stop();
  });
  return madeByHooks('the test executor', made, ['leader', 'executor']);
}
