import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONTROLLER_DROVE_COMPATIBILITY } from '../../../src/controller/config-drove.js';
import { loadControllerConfig, parseControllerConfig } from '../../../src/controller/config.js';
import { EXECUTOR_DROVE_COMPATIBILITY } from '../../../src/executor/config-drove.js';
import { loadExecutorConfig, parseExecutorConfig } from '../../../src/executor/config.js';
import { executorMetadata } from '../../../src/executor/metadata.js';

/** Drove's config files carry over: Drove's key names are read into ours, or refused naming why (docs/drove-config.md). */
const fixtures = join(import.meta.dirname, '..', '..', 'fixtures', 'drove-config');
const repo = join(import.meta.dirname, '..', '..', '..');

const env = {
  DROVE_CONTROLLER_SECRET: 'controller-secret',
  DROVE_EXECUTOR_SECRET: 'executor-secret',
  DROVE_INSTANCE_AUTH_SECRET: 'instance-secret',
  DROVE_DISABLE_NUMA_PINNING: 'true',
  DROVE_ENABLE_NVIDIA_GPU: 'false',
  REGISTRY_PASSWORD: 'registry-password',
};

const executorBase = {
  controllers: ['http://controller:10000'],
  clusterAuth: { secrets: [{ nodeType: 'CONTROLLER', secret: 'c' }, { nodeType: 'EXECUTOR', secret: 'e' }] },
};

describe('a Drove executor.yml', () => {
  it('loads, each Drove key landing on its drove-ts setting', () => {
    const config = loadExecutorConfig(join(fixtures, 'executor.yml'), env);
    expect(config.server).toEqual({ host: '0.0.0.0', port: 3030, hostname: 'executor-17.example.com' });
    expect(config.logLevel).toBe('info');
    expect(config.controllers).toEqual(['http://host-1:10000', 'http://host-2:10010']);
    expect(config.options.leaderRetryMax).toBe('5 seconds');
    expect(config.clusterAuth.secrets).toEqual([
      { nodeType: 'CONTROLLER', secret: 'controller-secret' },
      { nodeType: 'EXECUTOR', secret: 'executor-secret' },
    ]);
    expect(config.cacheImages).toBe(true);
    expect(config.maxOpenFiles).toBe(10_000);
    expect(config.options).toMatchObject({ logBufferSize: 5, cacheFileSize: 10, cacheFileCount: 3 });
    expect(config.docker.socket).toBe('/run/user/1000/podman/podman.sock');
    expect(config.defaultUserSpec).toEqual({ user: '1000', group: '1000' });
    expect(config.tags).toEqual(['OVER_PROVISIONED_EXECUTOR']);
    expect(config.resources).toMatchObject({
      osCores: [0, 1],
      exposedMemPercentage: 60,
      disableNUMAPinning: true,
      enableNvidiaGpu: false,
      overProvisioning: { enabled: true, cpuMultiplier: 10, memoryMultiplier: 10 },
    });
    expect(executorMetadata(config.resources.metadata, { DC: 'dc1', NODE_SECRET_X: 's' }).metadata).toEqual({ DC: 'dc1', floor: '3', rack: 'r12' });
    expect(config.dockerAuth?.entries['registry.example.com:5000']).toEqual({ type: 'CREDENTIALS', username: 'puller', password: 'registry-password' });
  });

  it("names the file's own key when a moved value is wrong, and refuses a setting given both ways", () => {
    expect(() => parseExecutorConfig({ ...executorBase, options: { maxOpenFiles: 'many' } })).toThrow('Invalid executor config: options.maxOpenFiles Invalid input');
    expect(() => parseExecutorConfig({ ...executorBase, server: { applicationConnectors: [{ type: 'http', port: 'x' }] } })).toThrow(
      'server.applicationConnectors.0.port Invalid input',
    );
    expect(() => parseExecutorConfig({ ...executorBase, cacheImages: false, options: { cacheImages: true } })).toThrow(
      'options.cacheImages is Drove\'s name for cacheImages; give only one of them',
    );
    expect(() => parseExecutorConfig({ ...executorBase, controllers: { endpoints: ['http://c:1'], leadershipCheckInterval: '5s' }, options: { leaderRetryMax: '9s' } })).toThrow(
      "controllers.leadershipCheckInterval is Drove's name for options.leaderRetryMax; give only one of them",
    );
  });

  it("reads Drove's \"default\" values as drove-ts's defaults, and refuses what drove-ts cannot do", () => {
    // Drove: maxOpenFiles 0 = its default; drove-ts's default is the engine's own limit.
    expect(parseExecutorConfig({ ...executorBase, options: { maxOpenFiles: 0 } }).maxOpenFiles).toBeUndefined();
    expect(parseExecutorConfig({ ...executorBase, options: { cacheFileCount: 0 } }).options.cacheFileCount).toBe(3);
    expect(() => parseExecutorConfig({ ...executorBase, options: { remoteUpdateMode: 'STORE' } })).toThrow(
      'options.remoteUpdateMode "STORE" is not supported: drove-ts executors report to the leader over HTTP (Drove\'s RPC); remove the key or write RPC',
    );
    expect(() => parseExecutorConfig({ ...executorBase, server: { applicationConnectors: [{ type: 'https', port: 3000, keyStorePath: '/k.jks' }] } })).toThrow(
      'server.applicationConnectors.0.type https connectors are not supported: drove-ts serves HTTPS from PEM files with server.tls.certFile and server.tls.keyFile',
    );
    expect(() => parseExecutorConfig({ ...executorBase, server: { applicationConnectors: [{ port: 1 }, { port: 2 }] } })).toThrow(
      'server.applicationConnectors drove-ts listens on one address',
    );
    expect(() => parseExecutorConfig({ ...executorBase, logging: { level: 'LOUD' } })).toThrow('logging.level must be one of OFF, ERROR, WARN, INFO, DEBUG, TRACE, ALL, got "LOUD"');
  });

  it('lists every Drove key drove-ts does not support, each with why, in one error', () => {
    expect(() =>
      parseExecutorConfig({
        ...executorBase,
        server: { applicationConnectors: [{ type: 'http', port: 3000 }], adminConnectors: [{ type: 'http', port: 3001 }], applicationContextPath: '/' },
        logging: { level: 'INFO', appenders: [{ type: 'console' }] },
        zookeeper: { connectionString: 'localhost:2181' },
        options: { containerCommandTimeout: '30 seconds' },
      }),
    ).toThrow(
      'Invalid executor config:\n' +
        '  - unknown key "appenders" (at logging; Drove\'s key, not supported by drove-ts: logs are JSON lines on stdout (pipe them to your log shipper); remove it; see docs/drove-config.md)\n' +
        '  - unknown key "adminConnectors" (at server; Drove\'s key, not supported by drove-ts: there is no separate admin port; remove it; see docs/drove-config.md)\n' +
        '  - unknown key "applicationContextPath" (at server; Drove\'s key, not supported by drove-ts: the API is always served at /; remove it; see docs/drove-config.md)\n' +
        '  - unknown key "containerCommandTimeout" (at options; Drove\'s key, not supported by drove-ts: each CMD check and hook ends at its own timeout in the spec; remove it; see docs/drove-config.md)\n' +
        '  - unknown key "zookeeper" (at top level; Drove\'s key, not supported by drove-ts: executors find the leader through "controllers:" (the controllers\' URLs); see docs/drove-config.md)',
    );
  });
});

describe('a Drove controller.yml', () => {
  it('loads, each Drove key landing on its drove-ts setting', () => {
    const config = loadControllerConfig(join(fixtures, 'controller.yml'), env);
    expect(config.server).toEqual({ host: '0.0.0.0', port: 4000 });
    expect(config.logLevel).toBe('debug');
    expect(config.instanceAuth.secret).toBe('instance-secret');
    expect(config.userAuth).toMatchObject({ enabled: true, encoding: 'CRYPT' });
    expect(config.userAuth?.users.map((u) => [u.username, u.role])).toEqual([['admin', 'EXTERNAL_READ_WRITE'], ['guest', 'EXTERNAL_READ_ONLY']]);
    expect(config.options).toMatchObject({
      maxStaleInstancesCount: 3,
      staleCheckInterval: '1 minute',
      staleInstanceAge: '18 hours',
      staleServiceAge: '2 days',
      maxEventsStorageDuration: '30 minutes',
      clusterOpTimeout: '600 seconds',
      clusterOpParallelism: 4,
      jobRetryCount: 3,
      jobRetryInterval: '2 seconds',
      instanceStateCheckRetryInterval: '5 seconds',
      staleExecutorAge: '60 seconds',
      auditedHttpMethods: ['POST', 'PUT', 'DELETE'],
      allowedMountDirs: ['/tmp', '/home'],
      disableReadAuth: true,
      disableCmdlArgs: false,
      enableRawDeviceAccess: true,
    });
    // Drove keeps state in ZooKeeper; a carried-over config gets the embedded store.
    expect(config.store).toEqual({ type: 'sqlite', path: 'drove.db' });
  });

  it("names Drove's settings for applications, tasks, rules and ZooKeeper as not supported, with why", () => {
    expect(() =>
      parseControllerConfig({ zookeeper: { connectionString: 'zk:2181' }, options: { staleAppAge: '2d', compiledRuleCacheCount: 2 } }),
    ).toThrow(
      'Invalid controller config:\n' +
        '  - unknown key "staleAppAge" (at options; Drove\'s key, not supported by drove-ts: it ages Drove applications, and only local services run here (see options.staleServiceAge); remove it; see docs/drove-config.md)\n' +
        '  - unknown key "compiledRuleCacheCount" (at options; Drove\'s key, not supported by drove-ts: there are no placement rules (local services run on every executor); remove it; see docs/drove-config.md)\n' +
        '  - unknown key "zookeeper" (at top level; Drove\'s key, not supported by drove-ts: cluster state is kept in "store:" (sqlite, or etcd for several controllers); see docs/drove-config.md)',
    );
  });

  it('a ${VAR} that is not set stops the start naming it, the file and the line', () => {
    const path = join(fixtures, 'controller.yml');
    expect(() => loadControllerConfig(path, {})).toThrow(
      `Invalid controller config ${path}: environment variable DROVE_CONTROLLER_SECRET is not set (\${DROVE_CONTROLLER_SECRET} on line 14)`,
    );
  });
});

describe('docs/drove-config.md', () => {
  it('lists every Drove key the code maps or refuses', () => {
    const doc = readFileSync(join(repo, 'docs', 'drove-config.md'), 'utf8');
    const keys = [EXECUTOR_DROVE_COMPATIBILITY, CONTROLLER_DROVE_COMPATIBILITY].flatMap((c) => [
      ...c.aliases.map((a) => a.drove),
      ...Object.keys(c.unsupported),
    ]);
    const missing = [...new Set(keys)].filter((key) => !doc.includes(`\`${key}\``));
    expect(missing).toEqual([]);
  });
});
