import type { ServerResponse } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import { describe, expect, it } from 'vitest';
import { EventStreamHub } from '../../../src/controller/api/event-stream-hub.js';
import { EventLog } from '../../../src/controller/events.js';
import { ManualClock } from '../../../src/model/index.js';

describe('EventStreamHub', () => {
  it('a client gone before its stream opens takes no place (its close came already)', () => {
    const clock = new ManualClock();
    const hub = new EventStreamHub(clock, { maxStreams: 1, heartbeatMs: 15_000, maxLagBytes: 1024 * 1024 });
    const gone = { socket: { destroyed: true }, once: () => undefined, on: () => undefined } as unknown as ServerResponse;
    hub.open(new EventLog(clock, { maxEventsStorageMs: 60_000 }), gone, {}, { from: 'now' }, {} as FastifyBaseLogger);
    expect(hub.size).toBe(0);
    expect(hub.full()).toBe(false);
    expect(clock.pending()).toBe(0);
  });
});
