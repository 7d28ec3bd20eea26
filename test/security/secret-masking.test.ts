import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServiceInstanceSpec } from '../../src/model/index.js';
import { testSpec } from '../support/specs.js';
import { waitUntil } from '../support/wait.js';
import { ADMIN, GUEST, MAINT, ROOT, attachFakeExecutor, startLiveController, type FakeExecutorEndpoint, type LiveController } from './live-controller.js';

/**
 * Finding: `GET /apis/v1/localservices/{id}/spec` served env values and HTTP header values (config fetch) in
 * clear to every authenticated caller, READ_ONLY users and any container's instance token included. Env
 * values are where services keep their credentials. They are now masked for everyone who may not change the
 * service; config data (and fetch credentials) stay masked for all, as in Drove.
 */

const SECRET = 'masking-test-instance-secret-0123456789';
const serviceId = 'TEST_SPEC-00001';
const spec = testSpec({
  volumes: [],
  env: { DB_PASSWORD: 'hunter2', API_KEY: 'k-123', FROM_EXECUTOR_ENV: '' },
  configs: [
    { type: 'INLINE', localFilename: '/etc/app/secret.conf', data: 'c2VjcmV0' },
    {
      type: 'EXECUTOR_HTTP_FETCH',
      localFilename: '/etc/app/remote.conf',
      http: {
        protocol: 'HTTPS',
        hostname: 'config.internal',
        path: '/app.conf',
        username: 'fetcher',
        password: 'fetch-pass',
        headers: { 'X-Vault-Token': 'vault-t0ken', Accept: 'text/plain' },
      },
    },
  ],
});

const ALWAYS_MASKED = {
  configs: [
    { type: 'INLINE', localFilename: '/etc/app/secret.conf', data: '' },
    { type: 'EXECUTOR_HTTP_FETCH', http: { username: '***', password: '***' } },
  ],
};

describe('spec API: env and HTTP header values only for those who may write', () => {
  let controller: LiveController;
  let executor: FakeExecutorEndpoint;
  let instance: LocalServiceInstanceSpec;
  const getSpec = async (headers: Record<string, string>) => {
    const response = await controller.call('GET', `/apis/v1/localservices/${serviceId}/spec`, headers);
    expect(response.status).toBe(200);
    return response.body.data;
  };

  beforeAll(async () => {
    controller = await startLiveController({ instanceAuth: { secret: SECRET } });
    executor = await attachFakeExecutor(controller);
    const op = (body: unknown) => controller.call('POST', '/apis/v1/localservices/operations', ADMIN, body);
    expect((await op({ type: 'CREATE', spec, instancesPerHost: 1 })).status).toBe(200);
    expect((await op({ type: 'ACTIVATE', serviceId })).status).toBe(200);
    instance = await waitUntil('a START message', () => executor.starts[0]);
    await executor.report(instance, 'HEALTHY');
  });
  afterAll(async () => {
    await controller?.close();
    await executor?.close();
  });

  it.each([
    ['EXTERNAL_READ_WRITE', ADMIN],
    ['EXTERNAL_ROOT', ROOT],
  ])('%s sees env and header values (config data masked, as for everyone)', async (_role, headers) => {
    const shown = await getSpec(headers);
    expect(shown.env).toEqual({ DB_PASSWORD: 'hunter2', API_KEY: 'k-123', FROM_EXECUTOR_ENV: '' });
    expect(shown.configs[1].http.headers).toEqual({ 'X-Vault-Token': 'vault-t0ken', Accept: 'text/plain' });
    expect(shown).toMatchObject(ALWAYS_MASKED);
  });

  it.each([
    ['EXTERNAL_READ_ONLY', () => GUEST],
    ['EXTERNAL_MAINTENANCE', () => MAINT],
    ["an instance's token (APPLICATION_INSTANCE)", () => ({ 'App-Instance-Authorization': instance.instanceAuthToken! })],
  ])('%s sees names only: env and header values masked; empty env values stay empty', async (_who, headers) => {
    const shown = await getSpec(headers());
    expect(shown.env).toEqual({ DB_PASSWORD: '***', API_KEY: '***', FROM_EXECUTOR_ENV: '' });
    expect(shown.configs[1].http.headers).toEqual({ 'X-Vault-Token': '***', Accept: '***' });
    expect(shown).toMatchObject(ALWAYS_MASKED);
    expect(JSON.stringify(shown)).not.toMatch(/hunter2|k-123|vault-t0ken|fetch-pass|c2VjcmV0/);
  });

  it('reading never changes what is stored: the writer still sees the values afterwards', async () => {
    await getSpec(GUEST);
    expect((await getSpec(ADMIN)).env.DB_PASSWORD).toBe('hunter2');
  });
});
