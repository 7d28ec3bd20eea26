import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { CONTROLLER_SECRET_REQUIRED } from '../../../src/executor/routes-access.js';
import {
  CONTROLLER_SECRET,
  containerOf,
  httpGet,
  itSpec,
  startInstance,
  stopInstance,
  useTestExecutor,
} from '../../support/executor-harness.js';
import { waitUntil } from '../../support/wait.js';

/** Pre-shutdown hooks and waitBeforeKill against a real container; the executor log API over HTTP. */
const fixture = useTestExecutor();

async function api(path: string, secret = CONTROLLER_SECRET) {
  const res = await request(`${fixture.executor.url}${path}`, { headers: { 'Cluster-Authorization': secret } });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

describe('pre-shutdown hooks', () => {
  it('calls GET /cgi-bin/prestop in the running container, then waits waitBeforeKill before stopping it', async () => {
    const shared = mkdtempSync(join(tmpdir(), 'prestop-'));
    const spec = itSpec({
      volumes: [{ pathOnHost: shared, pathInContainer: '/tmp', mode: 'READ_WRITE' }],
      preShutdown: {
        hooks: [{ type: 'HTTP', protocol: 'HTTP', portName: 'main', path: '/cgi-bin/prestop', verb: 'GET', successCodes: [200] }],
        waitBeforeKill: '3 seconds',
      },
    });
    await startInstance(fixture.executor, spec);
    await fixture.leader.waitForState(spec.instanceId, 'HEALTHY');
    const container = (await containerOf(spec.instanceId))!;
    expect(existsSync(join(shared, 'prestop-called'))).toBe(false);
    await stopInstance(fixture.executor, spec.instanceId);
    await waitUntil('the hook mark', () => existsSync(join(shared, 'prestop-called')), { timeoutMs: 20_000 });
    const hookSeen = Date.now();
    expect((await container.inspect()).State.Running).toBe(true);
    const stopped = await waitUntil('the container to stop', async () => {
      const state = await container.inspect().then((i) => i.State.Running, () => false);
      return state ? undefined : Date.now();
    }, { timeoutMs: 30_000 });
    expect(stopped - hookSeen).toBeGreaterThanOrEqual(2_700);
    expect(Number(readFileSync(join(shared, 'prestop-called'), 'utf8').trim())).toBeGreaterThan(0);
    await fixture.leader.waitForState(spec.instanceId, 'STOPPED');
  });
});

describe('executor log API', () => {
  it('lists, reads at offsets and downloads the instance output log; refuses escapes and bad secrets', async () => {
    const spec = itSpec();
    await startInstance(fixture.executor, spec);
    const healthy = await fixture.leader.waitForState(spec.instanceId, 'HEALTHY');
    expect((await httpGet(healthy.localInfo!.ports.main!.hostPort, '/health')).status).toBe(200);
    // Whatever PID 1 prints reaches the container's stdout and so output.log.
    const exec = await (await containerOf(spec.instanceId))!.exec({ Cmd: ['sh', '-c', 'echo marker-request > /proc/1/fd/1'] });
    await exec.start({});
    const base = `/apis/v1/logs/filestream/${spec.serviceId}/${spec.instanceId}`;
    await waitUntil('the marker in output.log', async () => (await api(`${base}/read/output.log?length=100000`)).body.includes('marker-request'), { timeoutMs: 20_000 });

    expect(JSON.parse((await api(`${base}/list`)).body)).toEqual({ files: ['output.log'] });
    const end = JSON.parse((await api(`${base}/read/output.log?offset=-1`)).body) as { data: string; offset: number };
    expect(end.data).toBe('');
    expect(end.offset).toBeGreaterThan(10);
    const all = JSON.parse((await api(`${base}/read/output.log?offset=0&length=${end.offset}`)).body) as { data: string; offset: number };
    expect(all.data).toContain(`starting httpd on port 8000`);
    const part = JSON.parse((await api(`${base}/read/output.log?offset=5&length=10`)).body) as { data: string; offset: number };
    expect(part).toEqual({ data: all.data.slice(5, 15), offset: 5 });
    const download = await api(`${base}/download/output.log`);
    expect(download.status).toBe(200);
    expect(download.headers['content-disposition']).toBe('attachment; filename="output.log"');
    expect(download.body.startsWith(all.data)).toBe(true);

    const escape = await api(`${base}/read/..%2F..%2F..%2Fetc%2Fpasswd`);
    expect(escape.status).toBe(400);
    expect(JSON.parse(escape.body).error).toContain('Invalid log file name');
    expect((await api(`/apis/v1/logs/filestream/${spec.serviceId}/SI-00000000-0000-4000-8000-00000000000f/list`)).status).toBe(404);
    const unauthorised = await api(`${base}/list`, 'wrong');
    expect(unauthorised.status).toBe(401);
    expect(JSON.parse(unauthorised.body)).toEqual({ status: 'FAILED', message: CONTROLLER_SECRET_REQUIRED });

    await stopInstance(fixture.executor, spec.instanceId);
    await fixture.leader.waitForState(spec.instanceId, 'STOPPED');
    // The log outlives the instance so operators can read why it stopped.
    expect(JSON.parse((await api(`${base}/list`)).body).files).toContain('output.log');
  });

  it('rotates output.log per the LoggingSpec (maxSize, maxFiles)', async () => {
    const spec = itSpec({ loggingSpec: { type: 'LOCAL', maxSize: '1k', maxFiles: 3, compress: false } });
    await startInstance(fixture.executor, spec);
    await fixture.leader.waitForState(spec.instanceId, 'HEALTHY');
    const container = (await containerOf(spec.instanceId))!;
    for (let i = 0; i < 10; i++) {
      const exec = await container.exec({ Cmd: ['sh', '-c', `i=0; while [ $i -lt 10 ]; do echo "burst-${i}-line-$i-................................................................................................" > /proc/1/fd/1; i=$((i+1)); done`] });
      await exec.start({});
      await waitUntil('the burst to be written', async () => (await exec.inspect()).Running === false, { timeoutMs: 10_000 });
    }
    const base = `/apis/v1/logs/filestream/${spec.serviceId}/${spec.instanceId}`;
    const files = await waitUntil('rotated files', async () => {
      const list = JSON.parse((await api(`${base}/list`)).body).files as string[];
      return list.length === 3 ? list : undefined;
    }, { timeoutMs: 20_000 });
    expect(files[0]).toBe('output.log');
    expect(files.slice(1).every((f) => /^output\.log-\d+$/.test(f))).toBe(true);
    const rotated = JSON.parse((await api(`${base}/read/${files[1]}?length=100000`)).body) as { data: string };
    expect(rotated.data.length).toBeLessThanOrEqual(1024);
    expect(rotated.data).toContain('burst-');
    await stopInstance(fixture.executor, spec.instanceId);
    await fixture.leader.waitForState(spec.instanceId, 'STOPPED');
  });

  it('gzips rotated files when the LoggingSpec compresses; they download as stored and read refuses them', async () => {
    const spec = itSpec({ loggingSpec: { type: 'LOCAL', maxSize: '1k', maxFiles: 3, compress: true } });
    await startInstance(fixture.executor, spec);
    await fixture.leader.waitForState(spec.instanceId, 'HEALTHY');
    const container = (await containerOf(spec.instanceId))!;
    for (let i = 0; i < 10; i++) {
      const exec = await container.exec({ Cmd: ['sh', '-c', `i=0; while [ $i -lt 10 ]; do echo "zburst-${i}-line-$i-................................................................................................" > /proc/1/fd/1; i=$((i+1)); done`] });
      await exec.start({});
      await waitUntil('the burst to be written', async () => (await exec.inspect()).Running === false, { timeoutMs: 10_000 });
    }
    const base = `/apis/v1/logs/filestream/${spec.serviceId}/${spec.instanceId}`;
    const files = await waitUntil('two compressed rotated files', async () => {
      const list = JSON.parse((await api(`${base}/list`)).body).files as string[];
      return list.length === 3 && list.slice(1).every((f) => /^output\.log-\d+\.gz$/.test(f)) ? list : undefined;
    }, { timeoutMs: 20_000 });
    expect(files[0]).toBe('output.log');
    const download = await request(`${fixture.executor.url}${base}/download/${files[1]}`, { headers: { 'Cluster-Authorization': CONTROLLER_SECRET } });
    expect(download.statusCode).toBe(200);
    expect(download.headers['content-type']).toBe('application/gzip');
    const text = gunzipSync(Buffer.from(await download.body.arrayBuffer())).toString('utf8');
    expect(text).toContain('zburst-');
    expect(text.length).toBeLessThanOrEqual(1024);
    const read = await api(`${base}/read/${files[1]}`);
    expect(read.status).toBe(400);
    expect(JSON.parse(read.body).error).toContain('is gzip-compressed');
    await stopInstance(fixture.executor, spec.instanceId);
    await fixture.leader.waitForState(spec.instanceId, 'STOPPED');
  });
});
