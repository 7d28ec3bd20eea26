import { createServer, type Socket } from 'node:net';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { ControllerClient } from '../../../src/executor/controller-client.js';
import { systemClock } from '../../../src/model/clock.js';
import type { ControllerMessage } from '../../../src/model/executor.js';
import { silentLogger } from './fakes.js';
import { instanceInfo, nodeData, resourceSnapshot } from '../../support/records.js';

/** Two controllers on loopback; only the leader answers ping with 200 SUCCESS. */
async function controller(name: string, state: { leader: string }, seen: Array<{ name: string; secret?: string; nodeId?: string }>) {
  const app = Fastify();
  app.addHook('onRequest', async (req, reply) => {
    seen.push({ name, secret: req.headers['cluster-authorization'] as string, nodeId: req.headers.nodeid as string });
    if (state.leader !== name) return reply.code(400).send({ status: 'FAILED', message: 'This node is not the leader controller' });
  });
  app.get('/apis/v1/ping', async () => ({ status: 'SUCCESS', data: 'pong', message: 'success' }));
  app.post('/apis/v1/messages', async (req) => ({ header: (req.body as { header: unknown }).header, status: 'ACCEPTED' }));
  app.get('/apis/v1/internal/cluster/resources/reserved', async () => ({ status: 'SUCCESS', data: { cpus: 1, memory: 2, requiredInstances: { S: 1 } }, message: 'success' }));
  return { app, url: await app.listen({ host: '127.0.0.1', port: 0 }) };
}

describe('controller client', () => {
  const state = { leader: 'b' };
  const seen: Array<{ name: string; secret?: string; nodeId?: string }> = [];
  const apps: Array<{ close(): Promise<void> }> = [];
  afterAll(async () => Promise.all(apps.map((a) => a.close())));

  it('finds the leader, authenticates, and re-finds it after leadership moves', async () => {
    const a = await controller('a', state, seen);
    const b = await controller('b', state, seen);
    apps.push(a.app, b.app);
    const client = new ControllerClient({ endpoints: [a.url, b.url, 'http://127.0.0.1:1'], secret: 's3cret', nodeId: 'ex1', clock: systemClock, logger: silentLogger });
    expect(await client.findLeader()).toBe(b.url);
    const heartbeat = (): ControllerMessage => ({ type: 'EXECUTOR_SNAPSHOT', header: client.header(), nodeData: nodeData() });
    expect((await client.send(heartbeat())).status).toBe('ACCEPTED');
    expect(await client.get('/apis/v1/internal/cluster/resources/reserved')).toEqual({ cpus: 1, memory: 2, requiredInstances: { S: 1 } });
    expect(seen.every((s) => s.secret === 's3cret' && s.nodeId === 'ex1')).toBe(true);

    state.leader = 'a';
    const refused = await client.send(heartbeat());
    expect(refused.status).toBe('UNREACHABLE');
    expect(refused.message).toContain('HTTP 400');
    expect(client.currentLeader).toBeUndefined();
    expect((await client.send(heartbeat())).status).toBe('ACCEPTED');
    expect(client.currentLeader).toBe(a.url);

    state.leader = 'none';
    expect(await client.findLeader()).toBeUndefined();
    expect((await client.send(heartbeat())).status).toBe('UNREACHABLE');
    await client.close();
  });

  it('finds the leader without waiting for a controller that never answers (paused, cut off)', async () => {
    const leader = await controller('b', { leader: 'b' }, []);
    apps.push(leader.app);
    // Accepts connections and never answers, like a SIGSTOPped controller.
    const sockets: Socket[] = [];
    const hung = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const hungUrl = `http://127.0.0.1:${(hung.address() as { port: number }).port}`;
    const client = new ControllerClient({
      endpoints: [hungUrl, leader.url],
      secret: 's',
      nodeId: 'ex1',
      clock: systemClock,
      logger: silentLogger,
      requestTimeoutMs: 60_000,
    });
    try {
      const outcome = await Promise.race([
        client.findLeader(),
        new Promise((resolve) => setTimeout(() => resolve('still waiting for the hung controller'), 3_000)),
      ]);
      expect(outcome).toBe(leader.url);
      // Closing aborts the ping still waiting for the hung controller instead of waiting out its 60 s timeout.
      const closing = Date.now();
      await client.close();
      expect(Date.now() - closing).toBeLessThan(5_000);
    } finally {
      await client.close();
      for (const socket of sockets) socket.destroy();
      hung.close();
    }
  });

  it('holds at most two connections to the leader, and a heartbeat does not wait behind a report the leader is slow to answer', async () => {
    const app = Fastify();
    let connections = 0;
    app.server.on('connection', () => connections++);
    const held: Array<() => void> = [];
    app.get('/apis/v1/ping', async () => ({ status: 'SUCCESS', data: 'pong', message: 'success' }));
    app.get('/apis/v1/internal/cluster/resources/reserved', async () => ({ status: 'SUCCESS', data: { cpus: 0 }, message: 'success' }));
    app.post('/apis/v1/messages', async (req) => {
      const body = req.body as ControllerMessage;
      if (body.type !== 'EXECUTOR_SNAPSHOT') await new Promise<void>((resolve) => held.push(resolve));
      return { header: body.header, status: 'ACCEPTED' };
    });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    apps.push(app);
    const client = new ControllerClient({ endpoints: [url], secret: 's', nodeId: 'ex1', clock: systemClock, logger: silentLogger });
    try {
      expect(await client.findLeader()).toBe(url);
      const report = (): ControllerMessage => ({
        type: 'LOCAL_SERVICE_INSTANCE_STATE_REPORT',
        header: client.header(),
        resourceSnapshot: resourceSnapshot('ex1'),
        instanceInfo: instanceInfo(),
      });
      // Reports and GETs at once, as at start-up; the leader sits on the reports.
      const reports = Array.from({ length: 4 }, () => client.send(report()));
      const gets = Array.from({ length: 2 }, () => client.get('/apis/v1/internal/cluster/resources/reserved'));
      for (let i = 0; i < 3; i++) {
        const heartbeat: ControllerMessage = { type: 'EXECUTOR_SNAPSHOT', header: client.header(), nodeData: nodeData() };
        expect((await client.send(heartbeat)).status).toBe('ACCEPTED');
      }
      // The leader answers the reports now, one after another as they reach it.
      let settled = false;
      void Promise.all(reports).then(() => (settled = true));
      while (!settled) {
        for (const release of held.splice(0)) release();
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect((await Promise.all(reports)).map((r) => r.status)).toEqual(['ACCEPTED', 'ACCEPTED', 'ACCEPTED', 'ACCEPTED']);
      expect(await Promise.all(gets)).toEqual([{ cpus: 0 }, { cpus: 0 }]);
      expect(connections).toBeLessThanOrEqual(2);
    } finally {
      for (const release of held.splice(0)) release();
      await client.close();
    }
  });
});
