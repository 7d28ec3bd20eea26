import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildControllerApp } from '../../src/controller/api/app.js';
import { buildExecutorApp } from '../../src/executor/app.js';
import { systemClock } from '../../src/model/index.js';
import { FakeCore } from '../support/fake-core.js';
import { GUEST, testConfig } from '../support/controller-config.js';

/**
 * Finding: neither server set request, headers or keep-alive timeouts (Node's defaults: 60 s for headers, none
 * for the whole request on fastify), so a client trickling its headers or body one byte at a time held a socket
 * and a parser for minutes, and a few hundred such clients exhausted the file descriptors of a controller or
 * an executor. Real servers, raw sockets; small configured values so the test is quick, and the defaults read
 * back from the real server objects.
 */

/** Small values: a slow client must be cut well inside the 3 s the test waits, whatever the machine's load. */
const SMALL = { headersTimeoutMs: 300, requestTimeoutMs: 800, keepAliveTimeoutMs: 300, connectionsCheckingIntervalMs: 100 };
const WAIT_MS = 3_000;

/** Writes `data`, then waits (at most WAIT_MS) for the server to close the connection. */
function holdOpen(port: number, data: string): Promise<{ closedAfterMs: number; response: string }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let response = '';
    const started = Date.now();
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ closedAfterMs: Number.POSITIVE_INFINITY, response });
    }, WAIT_MS);
    socket.on('connect', () => socket.write(data));
    socket.on('data', (chunk) => (response += chunk.toString('utf8')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ closedAfterMs: Date.now() - started, response });
    });
  });
}

const guest = `Authorization: ${GUEST.authorization}\r\n`;

function slowClientCases(name: string, setup: () => Promise<{ port: number; post: string; headers: string }>) {
  describe(`${name}: slow and idle clients are cut off`, () => {
    let target: { port: number; post: string; headers: string };
    beforeAll(async () => {
      target = await setup();
    });

    test('headers never finished: 408 and closed after the headers timeout', async () => {
      const { closedAfterMs, response } = await holdOpen(target.port, `GET ${target.post} HTTP/1.1\r\nHost: x\r\n${target.headers}`);
      expect(closedAfterMs).toBeLessThan(WAIT_MS);
      expect(closedAfterMs).toBeGreaterThanOrEqual(SMALL.headersTimeoutMs - 50);
      expect(response).toMatch(/^HTTP\/1\.1 408/);
    });

    test('body trickling in: 408 and closed after the request timeout', async () => {
      const head = `POST ${target.post} HTTP/1.1\r\nHost: x\r\n${target.headers}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":`;
      const { closedAfterMs, response } = await holdOpen(target.port, head);
      expect(closedAfterMs).toBeLessThan(WAIT_MS);
      expect(closedAfterMs).toBeGreaterThanOrEqual(SMALL.requestTimeoutMs - 50);
      expect(response).toMatch(/^HTTP\/1\.1 408/);
    });

    test('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
      const { closedAfterMs, response } = await holdOpen(target.port, `GET /nothing HTTP/1.1\r\nHost: x\r\n${target.headers}\r\n`);
      expect(response).toMatch(/^HTTP\/1\.1 (401|404)/);
      expect(response.toLowerCase()).toContain('keep-alive');
      expect(closedAfterMs).toBeLessThan(WAIT_MS);
    });
  });
}

let controller: FastifyInstance;
let executor: FastifyInstance;
afterAll(async () => {
  await controller?.close();
  await executor?.close();
});

slowClientCases('controller', async () => {
  controller = buildControllerApp({ core: new FakeCore(), config: testConfig(), limits: SMALL });
  await controller.listen({ host: '127.0.0.1', port: 0 });
  return { port: (controller.server.address() as { port: number }).port, post: '/apis/v1/localservices/validate/spec', headers: guest };
});

slowClientCases('executor', async () => {
  const secrets = [{ nodeType: 'CONTROLLER' as const, secret: 'c-secret' }];
  executor = buildExecutorApp({ config: { clusterAuth: { secrets }, logDir: '/nonexistent' }, clock: systemClock, handler: () => undefined, limits: SMALL });
  await executor.listen({ host: '127.0.0.1', port: 0 });
  return { port: (executor.server.address() as { port: number }).port, post: '/apis/v1/messages', headers: 'Cluster-Authorization: c-secret\r\n' };
});

describe('the defaults reach the real servers', () => {
  test('controller: headers 10 s, request 30 s, keep-alive 72 s', async () => {
    const app = buildControllerApp({ core: new FakeCore(), config: testConfig() });
    expect([app.server.headersTimeout, app.server.requestTimeout, app.server.keepAliveTimeout]).toEqual([10_000, 30_000, 72_000]);
    await app.close();
  });

  test('executor: headers 10 s, request 60 s, keep-alive 10 s', async () => {
    const app = buildExecutorApp({ config: { clusterAuth: { secrets: [] }, logDir: '/nonexistent' }, clock: systemClock, handler: () => undefined });
    expect([app.server.headersTimeout, app.server.requestTimeout, app.server.keepAliveTimeout]).toEqual([10_000, 60_000, 10_000]);
    await app.close();
  });
});
