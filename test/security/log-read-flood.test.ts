import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildControllerApp } from '../../src/controller/api/app.js';
import { buildExecutorApp } from '../../src/executor/app.js';
import { systemClock } from '../../src/model/index.js';
import { FakeCore } from '../support/fake-core.js';
import { GUEST, testConfig } from '../support/controller-config.js';
import { waitUntil } from '../support/wait.js';

/** A well-formed instance id: the log routes refuse malformed ones before any limit applies. */
const INSTANCE_ID = 'SI-5b0c1c38-4d7e-4c2e-9d7a-0f4f2a3e8b11';

/**
 * Finding: log reads were unbounded on both sides. Each proxied read holds a connection to an executor and may
 * buffer 4 MiB; each executor read opens a file. A client opening thousands of slow log downloads or tails
 * exhausted memory and descriptors. Now both bound the reads in progress and answer 429 beyond, at once.
 */

describe('controller log proxy: at most maxConcurrentReads at once, 429 beyond', () => {
  let executor: FastifyInstance;
  let controller: FastifyInstance;
  let release: () => void = () => undefined;
  let held = 0;

  beforeAll(async () => {
    // An executor that holds every list request until told to answer.
    const gate = new Promise<void>((resolve) => (release = resolve));
    executor = Fastify();
    executor.get('/apis/v1/logs/filestream/:serviceId/:instanceId/list', async () => {
      held++;
      await gate;
      return { files: ['output.log'] };
    });
    await executor.listen({ host: '127.0.0.1', port: 0 });
    const core = new FakeCore();
    core.logTarget = { executorId: 'E1', hostname: '127.0.0.1', port: (executor.server.address() as { port: number }).port, transportType: 'HTTP' };
    controller = buildControllerApp({ core, config: testConfig(), logProxy: { maxConcurrentReads: 3 } });
    await controller.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    release();
    await controller?.close();
    await executor?.close();
  });

  test('three reads in progress: the fourth is a 429 at once; once they finish reads are served again', async () => {
    const url = `http://127.0.0.1:${(controller.server.address() as { port: number }).port}/apis/v1/logfiles/localservices/S-1/${INSTANCE_ID}/list`;
    const inProgress = [1, 2, 3].map(() => request(url, { headers: GUEST }));
    await waitUntil('three reads held', () => held >= 3, { timeoutMs: 1_000, intervalMs: 10 });
    expect(held).toBe(3);
    const refused = await request(url, { headers: GUEST });
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    expect(await refused.body.json()).toEqual({ status: 'FAILED', message: 'Too many log reads in progress (at most 3), retry in a moment' });
    // Refused callers never take a slot: an unauthenticated read is a 401, not a 429.
    expect((await request(url)).statusCode).toBe(401);
    release();
    for (const response of await Promise.all(inProgress)) {
      expect(response.statusCode).toBe(200);
      await response.body.dump();
    }
    const again = await request(url, { headers: GUEST });
    expect(again.statusCode).toBe(200);
    expect(await again.body.json()).toEqual({ files: ['output.log'] });
  });
});

describe('executor log routes: at most maxConcurrentLogReads at once, 429 beyond', () => {
  let dir: string;
  let executor: FastifyInstance;
  let port: number;
  const SECRET = 'c-secret';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'drove-logflood-'));
    const instanceDir = join(dir, 'S-1', INSTANCE_ID);
    mkdirSync(instanceDir, { recursive: true });
    writeFileSync(join(instanceDir, 'output.log'), '');
    // 256 MiB, sparse: a download a client does not read stays in progress (far more than socket buffers hold).
    truncateSync(join(instanceDir, 'output.log'), 256 * 1024 * 1024);
    executor = buildExecutorApp({
      config: { clusterAuth: { secrets: [{ nodeType: 'CONTROLLER', secret: SECRET }] }, logDir: dir },
      clock: systemClock,
      handler: () => undefined,
      limits: { maxConcurrentLogReads: 2 },
    });
    await executor.listen({ host: '127.0.0.1', port: 0 });
    port = (executor.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await executor?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A download whose client reads the first bytes and then stops reading. */
  function stalledDownload(): Promise<Socket> {
    return new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1', () =>
        socket.write(`GET /apis/v1/logs/filestream/S-1/${INSTANCE_ID}/download/output.log HTTP/1.1\r\nHost: x\r\nCluster-Authorization: ${SECRET}\r\n\r\n`),
      );
      socket.once('data', () => {
        socket.pause();
        resolve(socket);
      });
    });
  }

  test('two stalled downloads: a third read is a 429 at once; when their clients go, reads are served again', async () => {
    const list = `http://127.0.0.1:${port}/apis/v1/logs/filestream/S-1/${INSTANCE_ID}/list`;
    const stalled = [await stalledDownload(), await stalledDownload()];
    const refused = await request(list, { headers: { 'Cluster-Authorization': SECRET } });
    expect(refused.statusCode).toBe(429);
    expect(await refused.body.json()).toEqual({ error: 'Too many log reads in progress (at most 2), retry in a moment' });
    for (const socket of stalled) socket.destroy();
    const served = await waitUntil(
      'reads served again',
      async () => {
        const res = await request(list, { headers: { 'Cluster-Authorization': SECRET } });
        await res.body.dump();
        return res.statusCode === 200 && res.statusCode;
      },
      { timeoutMs: 2_000, intervalMs: 20 },
    );
    expect(served).toBe(200);
  });
});
