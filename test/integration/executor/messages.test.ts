import { describe, expect, it } from 'vitest';
import { address, header, itSpec, send, useTestExecutor } from '../../support/executor-harness.js';

/** POST /apis/v1/messages over HTTP: malformed input is FAILED with a reason, never a crash or a 5xx. */
const fixture = useTestExecutor();

describe('executor message endpoint', () => {
  it('answers malformed messages FAILED with a reason and keeps serving', async () => {
    const cases: unknown[] = [
      '{not json',
      '[]',
      '"text"',
      { type: 'START_LOCAL_SERVICE_INSTANCE', header: header() },
      { type: 'START_LOCAL_SERVICE_INSTANCE', header: header(), address: address(fixture.executor), spec: { ...itSpec(), healthcheck: { mode: { type: 'TCP' } } } },
      { type: 'EXPLODE', header: header(), address: address(fixture.executor) },
      { type: 'STOP_LOCAL_SERVICE_INSTANCE', header: header(), address: address(fixture.executor), instanceId: 12 },
    ];
    for (const body of cases) {
      const r = await send(fixture.executor, body);
      expect(r.status, JSON.stringify(body)).toBe(200);
      expect(r.body?.status).toBe('FAILED');
      expect(r.body?.message?.length).toBeGreaterThan(10);
    }
    const named = await send(fixture.executor, { type: 'STOP_LOCAL_SERVICE_INSTANCE', header: header(), address: address(fixture.executor), instanceId: 12 });
    expect(named.body?.message).toContain('instanceId');
    const invalidJson = await send(fixture.executor, '{not json');
    expect(invalidJson.body?.message).toMatch(/^Invalid JSON/);
    // Still alive and answering properly.
    const stop = await send(fixture.executor, { type: 'STOP_LOCAL_SERVICE_INSTANCE', header: header(), address: address(fixture.executor), instanceId: 'SI-00000000-0000-4000-8000-00000000000f' });
    expect(stop.body).toMatchObject({ status: 'FAILED', message: 'No instance SI-00000000-0000-4000-8000-00000000000f on this executor' });
  });

  it('refuses invalid cores (-1, -3) and a wrong secret with a 401', async () => {
    const spec = itSpec({ resources: [{ type: 'CPU', cores: { '0': [-1, -3] } }, { type: 'MEMORY', memoryInMB: { '0': 32 } }] });
    const r = await send(fixture.executor, { type: 'START_LOCAL_SERVICE_INSTANCE', header: header(), address: address(fixture.executor), spec });
    expect(r.body).toMatchObject({ status: 'FAILED', message: 'Could not lock resources: Core -1 does not exist on NUMA node 0' });
    const unauthorised = await send(fixture.executor, { type: 'BLACKLIST', header: header(), address: address(fixture.executor) }, 'nope');
    expect(unauthorised.status).toBe(401);
    expect(fixture.executor.agent.state).not.toBe('BLACKLISTED');
  });
});
