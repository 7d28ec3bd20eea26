import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyInstanceToken } from '../../src/controller/api/auth.js';
import { instanceAuthToken } from '../../src/controller/engine/jobs/instance-token.js';
import type { LocalServiceInstanceInfo, LocalServiceInstanceSpec } from '../../src/model/index.js';
import { waitUntil } from '../support/wait.js';
import { ADMIN, attachFakeExecutor, startLiveController, type FakeExecutorEndpoint, type LiveController } from './live-controller.js';
import { testSpec } from '../support/specs.js';

/**
 * Finding: instance tokens (handed to every container in DROVE_APP_INSTANCE_AUTH_TOKEN) never expired and were
 * honoured after their instance stopped, so a token copied from any container once was a read credential for
 * good. Tokens now carry `exp` (instanceAuth.tokenLifetime), are refused after it (401), and are refused as
 * soon as their instance is no longer running.
 */

const SECRET = 'instance-token-test-secret-0123456789abcdef';
const LIFETIME_MS = 2 * 86_400_000;
const DAY = 86_400_000;
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A token as a drove-ts controller before this change issued it: no `exp`. */
function tokenWithoutExp(serviceId: string, instanceId: string, issuedAtMs: number): string {
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({
    iss: 'drove',
    aud: 'drove-application-instance',
    sub: 'drove-controller',
    iat: Math.floor(issuedAtMs / 1000),
    droveAppId: serviceId,
    droveInstanceId: instanceId,
    droveExecutorId: 'E1',
  })}`;
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

describe('instance tokens expire and die with their instance (real controller, fake executor over HTTP)', () => {
  let controller: LiveController;
  let executor: FakeExecutorEndpoint;
  let spec: LocalServiceInstanceSpec;
  const serviceId = 'TEST_SPEC-00001';
  const read = async (token: string) =>
    (await controller.call('GET', '/apis/v1/localservices', { 'App-Instance-Authorization': token })).status;
  const report = (state: LocalServiceInstanceInfo['state']) => executor.report(spec, state);

  beforeAll(async () => {
    controller = await startLiveController({ instanceAuth: { secret: SECRET, tokenLifetime: '2 days' } });
    executor = await attachFakeExecutor(controller);
    const op = (body: unknown) => controller.call('POST', '/apis/v1/localservices/operations', ADMIN, body);
    expect((await op({ type: 'CREATE', spec: testSpec({ volumes: [] }), instancesPerHost: 1 })).status).toBe(200);
    expect((await op({ type: 'ACTIVATE', serviceId })).status).toBe(200);
    spec = await waitUntil('the leader to send START_LOCAL_SERVICE_INSTANCE', () => executor.starts[0]);
  });
  afterAll(async () => {
    await controller?.close();
    await executor?.close();
  });

  it('the token handed to the container carries exp = iat + instanceAuth.tokenLifetime', () => {
    const payload = JSON.parse(Buffer.from(spec.instanceAuthToken!.split('.')[1]!, 'base64url').toString()) as { iat: number; exp: number };
    expect(payload.exp - payload.iat).toBe(LIFETIME_MS / 1000);
    expect(Math.abs(payload.iat * 1000 - Date.now())).toBeLessThan(60_000);
  });

  it('is honoured while its instance runs, refused (401) once it has stopped', async () => {
    const token = spec.instanceAuthToken!;
    await report('HEALTHY');
    expect(await read(token)).toBe(200);
    await report('STOPPED');
    expect(await read(token)).toBe(401);
  });

  it('an expired token is a 401 even while its instance runs; a token without exp expires tokenLifetime after iat', async () => {
    // The leader replaces the stopped instance: take its new START and make it HEALTHY.
    spec = await waitUntil('a replacement START', () => executor.starts.find((s) => s.instanceId !== executor.starts[0]!.instanceId));
    await report('HEALTHY');
    const claims = { serviceId: spec.serviceId, instanceId: spec.instanceId, executorId: 'E1' };
    expect(await read(instanceAuthToken(SECRET, claims, Date.now(), LIFETIME_MS))).toBe(200);
    expect(await read(instanceAuthToken(SECRET, claims, Date.now() - 3 * DAY, LIFETIME_MS))).toBe(401);
    expect(await read(tokenWithoutExp(spec.serviceId, spec.instanceId, Date.now() - 3600_000))).toBe(200);
    expect(await read(tokenWithoutExp(spec.serviceId, spec.instanceId, Date.now() - 3 * DAY))).toBe(401);
  });

  it('a token of an instance the leader does not know, or signed with another secret, is a 401', async () => {
    const unknown = { serviceId, instanceId: 'SI-00000000-0000-4000-8000-000000000001', executorId: 'E1' };
    expect(await read(instanceAuthToken(SECRET, unknown, Date.now(), LIFETIME_MS))).toBe(401);
    const forged = { serviceId: spec.serviceId, instanceId: spec.instanceId, executorId: 'E1' };
    expect(await read(instanceAuthToken('DEFAULT_SECRET', forged, Date.now(), LIFETIME_MS))).toBe(401);
  });
});

describe('verifyInstanceToken checks exp on the given clock', () => {
  const claims = { serviceId: 'S-1', instanceId: 'SI-1', executorId: 'E1' };
  const issued = 1_700_000_000_000;
  const token = instanceAuthToken(SECRET, claims, issued, LIFETIME_MS);
  it.each([
    [issued, true],
    [issued + LIFETIME_MS - 1000, true],
    [issued + LIFETIME_MS, false],
    [issued + 10 * LIFETIME_MS, false],
  ])('at %d valid: %s', (now, valid) => {
    expect(verifyInstanceToken(token, SECRET, now, LIFETIME_MS) !== undefined).toBe(valid);
  });
});
