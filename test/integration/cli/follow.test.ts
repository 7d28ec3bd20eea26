import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildBinary, exited, spawnCli, startControllerProcess, type ControllerProcess } from './harness.js';
import { waitUntil } from '../../support/wait.js';

/**
 * `drove cluster events --follow` (the built binary): against a real `drove controller` it reads the event stream
 * (docs/events.md); against a server with only Drove's poll routes it polls; across a stream the server ends it
 * resumes with Last-Event-ID. Every event printed once, in order; Ctrl-C exits 0.
 */

let controller: ControllerProcess;
const root = ['-u', 'root', '-p', 'root'];

async function maintenance(on: boolean): Promise<void> {
  const response = await fetch(`${controller.url}/apis/v1/cluster/maintenance/${on ? 'set' : 'unset'}`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from('root:root').toString('base64')}`, 'content-type': 'application/json' },
    body: '{}',
  });
  expect(response.status).toBe(200);
}

/** The JSON lines a `--json` follower printed, parsed. */
function jsonLines(output: string): Array<{ type: string; id: string; metadata: Record<string, unknown> }> {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { type: string; id: string; metadata: Record<string, unknown> });
}

beforeAll(async () => {
  await buildBinary();
  controller = await startControllerProcess();
}, 180_000);

afterAll(async () => {
  await controller?.stop();
});

describe('drove cluster events --follow', () => {
  test('against drove-ts: the latest events, then each new one as it happens, from the stream, once each', async () => {
    await maintenance(true);
    await maintenance(false);
    const follow = spawnCli(['-e', controller.url, ...root, '-d', 'cluster', 'events', '--follow', '--json', '--type', 'MAINTENANCE_MODE_SET'], {});
    await waitUntil('the history printed', () => jsonLines(follow.output()).length === 1);
    for (let i = 0; i < 10; i++) await maintenance(i % 2 === 0);
    await waitUntil('every new event printed', () => jsonLines(follow.output()).length === 6);
    const lines = jsonLines(follow.output());
    expect(lines.map((l) => l.type)).toEqual(Array.from({ length: 6 }, () => 'MAINTENANCE_MODE_SET'));
    expect(new Set(lines.map((l) => l.id)).size).toBe(6);
    follow.child.kill('SIGINT');
    expect(await exited(follow.child)).toBe(0);
    // Streamed, not polled: one stream request, one history page, no further polls.
    const requests = follow.output().split('\n').filter((l) => l.startsWith('> GET'));
    expect(requests.filter((r) => r.includes('/apis/v1/cluster/events/stream?type=MAINTENANCE_MODE_SET'))).toHaveLength(1);
    expect(requests.filter((r) => r.includes('/apis/v1/cluster/events/latest'))).toHaveLength(1);
  });

  test('the table columns of the one-off command, oldest first', async () => {
    const follow = spawnCli(['-e', controller.url, ...root, 'cluster', 'events', '--follow', '--count', '2'], {});
    await waitUntil('two history lines', () => follow.output().trimEnd().split('\n').length >= 2);
    await maintenance(true);
    await waitUntil('the new event', () => follow.output().trimEnd().split('\n').length === 3);
    follow.child.kill('SIGINT');
    expect(await exited(follow.child)).toBe(0);
    const lines = follow.output().trimEnd().split('\n');
    for (const line of lines) expect(line).toMatch(/^MAINTENANCE_MODE_(SET|REMOVED) +\| [0-9a-f-]{36} \| \d\d\/\d\d\/\d{4}, \d\d:\d\d:\d\d \| \{"HOSTNAME": /);
    expect(lines[2]).toMatch(/^MAINTENANCE_MODE_SET /);
  });
});

/** A server that is not drove-ts: Drove's poll route, and 404 for everything else (as Drove answers). */
describe('against a server without the stream (Drove)', () => {
  let stub: FastifyInstance;
  let url: string;
  const events: Array<{ type: string; id: string; time: number; metadata: Record<string, string> }> = [];
  const add = (n: number) => events.push({ type: 'EXECUTOR_ADDED', id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, time: 1_700_000_000_000 + n, metadata: { EXECUTOR_ID: `E${n}` } });

  beforeAll(async () => {
    stub = Fastify();
    stub.get<{ Querystring: { lastSyncTime?: string; size?: string } }>('/apis/v1/cluster/events/latest', async (request) => {
      const after = Number(request.query.lastSyncTime ?? 0);
      const newer = events.filter((e) => e.time > after).reverse();
      return { status: 'SUCCESS', data: { events: newer, lastSyncTime: events.at(-1)?.time ?? after }, message: 'success' };
    });
    url = await stub.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => stub?.close());

  test('polls the poll route and prints every event once', async () => {
    add(1);
    const follow = spawnCli(['-e', url, '-d', 'cluster', 'events', '--follow', '--json'], {});
    await waitUntil('the first event', () => jsonLines(follow.output()).length === 1);
    add(2);
    add(3);
    await waitUntil('the polled events', () => jsonLines(follow.output()).length === 3);
    follow.child.kill('SIGINT');
    expect(await exited(follow.child)).toBe(0);
    expect(jsonLines(follow.output()).map((e) => e.metadata.EXECUTOR_ID)).toEqual(['E1', 'E2', 'E3']);
    expect(follow.output()).toContain('< 404 GET');
    expect(follow.output().split('\n').filter((l) => l.startsWith('> GET') && l.includes('/events/latest')).length).toBeGreaterThan(1);
  });
});

/** A stream the server ends: the follower resumes after the last id it got, says what may be lost, prints on. */
describe('a stream that the server ends', () => {
  let stub: FastifyInstance;
  let url: string;
  const resumes: Array<string | undefined> = [];
  const event = (n: number) => ({ type: 'EXECUTOR_ADDED', id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, time: 1_700_000_000_000 + n, metadata: { EXECUTOR_ID: `E${n}` } });
  const message = (n: number) => `id: ${(1_700_000_000_000 + n) * 1000 + 7}\nevent: EXECUTOR_ADDED\ndata: ${JSON.stringify(event(n))}\n\n`;

  beforeAll(async () => {
    stub = Fastify();
    stub.get('/apis/v1/cluster/events/latest', async () => ({ status: 'SUCCESS', data: { events: [], lastSyncTime: 0 }, message: 'success' }));
    stub.get('/apis/v1/cluster/events/stream', async (request, reply) => {
      const lastEventId = request.headers['last-event-id'] as string | undefined;
      resumes.push(lastEventId);
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
      if (resumes.length === 1) {
        // The first connection: two events, then the server goes away (as on a leadership change).
        reply.raw.end(`${message(1)}${message(2)}`);
      } else {
        // A message that is not JSON (not of this protocol) is passed over.
        reply.raw.write(`event: lost\ndata: {"from":${lastEventId},"to":${(1_700_000_000_000 + 5) * 1000 + 3}}\n\ndata: <html>\n\n${message(5)}: heartbeat\n\n`);
      }
    });
    url = await stub.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => stub?.close());

  test('reconnects with Last-Event-ID, notes the possible loss on stderr, and goes on', async () => {
    const follow = spawnCli(['-e', url, 'cluster', 'events', '--follow', '--json'], {});
    await waitUntil('three events', () => jsonLines(follow.output()).length === 3);
    follow.child.kill('SIGINT');
    expect(await exited(follow.child)).toBe(0);
    expect(jsonLines(follow.output()).map((e) => e.metadata.EXECUTOR_ID)).toEqual(['E1', 'E2', 'E5']);
    expect(resumes).toEqual([undefined, String((1_700_000_000_000 + 2) * 1000 + 7)]);
    expect(follow.output()).toContain(`Events after id ${(1_700_000_000_000 + 2) * 1000 + 7} may be missing`);
  });
});
