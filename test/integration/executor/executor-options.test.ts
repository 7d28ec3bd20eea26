import { createSocket, type Socket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseExecutorConfig } from '../../../src/executor/config.js';
import { instanceLogDir } from '../../../src/executor/logs.js';
import { pino } from 'pino';
import type { ExecutorConfig } from '../../../src/executor/config.js';
import type { RunningExecutor } from '../../../src/executor/server.js';
import { startExecutor } from '../../../src/executor/server.js';
import { FakeLeader, containerOf, ensureImage, executorConfigInput, itSpec, removeContainersOf, startInstance } from '../../support/executor-harness.js';
import { waitUntil } from '../../support/wait.js';

/**
 * Executor options Drove has, on real containers: the log buffer and the syslog cache (docker inspect, a syslog
 * server that receives the lines, the executor's log copy read back from Docker's cache) and all GPUs (refused by
 * dockerd on a host without the NVIDIA runtime).
 */
let leader: FakeLeader;
let executor: RunningExecutor | undefined;
let syslog: Socket;
let syslogPort: number;
const syslogLines: string[] = [];

beforeAll(async () => {
  ensureImage();
  leader = await new FakeLeader().start();
  syslog = createSocket('udp4');
  syslog.on('message', (message) => syslogLines.push(message.toString('utf8')));
  await new Promise<void>((resolve) => syslog.bind(0, '127.0.0.1', resolve));
  syslogPort = syslog.address().port;
});
afterEach(async () => {
  if (executor) {
    await executor.stop();
    await removeContainersOf(executor.executorId);
  }
  executor = undefined;
});
afterAll(async () => {
  syslog?.close();
  await leader?.stop();
});

/** An executor with the test defaults plus these `options` and `resources` keys. */
async function start(extra: { options?: object; resources?: object }): Promise<{ ex: RunningExecutor; config: ExecutorConfig }> {
  const base = executorConfigInput(leader.url);
  const config = parseExecutorConfig({
    ...base,
    options: { ...base.options, ...extra.options },
    resources: { ...base.resources, ...extra.resources },
  });
  executor = await startExecutor(config, { logger: pino({ level: config.logLevel }) });
  return { ex: executor, config };
}

const logOptions = { logBufferSize: '5m', cacheFileSize: '12MB', cacheFileCount: 4 };

describe('log buffer and cache (options.logBufferSize, cacheFileSize, cacheFileCount)', () => {
  it('json-file containers write non-blocking through a buffer of logBufferSize', async () => {
    const { ex } = await start({ options: logOptions });
    const spec = itSpec();
    await startInstance(ex, spec);
    await leader.waitForState(spec.instanceId, 'HEALTHY');
    const inspect = await (await containerOf(spec.instanceId))!.inspect();
    expect(inspect.HostConfig.LogConfig).toEqual({
      Type: 'json-file',
      Config: { 'max-size': '10m', 'max-file': '3', compress: 'true', mode: 'non-blocking', 'max-buffer-size': '5m' },
    });
  });

  it('RSYSLOG containers are non-blocking too, with a local cache the executor reads its log copy from', async () => {
    const { ex, config } = await start({ options: logOptions });
    const spec = itSpec({ loggingSpec: { type: 'RSYSLOG', server: `udp://127.0.0.1:${syslogPort}`, tagPrefix: 'agent-' } });
    await startInstance(ex, spec);
    await leader.waitForState(spec.instanceId, 'HEALTHY');
    const inspect = await (await containerOf(spec.instanceId))!.inspect();
    expect(inspect.HostConfig.LogConfig).toEqual({
      Type: 'syslog',
      Config: {
        'syslog-address': `udp://127.0.0.1:${syslogPort}`,
        tag: `agent-${spec.instanceId}`,
        'syslog-facility': 'daemon',
        mode: 'non-blocking',
        'max-buffer-size': '5m',
        'cache-disabled': 'false',
        'cache-max-size': '12m',
        'cache-max-file': '4',
        'cache-compress': 'true',
      },
    });
    // The service's first line reaches the syslog server, and the executor's own copy (read from Docker's cache).
    await waitUntil('the syslog line', () => syslogLines.some((l) => l.includes(`agent-${spec.instanceId}`) && l.includes('starting httpd')), { timeoutMs: 20_000 });
    const logFile = join(instanceLogDir(config.logDir, spec.serviceId, spec.instanceId), 'output.log');
    await waitUntil('the line in output.log', () => existsSync(logFile) && readFileSync(logFile, 'utf8').includes('starting httpd'), { timeoutMs: 20_000 });
  });
});

describe('resources.enableNvidiaGpu', () => {
  it('asks dockerd for every NVIDIA GPU; on a host without the NVIDIA runtime the start fails with dockerd\'s reason', async () => {
    const { ex } = await start({ resources: { enableNvidiaGpu: true } });
    const spec = itSpec();
    await startInstance(ex, spec);
    const failed = await leader.waitForState(spec.instanceId, 'START_FAILED');
    expect(failed.errorMessage).toContain('could not select device driver "nvidia" with capabilities: [[gpu]]');
    await leader.waitForState(spec.instanceId, 'STOPPED');
    expect(await containerOf(spec.instanceId)).toBeUndefined();
  });
});

