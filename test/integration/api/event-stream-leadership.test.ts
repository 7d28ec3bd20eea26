import { afterEach, describe, expect, test } from 'vitest';
import type { LeaderElector } from '../../../src/controller/leadership/leadership.js';
import { GUEST, ROOT, startHarness, type Harness } from '../../support/api-harness.js';
import { SseClient } from '../../support/sse-client.js';
import { waitUntil } from '../../support/wait.js';

/**
 * The event stream around leadership (docs/events.md): events are the leader's, so a stream ends when this
 * controller stops leading and a follower refuses it; a resume on the next term cannot be complete and says so.
 * Heartbeats and the stream limit on the injected clock. A real controller behind the real API, on a socket.
 */

const STREAM = '/apis/v1/cluster/events/stream';

/** Leadership on command: grant() and revoke() run the controller's handlers as an elector would. */
class SwitchElector implements LeaderElector {
  private leading = false;
  private handlers: Parameters<LeaderElector['start']>[0] | undefined;
  async start(handlers: Parameters<LeaderElector['start']>[0]): Promise<void> {
    this.handlers = handlers;
  }
  isLeader() {
    return this.leading;
  }
  leaderAddress() {
    return this.leading ? 'ctrl1.local:10000' : 'ctrl2.local:10000';
  }
  async grant(): Promise<void> {
    this.leading = true;
    await this.handlers!.onAcquired();
  }
  async revoke(): Promise<void> {
    this.leading = false;
    await this.handlers!.onLost();
  }
  async stop(): Promise<void> {}
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function listen(harness: Harness): Promise<string> {
  await harness.api.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(harness.api.server.address() as { port: number }).port}`;
}

describe('event stream and leadership', () => {
  test('a stream ends when the controller stops leading; a follower answers 400 naming the leader; a resume on the next term says events were lost', async () => {
    const elector = new SwitchElector();
    h = await startHarness({ leadership: elector });
    const base = await listen(h);
    await elector.grant();
    const stream = await SseClient.open(`${base}${STREAM}?lastEventId=0`, GUEST);
    const [acquired] = await stream.waitForEvents(1);
    expect(acquired!.type).toBe('LEADERSHIP_ACQUIRED');
    await h.api.inject({ method: 'POST', url: '/apis/v1/cluster/maintenance/set', headers: ROOT, payload: {} });
    await stream.waitForEvents(2);

    await elector.revoke();
    await stream.closed;
    expect(stream.ended).toBe(true);
    const follower = await SseClient.open(`${base}${STREAM}`, GUEST);
    expect(follower.status).toBe(400);
    expect(JSON.parse(follower.body)).toEqual({ status: 'FAILED', data: { leader: 'ctrl2.local:10000' }, message: 'This node is not the leader controller' });

    await elector.grant();
    const resumed = await SseClient.open(`${base}${STREAM}`, { ...GUEST, 'last-event-id': String(stream.lastId()) });
    const [first] = await resumed.waitForEvents(1);
    // The new term holds only its own events: what the old one emitted after the client left is gone.
    expect(resumed.messages[0]!.event).toBe('lost');
    expect(resumed.lost()).toEqual([{ from: stream.lastId(), to: first!.id }]);
    expect(first!.type).toBe('LEADERSHIP_ACQUIRED');
    expect(first!.id).toBeGreaterThan(stream.lastId()!);
    resumed.close();
  });

  test('heartbeats are comment lines every eventStreamHeartbeatMs of the injected clock', async () => {
    h = await startHarness({ limits: { eventStreamHeartbeatMs: 15_000 } });
    const base = await listen(h);
    const stream = await SseClient.open(`${base}${STREAM}`, GUEST);
    await waitUntil('stream registered', () => h!.api.eventStreams.size === 1);
    await h.clock.advance(14_999);
    expect(stream.comments).toBe(0);
    await h.clock.advance(1);
    await waitUntil('first heartbeat', () => stream.comments === 1);
    await h.clock.advance(15_000);
    await waitUntil('second heartbeat', () => stream.comments === 2);
    expect(stream.events()).toEqual([]);
    stream.close();
    await waitUntil('stream gone', () => h!.api.eventStreams.size === 0);
  });

  test('streams beyond maxEventStreams are refused with 429 and Retry-After', async () => {
    h = await startHarness({ limits: { maxEventStreams: 2 } });
    const base = await listen(h);
    const open = [await SseClient.open(`${base}${STREAM}`, GUEST), await SseClient.open(`${base}${STREAM}`, GUEST)];
    const refused = await SseClient.open(`${base}${STREAM}`, GUEST);
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('5');
    expect(JSON.parse(refused.body).message).toBe('Too many event streams open (at most 2), retry in a moment');
    open[0]!.close();
    await waitUntil('a stream freed', () => h!.api.eventStreams.size === 1);
    const again = await SseClient.open(`${base}${STREAM}`, GUEST);
    expect(again.status).toBe(200);
    for (const client of [open[1]!, again]) client.close();
  });
});
