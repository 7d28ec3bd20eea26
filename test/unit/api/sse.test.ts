import { describe, expect, it } from 'vitest';
import { HEARTBEAT, eventMessage, lostMessage, streamId, timeOfStreamId } from '../../../src/controller/api/sse.js';

describe('event stream wire format', () => {
  it('ids are the event time followed by the three-digit tag of the log; another tag is not ours', () => {
    expect(streamId(1_700_000_000_123, 7)).toBe(1_700_000_000_123_007);
    expect(timeOfStreamId(1_700_000_000_123_007, 7)).toBe(1_700_000_000_123);
    expect(timeOfStreamId(1_700_000_000_123_007, 8)).toBeUndefined();
    // Ordered as the times are, whatever the tag.
    expect(streamId(2, 999)).toBeLessThan(streamId(3, 0));
    // Safe integers for centuries of millisecond times.
    expect(Number.isSafeInteger(streamId(Date.UTC(2200, 0, 1), 999))).toBe(true);
  });

  it('one message per event: id, type, and the event as one JSON line', () => {
    const event = { type: 'EXECUTOR_REMOVED' as const, id: 'u-1', time: 5, metadata: { EXECUTOR_ID: 'line\nbreak' } };
    const text = eventMessage(5_042, event);
    expect(text).toBe(`id: 5042\nevent: EXECUTOR_REMOVED\ndata: ${JSON.stringify(event)}\n\n`);
    expect(text.split('\n')).toHaveLength(5);
    expect(lostMessage(12, null)).toBe('event: lost\ndata: {"from":12,"to":null}\n\n');
    expect(HEARTBEAT.startsWith(':')).toBe(true);
  });
});
