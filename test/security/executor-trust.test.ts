import * as crypto from 'node:crypto';
import { request } from 'undici';
import { describe, expect, test, vi } from 'vitest';
import { Authenticator } from '../../src/controller/api/auth.js';
import { buildExecutorApp } from '../../src/executor/app.js';
import { CONTROLLER_SECRET_REQUIRED, EXECUTOR_SECRET_REFUSED } from '../../src/executor/routes-access.js';
import { systemClock } from '../../src/model/index.js';
import {
  CONTROLLER_SECRET,
  SECRET as EXECUTOR_SECRET,
  address,
  containerOf,
  docker,
  header,
  itSpec,
  send,
  useTestExecutor,
} from '../support/executor-harness.js';

/**
 * Finding: the executor accepted START/STOP messages and log reads with any configured cluster secret, and the
 * EXECUTOR secret is the one every executor sends to the controllers: any executor host (or whoever read one
 * host's config or traffic) could start containers, with host mounts, on every other host. Now only the
 * CONTROLLER secret is accepted, compared in constant time. Real executor, real Docker.
 */

vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>();
  return { ...original, timingSafeEqual: vi.fn(original.timingSafeEqual) };
});

describe('executor trusts only the CONTROLLER secret', () => {
  const fixture = useTestExecutor();

  const executorContainers = async () =>
    (await docker.listContainers({ all: true, filters: { label: [`drove.executor.id=${fixture.executor.executorId}`] } })).map((c) => c.Id).sort();

  test('START with the EXECUTOR secret is a 403 naming the rule; no instance, no container', async () => {
    const before = await executorContainers();
    const spec = itSpec();
    const start = { type: 'START_LOCAL_SERVICE_INSTANCE', header: header(), address: address(fixture.executor), spec };
    const refused = await send(fixture.executor, start, EXECUTOR_SECRET);
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({ status: 'FAILED', message: EXECUTOR_SECRET_REFUSED });
    for (const secret of ['', 'wrong', `${CONTROLLER_SECRET}x`, CONTROLLER_SECRET.slice(0, -1)]) {
      const res = await send(fixture.executor, start, secret);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ status: 'FAILED', message: CONTROLLER_SECRET_REQUIRED });
    }
    expect(fixture.executor.engine.get(spec.instanceId)).toBeUndefined();
    expect(await containerOf(spec.instanceId)).toBeUndefined();
    expect(await executorContainers()).toEqual(before);
  });

  test('STOP and log reads with the EXECUTOR secret are refused; the CONTROLLER secret still runs the instance', async () => {
    const spec = itSpec();
    const started = await send(fixture.executor, { type: 'START_LOCAL_SERVICE_INSTANCE', header: header(), address: address(fixture.executor), spec });
    expect(started.body).toMatchObject({ status: 'ACCEPTED' });
    await fixture.leader.waitForState(spec.instanceId, 'HEALTHY');

    const stop = { type: 'STOP_LOCAL_SERVICE_INSTANCE', header: header(), address: address(fixture.executor), instanceId: spec.instanceId };
    const refused = await send(fixture.executor, stop, EXECUTOR_SECRET);
    expect(refused.status).toBe(403);
    expect(fixture.executor.engine.get(spec.instanceId)?.state).toBe('HEALTHY');
    expect((await (await containerOf(spec.instanceId))!.inspect()).State.Running).toBe(true);

    const logs = `${fixture.executor.url}/apis/v1/logs/filestream/${spec.serviceId}/${spec.instanceId}/list`;
    const asExecutor = await request(logs, { headers: { 'Cluster-Authorization': EXECUTOR_SECRET } });
    expect(asExecutor.statusCode).toBe(403);
    expect(await asExecutor.body.json()).toEqual({ status: 'FAILED', message: EXECUTOR_SECRET_REFUSED });
    const asController = await request(logs, { headers: { 'Cluster-Authorization': CONTROLLER_SECRET } });
    expect(asController.statusCode).toBe(200);
    expect(await asController.body.json()).toEqual({ files: ['output.log'] });

    expect((await send(fixture.executor, stop)).body).toMatchObject({ status: 'ACCEPTED' });
    await fixture.leader.waitForState(spec.instanceId, 'STOPPED');
  });
});

describe('secret comparisons are constant-time', () => {
  const timingSafeEqual = vi.mocked(crypto.timingSafeEqual);
  const secrets = [
    { nodeType: 'CONTROLLER' as const, secret: 'controller-secret-1' },
    { nodeType: 'CONTROLLER' as const, secret: 'controller-secret-2' },
    { nodeType: 'EXECUTOR' as const, secret: 'executor-secret' },
  ];

  test('the executor compares a presented secret with every configured one through timingSafeEqual', async () => {
    const app = buildExecutorApp({ config: { clusterAuth: { secrets }, logDir: '/nonexistent' }, clock: systemClock, handler: () => undefined });
    for (const presented of ['short', 'controller-secret-1', 'a-much-longer-secret-than-any-configured-one']) {
      timingSafeEqual.mockClear();
      await app.inject({ method: 'POST', url: '/apis/v1/messages', headers: { 'cluster-authorization': presented }, payload: {} });
      // Both controller secrets, whichever matched, and (on a mismatch) the executor secret.
      expect(timingSafeEqual.mock.calls.length).toBeGreaterThanOrEqual(2);
    }
    await app.close();
  });

  test('the controller compares cluster secrets and PLAIN passwords through timingSafeEqual', async () => {
    const auth = new Authenticator(
      { enabled: true, encoding: 'PLAIN', users: [{ username: 'u', password: 'right-password', role: 'EXTERNAL_ROOT' }] },
      { secrets },
      false,
    );
    timingSafeEqual.mockClear();
    await expect(auth.authenticate({ 'cluster-authorization': 'nope' })).rejects.toMatchObject({ statusCode: 401 });
    expect(timingSafeEqual.mock.calls.length).toBe(secrets.length);
    timingSafeEqual.mockClear();
    const basic = (password: string) => ({ authorization: `Basic ${Buffer.from(`u:${password}`).toString('base64')}` });
    await expect(auth.authenticate(basic('wrong'))).rejects.toMatchObject({ statusCode: 401 });
    expect(timingSafeEqual).toHaveBeenCalledTimes(1);
    // Unknown users are compared too (against nothing), so the time does not tell which names exist.
    await expect(auth.authenticate({ authorization: `Basic ${Buffer.from('nobody:x').toString('base64')}` })).rejects.toMatchObject({ statusCode: 401 });
    expect(timingSafeEqual).toHaveBeenCalledTimes(2);
    await expect(auth.authenticate(basic('right-password'))).resolves.toEqual({ name: 'u', role: 'EXTERNAL_ROOT' });
  });
});
