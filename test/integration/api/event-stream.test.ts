import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startControllerServer, type RunningController } from '../../../src/controller/server.js';
import { ADMIN, ROOT, testConfig } from '../../support/controller-config.js';
import { SseClient, type StreamedEvent } from '../../support/sse-client.js';
import { waitUntil } from '../../support/wait.js';

/**
 * The event stream (docs/events.md) of a real controller over real HTTP: resumes without loss or duplicates,
 * filters, lost-event markers, validation. Slow clients: event-stream-slow-clients.test.ts.
 */

const STREAM = '/apis/v1/cluster/events/stream';

let running: RunningController;
let dir: string;
const url = (query = '') => `${running.url}${STREAM}${query}`;

async function call(method: string, path: string, body?: unknown, who = ADMIN): Promise<{ status: number; body: any }> {
  const response = await fetch(`${running.url}${path}`, {
    method,
    headers: { ...who, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: await response.json() };
}

/** Emits one MAINTENANCE_MODE_SET or _REMOVED event through the API (each call writes the store). */
async function toggleMaintenance(on: boolean): Promise<void> {
  const answer = await call('POST', `/apis/v1/cluster/maintenance/${on ? 'set' : 'unset'}`, {}, ROOT);
  expect(answer.status).toBe(200);
}

/** Every event the controller holds, oldest first, as the poll API returns them. */
async function polledEvents(): Promise<StreamedEvent['event'][]> {
  const answer = await call('GET', '/apis/v1/cluster/events/latest?size=100000&lastSyncTime=0');
  return (answer.body.data.events as StreamedEvent['event'][]).reverse();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'drove-event-stream-'));
  const config = testConfig({
    server: { host: '127.0.0.1', port: 0, hostname: '127.0.0.1' },
    store: { type: 'sqlite', path: join(dir, 'drove.db') },
    options: { maintenanceGracePeriod: '0 seconds' },
  });
  running = await startControllerServer(config, { logger: pino({ level: 'silent' }) });
});

afterAll(async () => {
  await running?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('event stream', () => {
  test('a client that disconnects and resumes with Last-Event-ID sees every event exactly once', async () => {
    const before = (await polledEvents()).length;
    const total = 300;
    // Events keep coming while the client is connected, while it is away and after it is back.
    let generated = 0;
    const generator = (async () => {
      for (; generated < total; generated++) await toggleMaintenance(generated % 2 === 0);
    })();
    const first = await SseClient.open(url('?lastEventId=0'), ADMIN);
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toBe('text/event-stream');
    await first.waitForEvents(before + 40);
    first.close();
    const seenFirst = first.events();
    const resumeFrom = seenFirst.at(-1)!.id;
    // Away until a hundred more events were emitted.
    const away = generated;
    await waitUntil('events emitted while the client is away', () => generated >= away + 100);
    const second = await SseClient.open(url(), { ...ADMIN, 'last-event-id': String(resumeFrom) });
    expect(second.status).toBe(200);
    await generator;
    const all = await polledEvents();
    await second.waitForEvents(all.length - seenFirst.length);
    second.close();

    const streamed = [...seenFirst, ...second.events()];
    expect(second.lost()).toEqual([]);
    // Exactly once each, in the log's order: the same event ids as the poll API, no gap, no repeat.
    expect(streamed.map((e) => e.event.id)).toEqual(all.map((e) => e.id));
    // The data of each message is the event exactly as the poll API returns it; the SSE event names its type.
    expect(streamed.map((e) => e.event)).toEqual(all);
    expect(streamed.every((e) => e.type === e.event.type)).toBe(true);
    // Stream ids are strictly increasing.
    const ids = streamed.map((e) => e.id);
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true);
    expect(second.events()[0]!.id).toBeGreaterThan(resumeFrom);
  });

  test('filters by type and by service id; new events only without a Last-Event-ID', async () => {
    const sets = await SseClient.open(url('?type=MAINTENANCE_MODE_SET'), ADMIN);
    const both = await SseClient.open(url('?type=MAINTENANCE_MODE_SET&type=MAINTENANCE_MODE_REMOVED'), ADMIN);
    const service = await SseClient.open(url('?serviceId=TEST_SPEC-00001'), ADMIN);
    for (let i = 0; i < 6; i++) await toggleMaintenance(i % 2 === 0);
    const created = await call('POST', '/apis/v1/localservices/operations', {
      type: 'CREATE',
      spec: (await import('../../support/api-harness.js')).validSpec(),
      instancesPerHost: 1,
    });
    expect(created.status).toBe(200);
    await both.waitForEvents(6);
    await service.waitForEvents(1);
    await sets.waitForEvents(3);
    // Nothing from before the streams opened; exactly what each asked for.
    expect(sets.events().map((e) => e.type)).toEqual(['MAINTENANCE_MODE_SET', 'MAINTENANCE_MODE_SET', 'MAINTENANCE_MODE_SET']);
    expect(both.events().map((e) => e.type)).toEqual(Array.from({ length: 3 }, () => ['MAINTENANCE_MODE_SET', 'MAINTENANCE_MODE_REMOVED']).flat());
    expect(service.events().map((e) => [e.type, e.event.metadata.LOCAL_SERVICE_ID, e.event.metadata.CURRENT_STATE])).toEqual([
      ['LOCAL_SERVICE_STATE_CHANGE', 'TEST_SPEC-00001', 'INACTIVE'],
    ]);
    for (const client of [sets, both, service]) client.close();
  });

  test('a resume the controller cannot vouch for first says which events may be lost, then sends all it holds', async () => {
    const held = await polledEvents();
    const { tag } = running.app.eventStreams;
    // An id of another controller's log (another tag) whose time falls among the events held, and one of this
    // log from before its horizon. The horizon is the log's start, which precedes its first event
    // (LEADERSHIP_ACQUIRED) by however long start-up took: more than 5 ms on a loaded machine, so a time a few ms
    // before the first event may still be one the log vouches for. An hour before it is not (the log began in
    // this file's beforeAll).
    const foreign = held[Math.floor(held.length / 2)]!.time * 1000 + ((tag + 1) % 1000);
    const beforeRetention = (held[0]!.time - 3_600_000) * 1000 + tag;
    for (const id of [foreign, beforeRetention]) {
      const client = await SseClient.open(url(`?lastEventId=${id}`), ADMIN);
      await client.waitForEvents(held.length);
      client.close();
      const firstId = client.events()[0]!.id;
      expect(client.messages[0]!.event).toBe('lost');
      expect(client.lost()).toEqual([{ from: id, to: firstId }]);
      expect(client.events().map((e) => e.event.id)).toEqual(held.map((e) => e.id));
    }
  });

  test('the query lastEventId resumes like the header; the header wins over it', async () => {
    const held = await polledEvents();
    const everything = await SseClient.open(url('?lastEventId=0'), ADMIN);
    const streamed = await everything.waitForEvents(held.length);
    everything.close();
    const middle = streamed[Math.floor(streamed.length / 2)]!.id;
    const expected = streamed.filter((e) => e.id > middle).map((e) => e.event.id);
    const byQuery = await SseClient.open(url(`?lastEventId=${middle}`), ADMIN);
    const byHeader = await SseClient.open(url('?lastEventId=0'), { ...ADMIN, 'last-event-id': String(middle) });
    for (const client of [byQuery, byHeader]) {
      await client.waitForEvents(expected.length);
      client.close();
      expect(client.lost()).toEqual([]);
      expect(client.events().map((e) => e.event.id)).toEqual(expected);
    }
  });

  test('bad filters and ids are 400s naming the field; no credentials is 401; HEAD answers the headers only', async () => {
    const unknown = await SseClient.open(url('?type=MAINTENANCE_MODE_SET&type=NO_SUCH_EVENT'), ADMIN);
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.body)).toMatchObject({
      status: 'FAILED',
      data: { validationErrors: [expect.stringContaining('type: unknown event type "NO_SUCH_EVENT"')] },
    });
    const badId = await SseClient.open(url(), { ...ADMIN, 'last-event-id': 'abc' });
    expect(badId.status).toBe(400);
    expect(JSON.parse(badId.body).data.validationErrors).toEqual([expect.stringContaining('Last-Event-ID: must be a non-negative integer')]);
    const twoIds = await SseClient.open(url('?lastEventId=1&lastEventId=2'), ADMIN);
    expect(twoIds.status).toBe(400);
    expect(JSON.parse(twoIds.body).data.validationErrors).toEqual(['lastEventId: give one id, got 2']);
    const emptyService = await SseClient.open(url('?serviceId='), ADMIN);
    expect(JSON.parse(emptyService.body).data.validationErrors).toEqual(['serviceId: must not be empty']);
    expect((await SseClient.open(url())).status).toBe(401);
    const head = await SseClient.open(url(), ADMIN, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe('text/event-stream');
    await head.closed;
    expect(running.app.eventStreams.size).toBe(0);
  });
});
