import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/executor/server.js';
import type { RunningExecutor } from '../../../src/executor/server.js';
import { FakeLeader, check, containerOf, ensureImage, executorConfigInput, httpGet, itSpec, removeContainersOf, startInstance, startTestExecutor, stopInstance } from '../../support/executor-harness.js';

/** What the container gets: ports, env, config files, resources and limits (docker inspect). */
let leader: FakeLeader;
let executor: RunningExecutor;

beforeAll(async () => {
  ensureImage();
  leader = await new FakeLeader().start();
  process.env.DROVE_IT_FROM_EXECUTOR = 'from-executor-env';
  // The EXECUTOR_LOCAL_FILE below reads from a temporary directory; executors allow no local file by default.
  const options = { ...executorConfigInput(leader.url).options, allowedLocalFileDirs: [tmpdir()] };
  executor = await startTestExecutor(leader, { maxOpenFiles: 4096, options });
});
afterAll(async () => {
  await executor?.stop();
  await removeContainersOf(executor?.executorId ?? 'none');
  await leader?.stop();
});

describe('container contents', () => {
  it('gets a free host port and PORT_<n>, env in place, config files byte for byte, memory limit and cpuset', async () => {
    const binary = randomBytes(4096);
    const hostDir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(hostDir, 'local.conf'), 'from the executor host\n');
    const spec = itSpec({
      resources: [{ type: 'CPU', cores: { '0': [3] } }, { type: 'MEMORY', memoryInMB: { '0': 48 } }],
      env: { GREETING: 'hello world', DROVE_IT_FROM_EXECUTOR: '' },
      configs: [
        { type: 'INLINE', localFilename: '/www/files/blob.bin', data: binary.toString('base64') },
        { type: 'EXECUTOR_LOCAL_FILE', localFilename: '/www/files/local.conf', filePathOnHost: join(hostDir, 'local.conf') },
      ],
      instanceAuthToken: 'token-1',
    });
    await startInstance(executor, spec);
    const healthy = await leader.waitForState(spec.instanceId, 'HEALTHY');
    const port = healthy.localInfo!.ports.main!.hostPort;
    expect(port).not.toBe(8000);

    const blob = await fetch(`http://127.0.0.1:${port}/files/blob.bin`);
    expect(Buffer.from(await blob.arrayBuffer()).equals(binary)).toBe(true);
    expect((await httpGet(port, '/files/local.conf')).body).toBe('from the executor host\n');

    const env = (await httpGet(port, '/cgi-bin/env')).body.split('\n');
    expect(env).toContain('GREETING=hello world');
    expect(env).toContain('DROVE_IT_FROM_EXECUTOR=from-executor-env');
    expect(env).toContain(`PORT_8000=${port}`);
    expect(env).toContain('HOST=localhost');
    expect(env).toContain(`DROVE_SERVICE_INSTANCE_ID=${spec.instanceId}`);
    expect(env).toContain('DROVE_SERVICE_ID=EXECUTOR_IT-1');
    expect(env).toContain('DROVE_APP_INSTANCE_AUTH_TOKEN=token-1');
    expect(env).toContain('DROVE_CONTAINER_ID=drove-ts/httpd:1');

    const container = (await containerOf(spec.instanceId))!;
    const inspect = await container.inspect();
    expect(inspect.Name).toBe(`/EXECUTOR_IT-1-${spec.instanceId}`);
    expect(inspect.HostConfig.Memory).toBe(48 * 2 ** 20);
    // Over-provisioned: virtual core 3 maps onto physical core 3 mod <host cores> (ids 0..n-1 on this host).
    expect(inspect.HostConfig.CpusetCpus).toBe(String(3 % availableParallelism()));
    expect(inspect.HostConfig.CpusetMems).toBe('0');
    expect(inspect.HostConfig.Ulimits).toEqual([{ Name: 'nofile', Soft: 4096, Hard: 4096 }]);
    expect(inspect.HostConfig.LogConfig).toEqual({
      Type: 'json-file',
      Config: { 'max-size': '10m', 'max-file': '3', compress: 'true', mode: 'non-blocking', 'max-buffer-size': '10m' },
    });
    expect(inspect.Config.Labels['drove.job.type']).toBe('LOCAL_SERVICE');
    expect(JSON.parse(inspect.Config.Labels['drove.instance.recovery']!).instanceId).toBe(spec.instanceId);
    const ulimit = await container.exec({ Cmd: ['sh', '-c', 'ulimit -n'], AttachStdout: true });
    const out = await new Promise<string>((resolve) => {
      void ulimit.start({}).then((stream) => {
        let text = '';
        stream.on('data', (c: Buffer) => (text += c.toString('latin1')));
        stream.on('end', () => resolve(text));
      });
    });
    expect(out).toContain('4096');
    await stopInstance(executor, spec.instanceId);
    await leader.waitForState(spec.instanceId, 'STOPPED');
  });

  it('a host-level instance binds its fixed host port; args become the command; userSpec applies', async () => {
    const port = await freePort();
    const spec = itSpec({
      hostLevelInstance: true,
      ports: [{ name: 'main', port, type: 'HTTP' }],
      args: ['/bin/httpd', '-f', '-p', String(port), '-h', '/www'],
      userSpec: { user: 'nobody', group: 'nogroup' },
    });
    await startInstance(executor, spec);
    const healthy = await leader.waitForState(spec.instanceId, 'HEALTHY');
    expect(healthy.localInfo!.ports.main).toEqual({ containerPort: port, hostPort: port, portType: 'HTTP' });
    expect((await httpGet(port, '/health')).body.trim()).toBe('ok');
    expect((await httpGet(port, '/cgi-bin/env')).body).toContain(`PORT_${port}=${port}`);
    const inspect = await (await containerOf(spec.instanceId))!.inspect();
    expect(inspect.Config.User).toBe('nobody:nogroup');
    expect(inspect.Config.Cmd).toEqual(['/bin/httpd', '-f', '-p', String(port), '-h', '/www']);
    await stopInstance(executor, spec.instanceId);
    await leader.waitForState(spec.instanceId, 'STOPPED');
  });

  it('two instances of one service run side by side on one host', async () => {
    const a = itSpec();
    const b = itSpec();
    await Promise.all([startInstance(executor, a), startInstance(executor, b)]);
    const [ia, ib] = await Promise.all([leader.waitForState(a.instanceId, 'HEALTHY'), leader.waitForState(b.instanceId, 'HEALTHY')]);
    const pa = ia.localInfo!.ports.main!.hostPort;
    const pb = ib.localInfo!.ports.main!.hostPort;
    expect(pa).not.toBe(pb);
    expect((await httpGet(pa, '/cgi-bin/env')).body).toContain(`DROVE_SERVICE_INSTANCE_ID=${a.instanceId}`);
    expect((await httpGet(pb, '/cgi-bin/env')).body).toContain(`DROVE_SERVICE_INSTANCE_ID=${b.instanceId}`);
    await Promise.all([stopInstance(executor, a.instanceId), stopInstance(executor, b.instanceId)]);
    await Promise.all([leader.waitForState(a.instanceId, 'STOPPED'), leader.waitForState(b.instanceId, 'STOPPED')]);
  });

  it('a CMD readiness check runs inside the container', async () => {
    const spec = itSpec({
      readiness: { ...check('/health'), mode: { type: 'CMD', command: 'test -f /www/health' } },
      healthcheck: { ...check('/health'), mode: { type: 'CMD', command: 'test -f /www/index.html', shellDisabled: true } },
    });
    await startInstance(executor, spec);
    await leader.waitForState(spec.instanceId, 'HEALTHY');
    await stopInstance(executor, spec.instanceId);
    await leader.waitForState(spec.instanceId, 'STOPPED');
  });
});
