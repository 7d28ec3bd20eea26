import { createServer } from 'node:net';
import { pino } from 'pino';
import type { Logger } from 'pino';
import type { Clock } from '../model/clock.js';
import { systemClock } from '../model/clock.js';
import { executorIdOf } from '../model/ids.js';
import { INSTANCE_TERMINAL_STATES } from '../model/states.js';
import { loadServerTls, peerTlsOptions } from '../model/tls.js';
import { ExecutorAgent } from './agent.js';
import type { Checker } from './checks.js';
import { DEFAULT_HOOK_OPTIONS, ProbeChecker, errorText } from './checks.js';
import type { ExecutorConfig } from './config.js';
import { outgoingSecret, resolveExecutorOptions } from './config.js';
import { ControllerClient } from './controller-client.js';
import { DockerAuth } from './docker-auth.js';
import { InstanceEngine } from './instances/engine.js';
import type { InstanceDeps } from './instances/instance.js';
import { InstanceLogWriter, instanceLogDir, rotationOf } from './logs.js';
import { executorMetadata } from './metadata.js';
import { buildExecutorApp } from './app.js';
import type { ExecutorHttpLimits } from './http-limits.js';
import { startInstanceLogCleanup } from './log-cleanup.js';
import { reapZombies, recoverInstances } from './recovery.js';
import type { HostTopology } from './resources.js';
import { ResourceManager, buildLayout, discoverHostTopology } from './resources.js';
import { DockerRuntime } from './runtime/docker.js';
import type { ContainerRuntime } from './runtime/runtime.js';

/** Everything `startExecutor` lets an embedder (drove dev, tests) replace. */
export interface ExecutorDeps {
  runtime?: ContainerRuntime;
  clock?: Clock;
  logger?: Logger;
  checker?: Checker;
  hostTopology?: () => HostTopology;
  /** Source of empty-valued instance env entries (default: process.env). */
  executorEnv?: Record<string, string | undefined>;
  httpLimits?: Partial<ExecutorHttpLimits>;
}

export interface RunningExecutor {
  url: string;
  executorId: string;
  agent: ExecutorAgent;
  engine: InstanceEngine;
  /**
   * Stops the agent and its HTTP server. `leaveContainers: true` leaves instances running for a later executor
   * to re-adopt (a restart); otherwise every instance is stopped first (default).
   */
  stop(options?: { leaveContainers?: boolean }): Promise<void>;
}

/** Starts an executor: HTTP surface, resources, instance engine, recovery, agent loops. Never exits the process. */
export async function startExecutor(config: ExecutorConfig, deps: ExecutorDeps = {}): Promise<RunningExecutor> {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? pino({ level: config.logLevel, name: 'drove-executor' });
  const runtime = deps.runtime ?? new DockerRuntime(config.docker.socket);
  const resolved = resolveExecutorOptions(config);
  const https = config.server.tls ? loadServerTls(config.server.tls) : undefined;
  const controllerTls = peerTlsOptions(config.clusterTls);
  let agent: ExecutorAgent | undefined;
  const app = buildExecutorApp({
    config,
    clock,
    handler: () => (agent ? (body) => agent!.handle(body) : undefined),
    ...(https ? { https } : {}),
    ...(deps.httpLimits ? { limits: deps.httpLimits } : {}),
  });

  const address = await app.listen({ host: config.server.host, port: config.server.port });
  const port = Number(new URL(address).port);
  const executorId = executorIdOf(resolved.hostname, port);
  const transportType = https ? 'HTTPS' : 'HTTP';
  const url = `${https ? 'https' : 'http'}://${config.server.host === '0.0.0.0' || config.server.host === '::' ? '127.0.0.1' : config.server.host}:${port}`;

  const executorEnv = deps.executorEnv ?? process.env;
  const dockerAuth = new DockerAuth(config.dockerAuth);
  const metadata = executorMetadata(config.resources.metadata, executorEnv);
  for (const { key, reason } of metadata.leftOut) logger.error({ key, reason }, 'executor metadata key left out');
  const resources = new ResourceManager(executorId, buildLayout(config.resources, deps.hostTopology ?? discoverHostTopology));
  const instanceDeps: InstanceDeps = {
    runtime,
    checker: deps.checker ?? new ProbeChecker(runtime, 'localhost', clock),
    clock,
    logger,
    hostname: resolved.hostname,
    executorId,
    resources,
    numaPinning: !config.resources.disableNUMAPinning,
    cacheImages: config.cacheImages,
    dockerAuth,
    containerOptions: {
      logBufferMB: config.options.logBufferSize,
      logCacheFileMB: config.options.cacheFileSize,
      logCacheFileCount: config.options.cacheFileCount,
      enableNvidiaGpu: config.resources.enableNvidiaGpu,
    },
    ...(config.defaultUserSpec ? { defaultUserSpec: config.defaultUserSpec } : {}),
    ...(config.maxOpenFiles ? { maxOpenFiles: config.maxOpenFiles } : {}),
    executorEnv,
    allocatePort: freePort,
    openLog: (spec) =>
      new InstanceLogWriter(
        instanceLogDir(config.logDir, spec.serviceId, spec.instanceId),
        rotationOf(spec.loggingSpec),
        (file, error) => logger.warn({ file, error: errorText(error) }, 'rotated log not compressed'),
      ),
    hookOptions: DEFAULT_HOOK_OPTIONS,
    stopGraceSeconds: resolved.stopGraceSeconds,
    hostPaths: { allowedMountDirs: config.options.allowedMountDirs, allowedLocalFileDirs: config.options.allowedLocalFileDirs },
    hostAccess: {
      enableHostNetwork: config.options.enableHostNetwork,
      enableHostPid: config.options.enableHostPid,
      enablePrivilegedContainers: config.options.enablePrivilegedContainers,
      allowedCapabilities: config.options.allowedCapabilities,
    },
  };
  const engine = new InstanceEngine(instanceDeps);
  const client = new ControllerClient({
    endpoints: config.controllers,
    secret: outgoingSecret(config),
    nodeId: resolved.hostname,
    clock,
    logger,
    tls: controllerTls,
  });
  const createdAgent = new ExecutorAgent(
    {
      hostname: resolved.hostname,
      port,
      transportType,
      executorId,
      tags: config.tags,
      metadata: metadata.metadata,
      dataDir: config.dataDir,
      heartbeatMs: resolved.heartbeatMs,
      leaderRetryInitialMs: resolved.leaderRetryInitialMs,
      leaderRetryMaxMs: resolved.leaderRetryMaxMs,
      reportBatchWindowMs: resolved.reportBatchWindowMs,
      readinessPollMs: resolved.readinessPollMs,
    },
    { client, engine, resources, clock, logger },
  );
  const recoveryDeps = { runtime, engine, client, clock, logger, executorId };
  try {
    const recovered = await recoverInstances(recoveryDeps, resolved.recoveryLeaderWaitMs);
    if (recovered.adopted.length + recovered.removed.length > 0) logger.info(recovered, 'recovery done');
  } catch (error) {
    logger.error({ error: errorText(error) }, 'recovery failed; starting with no instances');
  }
  agent = createdAgent;
  agent.start();

  let cancelReaper: (() => void) | undefined;
  let stopping = false;
  const scheduleReaper = () => {
    cancelReaper = clock.setTimer(() => {
      void reapZombies(recoveryDeps)
        .catch((error: unknown) => logger.error({ error: errorText(error) }, 'zombie reaper failed'))
        .finally(() => {
          if (!stopping) scheduleReaper();
        });
    }, resolved.zombieCheckMs);
  };
  scheduleReaper();
  // Started after recovery, so instances adopted from a previous run count as live.
  const stopLogCleanup = startInstanceLogCleanup({
    logDir: config.logDir,
    retentionMs: resolved.instanceLogRetentionMs,
    intervalMs: resolved.instanceLogCleanupMs,
    isLive: (serviceId, instanceId) => {
      const instance = engine.get(instanceId);
      return instance !== undefined && instance.spec.serviceId === serviceId && !INSTANCE_TERMINAL_STATES.has(instance.state);
    },
    clock,
    onError: (error) => logger.error({ error: errorText(error) }, 'instance log cleanup failed'),
  });
  // The registries that have credentials, never the credentials.
  logger.info({ url, executorId, hostname: resolved.hostname, dockerAuthRegistries: dockerAuth.registries() }, 'executor started');

  return {
    url,
    executorId,
    agent: createdAgent,
    engine,
    async stop(options = {}) {
      if (stopping) return;
      stopping = true;
      cancelReaper?.();
      stopLogCleanup();
      if (options.leaveContainers) engine.detachAll();
      else for (const instance of engine.list()) engine.stop(instance.instanceId);
      await engine.drained();
      await createdAgent.stop();
      await app.close();
      await client.close();
    },
  };
}

/** An OS-chosen free TCP port: bind to 0, read it, release it (Drove does the same, §5.7). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
