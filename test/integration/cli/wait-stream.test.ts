import Fastify, { type FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { DroveEvent, LocalServiceInstanceInfo, LocalServiceSummary } from '../../../src/model/index.js';
import { instanceInfo } from '../../support/records.js';
import { buildBinary, runCli } from './harness.js';

/**
 * `--wait` against a small real HTTP server that speaks the controller's event-stream contract
 * (`GET /apis/v1/cluster/events/stream`: `id`, `event`, one JSON `data` line per event, `event: lost`, `:`
 * heartbeats) next to the read APIs, scripted per test: the built binary must read the stream (and resume it
 * from the last id), fall back to the events poll API where the stream is unknown (404), and stop on a refusal.
 */

const SID = 'NODE_EXPORTER-1';
const home = mkdtempSync(join(tmpdir(), 'drove-cli-stream-'));

interface Stub {
  summary: LocalServiceSummary;
  instances: LocalServiceInstanceInfo[];
  /** What the stream route does: serve it, answer 404, or answer 400 naming a leader. */
  stream: 'serve' | '404' | 'not-leader';
  /** Runs when an operation is posted. */
  onOperation: (body: { type: string }) => void;
  /** Query strings of the stream requests, in order. */
  streamQueries: URLSearchParams[];
  /** Last-Event-ID headers of the stream requests, in order (undefined: none sent). */
  streamResumes: Array<string | undefined>;
  pollQueries: URLSearchParams[];
  operations: Array<{ type: string }>;
  clients: ServerResponse[];
  nextId: number;
  polledEvents: DroveEvent[];
  /** Runs after each answer of the poll API, with the events it answered. */
  onPoll: (answered: DroveEvent[]) => void;
}

let app: FastifyInstance;
let url: string;
let stub: Stub;

function summary(overrides: Partial<LocalServiceSummary> = {}): LocalServiceSummary {
  return {
    id: SID, name: 'NODE_EXPORTER', instancesPerHost: 1, healthyInstances: 0, totalCPUs: 1, totalMemory: 64, tags: {},
    activationState: 'INACTIVE', state: 'INACTIVE', created: 1, updated: 1, ...overrides,
  };
}

const ok = (data: unknown) => ({ status: 'SUCCESS', data, message: 'success' });

/** Sends one event to every open stream, as the contract has it. */
function send(event: DroveEvent, name: string = event.type): void {
  const id = stub.nextId++;
  for (const client of stub.clients) client.write(`id: ${id}\nevent: ${name}\ndata: ${JSON.stringify(event)}\n\n`);
}

function serviceEvent(state: string): DroveEvent {
  return { type: 'LOCAL_SERVICE_STATE_CHANGE', id: `s-${stub.nextId}`, time: Date.now(), metadata: { LOCAL_SERVICE_ID: SID, CURRENT_STATE: state } };
}

function instanceEvent(instanceId: string, state: string, error: string): DroveEvent {
  return {
    type: 'LOCAL_SERVICE_INSTANCE_STATE_CHANGE', id: `i-${stub.nextId}`, time: Date.now(),
    metadata: { SERVICE_ID: SID, INSTANCE_ID: instanceId, EXECUTOR_ID: 'E1', EXECUTOR_HOST: 'host-1', CURRENT_STATE: state, ERROR: error },
  };
}

beforeAll(async () => {
  await buildBinary();
  app = Fastify();
  app.get('/apis/v1/localservices/:id', async () => ok(stub.summary));
  app.get('/apis/v1/localservices/:id/instances', async () => ok(stub.instances));
  app.get('/apis/v1/cluster/executors', async () =>
    ok([{ executorId: 'E1', hostname: 'host-1', port: 3000, transportType: 'HTTP', freeCores: 1, usedCores: 0, freeMemory: 1, usedMemory: 0, tags: [], state: 'ACTIVE' }]),
  );
  app.post('/apis/v1/localservices/operations', async (request) => {
    const body = request.body as { type: string };
    stub.operations.push(body);
    // After the answer is on its way, as a controller's service runner picks an operation up.
    setTimeout(() => stub.onOperation(body), 50);
    return ok({ serviceId: SID });
  });
  app.get('/apis/v1/cluster/events/latest', async (request) => {
    const query = new URLSearchParams(request.url.split('?')[1]);
    stub.pollQueries.push(query);
    const since = Number(query.get('lastSyncTime'));
    const events = stub.polledEvents.filter((e) => e.time > since).reverse();
    setImmediate(() => stub.onPoll(events));
    return ok({ events, lastSyncTime: events.length > 0 ? events[0]!.time : since || 1000 });
  });
  app.get('/apis/v1/cluster/events/stream', async (request, reply) => {
    stub.streamQueries.push(new URLSearchParams(request.url.split('?')[1]));
    const resume = request.headers['last-event-id'];
    stub.streamResumes.push(typeof resume === 'string' ? resume : undefined);
    if (stub.stream === '404') return reply.code(404).send({ status: 'FAILED', message: 'HTTP 404 Not Found' });
    if (stub.stream === 'not-leader') return reply.code(400).send({ status: 'FAILED', data: { leader: '10.0.0.9:4000' }, message: 'This node is not the leader controller' });
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    reply.raw.write(': connected\n\n');
    stub.clients.push(reply.raw);
    request.raw.on('close', () => (stub.clients = stub.clients.filter((c) => c !== reply.raw)));
  });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
}, 300_000);

afterAll(async () => {
  for (const client of stub?.clients ?? []) client.end();
  await app?.close();
});

beforeEach(() => {
  stub = { summary: summary(), instances: [], stream: 'serve', onOperation: () => {}, streamQueries: [], streamResumes: [], pollQueries: [], operations: [], clients: [], nextId: 1, polledEvents: [], onPoll: () => {} };
});

const drove = (...args: string[]) => runCli(['-e', url, ...args], { HOME: home });

describe('--wait on the event stream', () => {
  test('subscribes to the service before submitting; a rollout shown by events and the read APIs completes', async () => {
    stub.onOperation = () => {
      stub.summary = summary({ activationState: 'ACTIVE', state: 'ADJUSTING_INSTANCES' });
      send(serviceEvent('ADJUSTING_INSTANCES'));
      setTimeout(() => {
        stub.instances = [instanceInfo({ serviceId: SID, executorId: 'E1', localInfo: { hostname: 'host-1', ports: {} } })];
        stub.summary = summary({ activationState: 'ACTIVE', state: 'ACTIVE', healthyInstances: 1 });
        send(instanceEvent(stub.instances[0]!.instanceId, 'HEALTHY', ''));
        send(serviceEvent('ACTIVE'));
      }, 300);
    };
    const res = await drove('localservices', 'activate', SID, '--wait', '--timeout', '60s');
    expect(res.code, res.stderr).toBe(0);
    // The first look may come before the stub takes the operation up (INACTIVE); then the events drive it.
    expect(res.stdout).toMatch(/^Local service activated\n(\[ +\d+s\] NODE_EXPORTER-1 INACTIVE\n)?\[ +\d+s\] NODE_EXPORTER-1 ADJUSTING_INSTANCES, hosts 0\/1, healthy 0\/1\n/);
    expect(res.stdout).toMatch(/Local service NODE_EXPORTER-1 is ACTIVE, hosts 1\/1, healthy 1\/1 \(took \d+s\)\n$/);
    expect(stub.streamQueries).toHaveLength(1);
    expect(stub.streamQueries[0]!.getAll('type')).toEqual(['LOCAL_SERVICE_STATE_CHANGE', 'LOCAL_SERVICE_INSTANCE_STATE_CHANGE']);
    expect(stub.streamQueries[0]!.getAll('serviceId')).toEqual([SID]);
    expect(stub.pollQueries).toEqual([]);
  });

  test('failures only the stream saw (the instances never showed in a look) fail the wait with their reason', async () => {
    stub.onOperation = () => {
      stub.summary = summary({ activationState: 'ACTIVE', state: 'ADJUSTING_INSTANCES' });
      send(serviceEvent('ADJUSTING_INSTANCES'));
      for (const n of [1, 2, 3]) send(instanceEvent(`SI-${n}`, 'START_FAILED', `Error response from daemon: No such image: drove-ts/nope:${n}`));
    };
    const res = await drove('localservices', 'activate', SID, '--wait', '--timeout', '120s');
    expect(res.code, res.stdout + res.stderr).toBe(3);
    expect(res.stdout).toContain('] failed: SI-1 on host-1: START_FAILED: Error response from daemon: No such image: drove-ts/nope:1\n');
    expect(res.stderr).toBe(
      "Error: activate NODE_EXPORTER-1 failed: 3 new instances failed, last: SI-3 on host-1: START_FAILED: Error response from daemon: No such image: drove-ts/nope:3; the controller goes on retrying (see 'drove lsinstances list --old'; 'drove localservices cancelop' stops it)\n",
    );
    expect(stub.pollQueries).toEqual([]);
  });

  test('a stream that ends is resumed from the last event id, and `lost` is survived', async () => {
    stub.onOperation = () => {
      stub.summary = summary({ activationState: 'ACTIVE', state: 'ADJUSTING_INSTANCES' });
      send(serviceEvent('ADJUSTING_INSTANCES'));
      send(instanceEvent('SI-1', 'START_FAILED', 'first'));
      // The connection breaks after event 2; the client comes back asking for what followed it.
      setTimeout(() => {
        for (const client of stub.clients) client.end();
        const resumed = setInterval(() => {
          if (stub.clients.length === 0) return;
          clearInterval(resumed);
          send({ ...serviceEvent('ADJUSTING_INSTANCES') }, 'lost');
          send(instanceEvent('SI-2', 'START_FAILED', 'second'));
          send(instanceEvent('SI-3', 'START_FAILED', 'third'));
        }, 50);
      }, 200);
    };
    const res = await drove('localservices', 'activate', SID, '--wait', '--timeout', '120s');
    expect(res.code, res.stdout + res.stderr).toBe(3);
    expect(res.stderr).toContain('3 new instances failed, last: SI-3 on host-1: START_FAILED: third');
    expect(stub.streamResumes.length).toBeGreaterThanOrEqual(2);
    // The resume is the Last-Event-ID header (docs/events.md), as a browser's EventSource sends it.
    expect(stub.streamResumes[0]).toBeUndefined();
    expect(stub.streamResumes[1]).toBe('2');
  });
});

describe('without the stream', () => {
  test('a controller without the stream (404) is followed through the events poll API, from its newest event on', async () => {
    stub.stream = '404';
    stub.polledEvents = [{ ...instanceEvent('SI-0', 'START_FAILED', 'before the wait'), time: 500 }];
    const failed = (n: number) => ({ ...instanceEvent(`SI-${n}`, 'READINESS_CHECK_FAILED', 'Readiness check failed'), time: 1000 + n });
    stub.onOperation = () => {
      stub.summary = summary({ activationState: 'ACTIVE', state: 'ADJUSTING_INSTANCES' });
      stub.polledEvents.push(failed(1));
    };
    // The next two once the first was handed out, so that one poll must carry the time it came with.
    stub.onPoll = (answered) => {
      if (answered.some((e) => e.metadata.INSTANCE_ID === 'SI-1')) stub.polledEvents.push(failed(2), failed(3));
    };
    const res = await drove('localservices', 'activate', SID, '--wait', '--timeout', '120s');
    expect(res.code, res.stdout + res.stderr).toBe(3);
    expect(res.stdout).not.toContain('SI-0');
    expect(res.stderr).toContain('3 new instances failed, last: SI-3 on host-1: READINESS_CHECK_FAILED: Readiness check failed');
    // The first poll takes the server's newest event time; each next one hands back what the server answered.
    expect(stub.pollQueries[0]!.get('lastSyncTime')).toBe('0');
    expect(stub.pollQueries[0]!.get('size')).toBe('1');
    expect(stub.pollQueries[1]!.get('lastSyncTime')).toBe('500');
    expect(stub.pollQueries.at(-1)!.get('lastSyncTime')).toBe('1001');
  });

  test('a stream refused by a controller that is not the leader is a refusal (exit 1) naming the leader; nothing is submitted', async () => {
    stub.stream = 'not-leader';
    const res = await drove('localservices', 'activate', SID, '--wait');
    expect(res.code).toBe(1);
    expect(res.stderr).toBe('Error: [400 - FAILED] This node is not the leader controller (the leader is 10.0.0.9:4000; point --endpoint at it)\n');
    expect(stub.operations).toEqual([]);
  });
});
