import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DevError,
  defaultDockerSocket,
  devBanner,
  devControllerConfig,
  devExecutorConfig,
  loadDevState,
  openFilesLimit,
} from '../../../src/dev.js';

const dir = () => mkdtempSync(join(tmpdir(), 'drove-dev-unit-'));

describe('drove dev state', () => {
  it('generates distinct secrets once and keeps them on the next start', () => {
    const dataDir = dir();
    const first = loadDevState(dataDir, {});
    expect(new Set([first.controllerSecret, first.executorSecret, first.instanceSecret]).size).toBe(3);
    expect(first).toMatchObject({ port: 7000, executorPort: 7001, host: '127.0.0.1' });
    expect(loadDevState(dataDir, {})).toEqual(first);
  });

  it('remembers ports and host given on the command line', () => {
    const dataDir = dir();
    loadDevState(dataDir, { port: 7100, executorPort: 7101, host: '0.0.0.0' });
    expect(loadDevState(dataDir, {})).toMatchObject({ port: 7100, executorPort: 7101, host: '0.0.0.0' });
  });

  it('refuses equal controller and executor ports', () => {
    expect(() => loadDevState(dir(), { port: 7000, executorPort: 7000 })).toThrow(
      new DevError('--port and --executor-port must differ (both are 7000)'),
    );
  });

  it('names the file and the problem when cluster.json is damaged', () => {
    const dataDir = dir();
    writeFileSync(join(dataDir, 'cluster.json'), '{"port": "x"}');
    expect(() => loadDevState(dataDir, {})).toThrow(/cluster\.json is invalid: .*port.*remove it to start a new cluster/);
    writeFileSync(join(dataDir, 'cluster.json'), 'not json');
    expect(() => loadDevState(dataDir, {})).toThrow(/cluster\.json is not valid JSON/);
  });
});

describe('drove dev configuration', () => {
  const dataDir = '/data';
  const state = {
    controllerSecret: 'c'.repeat(48),
    executorSecret: 'e'.repeat(48),
    instanceSecret: 'i'.repeat(48),
    port: 7000,
    executorPort: 7001,
    host: '0.0.0.0',
  };

  it('gives the controller a SQLite file in the data dir, both users and the generated secrets', () => {
    const config = devControllerConfig(dataDir, state, 'info');
    expect(config.store).toEqual({ type: 'sqlite', path: '/data/controller.db' });
    expect(config.userAuth?.users.map((u) => [u.username, u.password, u.role])).toEqual([
      ['admin', 'admin', 'EXTERNAL_READ_WRITE'],
      ['guest', 'guest', 'EXTERNAL_READ_ONLY'],
    ]);
    expect(config.clusterAuth.secrets.map((s) => s.secret)).toEqual([state.controllerSecret, state.executorSecret]);
    expect(config.instanceAuth.secret).toBe(state.instanceSecret);
  });

  it('points the executor at the controller on a reachable address, with a stable identity', () => {
    const config = devExecutorConfig(dataDir, state, 'info', '/run/docker.sock');
    // A wildcard listen address is reached on loopback; the hostname (part of the executor id) never changes.
    expect(config.controllers).toEqual(['http://127.0.0.1:7000']);
    expect(config.server).toEqual({ host: '0.0.0.0', port: 7001, hostname: '127.0.0.1' });
    expect(config.docker.socket).toBe('/run/docker.sock');
    expect(config.logDir).toBe('/data/logs');
    expect(config.resources.overProvisioning.enabled).toBe(true);
  });

  it('takes the Docker socket from a unix DOCKER_HOST', () => {
    expect(defaultDockerSocket({ DOCKER_HOST: 'unix:///tmp/x/docker.sock' })).toBe('/tmp/x/docker.sock');
    expect(defaultDockerSocket({ DOCKER_HOST: 'tcp://1.2.3.4:2375' })).toBe('/var/run/docker.sock');
    expect(defaultDockerSocket({})).toBe('/var/run/docker.sock');
  });

  it('caps the container nofile limit at the hard limit of the process', () => {
    const limits = join(dir(), 'limits');
    writeFileSync(limits, 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 20000                files\n');
    expect(openFilesLimit(limits)).toBe(20000);
    writeFileSync(limits, 'Max open files            1024                 unlimited            files\n');
    expect(openFilesLimit(limits)).toBe(470000);
    expect(openFilesLimit('/nonexistent')).toBe(470000);
  });
});

describe('drove dev banner', () => {
  const banner = (host: string) =>
    devBanner(
      {
        apiUrl: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:7100`,
        state: { host, port: 7100, executorPort: 7101 },
        dataDir: '/tmp/dev-data',
        logFile: '/tmp/dev-data/drove.log',
        executor: { executorId: 'E-1' },
      } as unknown as Parameters<typeof devBanner>[0],
      '/var/run/docker.sock',
    );

  it('names both /metrics and whether they are open', () => {
    expect(banner('127.0.0.1')).toContain('Metrics    http://127.0.0.1:7100/metrics, http://127.0.0.1:7101/metrics   (open on loopback;');
    expect(banner('0.0.0.0')).toContain('(controller: any user; executor: closed off loopback;');
  });
});
