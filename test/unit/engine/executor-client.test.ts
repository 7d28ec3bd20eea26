import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpExecutorMessenger } from '../../../src/controller/cluster/http-messenger.js';
import type { ExecutorMessage } from '../../../src/model/index.js';

describe('HTTP executor messenger', () => {
  let server: Server | undefined;
  const messenger = new HttpExecutorMessenger({ controllerHostname: 'ctl.local', clusterSecret: 'ctl-secret', requestTimeoutMs: 2_000 });
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  async function serve(status: number, body: string): Promise<{ port: number; seen: Array<{ url?: string; method?: string; headers: IncomingHttpHeaders; body: string }> }> {
    const seen: Array<{ url?: string; method?: string; headers: IncomingHttpHeaders; body: string }> = [];
    server = createServer((req, res) => {
      let data = '';
      req.on('data', (c: Buffer) => (data += c.toString()));
      req.on('end', () => {
        seen.push({ url: req.url, method: req.method, headers: req.headers, body: data });
        res.statusCode = status;
        res.setHeader('Content-Type', 'application/json');
        res.end(body);
      });
    });
    return { port: await listen(server), seen };
  }

  async function listen(on: Server): Promise<number> {
    await new Promise<void>((resolve) => on.listen(0, '127.0.0.1', resolve));
    return (on.address() as { port: number }).port;
  }

  /** `count` messages to the executor at `port` at once, from a messenger of their own (a fresh connection pool). */
  async function sendAtOnce(port: number, count: number, requestTimeoutMs: number): Promise<string[]> {
    const own = new HttpExecutorMessenger({ controllerHostname: 'ctl.local', clusterSecret: 'ctl-secret', requestTimeoutMs });
    try {
      const m = message(port);
      const answers = await Promise.all(Array.from({ length: count }, () => own.send(m.address, m)));
      return answers.map((a) => a.status);
    } finally {
      await own.close();
    }
  }

  const message = (port: number): ExecutorMessage => ({
    type: 'STOP_LOCAL_SERVICE_INSTANCE',
    header: { id: 'm-1', senderType: 'CONTROLLER', direction: 'REQUEST', messageTime: 1 },
    address: { executorId: 'E-1', hostname: '127.0.0.1', port, transportType: 'HTTP' },
    instanceId: 'SI-1',
  });

  it('posts JSON to /apis/v1/messages with NodeId and Cluster-Authorization, and returns the status', async () => {
    const { port, seen } = await serve(200, JSON.stringify({ header: {}, status: 'ACCEPTED' }));
    const m = message(port);
    const answer = await messenger.send(m.address, m);
    expect(answer).toEqual({ header: m.header, status: 'ACCEPTED' });
    expect(seen[0]).toMatchObject({ url: '/apis/v1/messages', method: 'POST' });
    expect(seen[0]!.headers['content-type']).toBe('application/json');
    expect(seen[0]!.headers.nodeid).toBe('ctl.local');
    expect(seen[0]!.headers['cluster-authorization']).toBe('ctl-secret');
    expect(JSON.parse(seen[0]!.body)).toEqual(m);
  });

  it('passes the executor\'s reason on', async () => {
    const { port } = await serve(200, JSON.stringify({ status: 'FAILED', message: 'Instance not running' }));
    const m = message(port);
    expect(await messenger.send(m.address, m)).toEqual({ header: m.header, status: 'FAILED', message: 'Instance not running' });
  });

  it('treats a non-200 answer as FAILED', async () => {
    const { port } = await serve(401, '');
    const m = message(port);
    const answer = await messenger.send(m.address, m);
    expect(answer.status).toBe('FAILED');
    expect(answer.message).toContain('HTTP 401');
  });

  it('sends concurrent messages to one executor over one connection', async () => {
    const { port, seen } = await serve(200, JSON.stringify({ header: {}, status: 'ACCEPTED' }));
    let connections = 0;
    server!.on('connection', () => connections++);
    expect(await sendAtOnce(port, 8, 2_000)).toEqual(Array(8).fill('ACCEPTED'));
    expect(seen).toHaveLength(8);
    expect(connections).toBe(1);
  });

  it('pipelines messages to one executor: the fourth reaches it before the first is answered', async () => {
    // The executor holds its answers until it has four requests (or 1 s passed): one at a time, it would see one.
    const held: Array<() => void> = [];
    let arrivedBeforeFirstAnswer = 0;
    let answered = false;
    let connections = 0;
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (!answered) arrivedBeforeFirstAnswer++;
        held.push(() => {
          res.setHeader('Content-Type', 'application/json');
          res.end(JSON.stringify({ status: 'ACCEPTED' }));
        });
        if (held.length === 4) release();
      });
    });
    const release = () => {
      answered = true;
      for (const answer of held.splice(0)) answer();
    };
    const fallback = setInterval(() => held.length > 0 && release(), 1_000);
    server.on('connection', () => connections++);
    try {
      expect(await sendAtOnce(await listen(server), 4, 5_000)).toEqual(Array(4).fill('ACCEPTED'));
      expect(arrivedBeforeFirstAnswer).toBe(4);
      expect(connections).toBe(1);
    } finally {
      clearInterval(fallback);
    }
  });

  it('treats an unreachable executor as FAILED, never throwing', async () => {
    const { port } = await serve(200, '{}');
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
    const m = message(port);
    const answer = await messenger.send(m.address, m);
    expect(answer.status).toBe('FAILED');
    expect(answer.message).toContain('unreachable');
  });
});
