import { createServer } from 'node:net';
import type { Logger } from 'pino';
import type { Clock } from '../model/clock.js';
import { Periodic } from '../model/periodic.js';
import { INSTANCE_TERMINAL_STATES } from '../model/states.js';
import { peerTlsOptions } from '../model/tls.js';
import { ExecutorAgent } from './agent.js';
import type { MessageHandler } from './app.js';
import type { ExecutorReadiness } from './health.js';
import type { Checker } from './checks.js';
import { DEFAULT_HOOK_OPTIONS, ProbeChecker, errorText } from './checks.js';
import type { ExecutorConfig, ResolvedExecutorOptions } from './config.js';
import { outgoingSecret } from './config.js';
import { ControllerClient } from './controller-client.js';
import { DockerAuth } from './docker-auth.js';
import { InstanceEngine } from './instances/instance-engine.js';
import type { InstanceDeps } from './instances/instance.js';
import { InstanceLogWriter, instanceLogDir, rotationOf } from './logs.js';
import { executorMetadata } from './metadata.js';
import { instanceLogCleanup } from './log-cleanup.js';
import { reapZombies, recoverInstances } from './recovery.js';
import type { HostTopology } from './resources.js';
import { ResourceManager, buildLayout, discoverHostTopology } from './resources.js';
import type { ContainerRuntime } from './runtime/runtime.js';
import type { ExecutorMetrics, ExecutorMetricsSnapshot } from './metrics/metrics.js';
import { ContainerStatsCollector } from './metrics/stats.js';

/** Where this executor was reached: known only once its HTTP server listens (port 0 picks one). */
export interface ExecutorIdentity {
  executorId: string;
  port: number;
  transportType: 'HTTP' | 'HTTPS';
}

export interface ExecutorParts {
  config: ExecutorConfig;
  resolved: ResolvedExecutorOptions;
  identity: ExecutorIdentity;
  runtime: ContainerRuntime;
  clock: Clock;
  logger: Logger;
  checker?: Checker;
  hostTopology?: () => HostTopology;
  /** Source of empty-valued instance env entries. */
  executorEnv: Record<string, string | undefined>;
  /** Where pulls, probes, instance changes and container stats are reported; absent: nothing is measured. */
  metrics?: ExecutorMetrics;
}

/**
 * The executor itself, without its HTTP server (server.ts assembles the process, app.ts holds the routes): the
 * resources of this host, the instance engine, the client of the leader and the agent that talks to it, and the
 * background loops (zombie reaper, instance log cleanup). `start()` re-adopts containers of an earlier run first;
 * messages are taken only after that (`handler()` is undefined until then).
 */
export class Executor {
  readonly engine: InstanceEngine;
  readonly agent: ExecutorAgent;
  /** Registries this executor has credentials for (dockerAuth). */
  readonly dockerAuth: DockerAuth;
  private readonly client: ControllerClient;
  private started = false;
  private stopping = false;
  private reaper: Periodic | undefined;
  private dockerPing: Promise<ExecutorReadiness['docker']> | undefined;
  private logCleanup: Periodic | undefined;
  private readonly stats: ContainerStatsCollector | undefined;

  constructor(private readonly parts: ExecutorParts) {
    const { config, resolved, identity, runtime, clock, logger } = parts;
    this.dockerAuth = new DockerAuth(config.dockerAuth);
    const metadata = executorMetadata(config.resources.metadata, parts.executorEnv);
    for (const { key, reason } of metadata.leftOut) logger.error({ key, reason }, 'executor metadata key left out');
    const resources = new ResourceManager(identity.executorId, buildLayout(config.resources, parts.hostTopology ?? discoverHostTopology));
    const instanceDeps: InstanceDeps = {
      runtime,
      checker: parts.checker ?? new ProbeChecker(runtime, 'localhost', clock),
      clock,
      logger,
      hostname: resolved.hostname,
      executorId: identity.executorId,
      resources,
      numaPinning: !config.resources.disableNUMAPinning,
      cacheImages: config.cacheImages,
      dockerAuth: this.dockerAuth,
      containerOptions: {
        logBufferMB: config.options.logBufferSize,
        logCacheFileMB: config.options.cacheFileSize,
        logCacheFileCount: config.options.cacheFileCount,
        enableNvidiaGpu: config.resources.enableNvidiaGpu,
      },
      ...(config.defaultUserSpec ? { defaultUserSpec: config.defaultUserSpec } : {}),
      ...(config.maxOpenFiles ? { maxOpenFiles: config.maxOpenFiles } : {}),
      executorEnv: parts.executorEnv,
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
      configFetch: { allowLocalAddresses: config.options.allowConfigFetchFromLocalAddresses },
      hostAccess: {
        enableHostNetwork: config.options.enableHostNetwork,
        enableHostPid: config.options.enableHostPid,
        enablePrivilegedContainers: config.options.enablePrivilegedContainers,
        allowedCapabilities: config.options.allowedCapabilities,
      },
      ...(parts.metrics ? { metrics: parts.metrics } : {}),
    };
    this.engine = new InstanceEngine(instanceDeps);
    const { metrics } = parts;
    if (metrics) {
      this.engine.onChange((info) => metrics.instanceChanged(info));
      this.stats = new ContainerStatsCollector({ runtime, engine: this.engine, metrics, clock, logger, intervalMs: resolved.containerStatsMs });
    }
    this.client = new ControllerClient({
      endpoints: config.controllers,
      secret: outgoingSecret(config),
      nodeId: resolved.hostname,
      clock,
      logger,
      tls: peerTlsOptions(config.clusterTls),
    });
    this.agent = new ExecutorAgent(
      {
        hostname: resolved.hostname,
        port: identity.port,
        transportType: identity.transportType,
        executorId: identity.executorId,
        tags: config.tags,
        metadata: metadata.metadata,
        dataDir: config.dataDir,
        heartbeatMs: resolved.heartbeatMs,
        leaderRetryInitialMs: resolved.leaderRetryInitialMs,
        leaderRetryMaxMs: resolved.leaderRetryMaxMs,
        reportBatchWindowMs: resolved.reportBatchWindowMs,
        readinessPollMs: resolved.readinessPollMs,
      },
      { client: this.client, engine: this.engine, resources, clock, logger },
    );
  }

  /** The message handler once the executor runs; undefined while it is still starting. */
  handler(): MessageHandler | undefined {
    return this.started ? (body, context) => this.agent.handle(body, context) : undefined;
  }

  /**
   * Ready when a leader accepted the last heartbeat and the container engine answers a ping; undefined until the
   * executor runs. Concurrent probes share one ping.
   */
  readiness(): Promise<ExecutorReadiness> | undefined {
    if (!this.started || this.stopping) return undefined;
    this.dockerPing ??= this.parts.runtime
      .ping(DOCKER_PING_TIMEOUT_MS)
      .then(() => ({ reachable: true }), (error: unknown) => ({ reachable: false, error: errorText(error) }))
      .finally(() => (this.dockerPing = undefined));
    return this.dockerPing.then((docker) => {
      const contact = this.agent.leaderContact();
      return { ready: contact.registered && docker.reachable, leader: contact.leader, docker, executorState: this.agent.state };
    });
  }

  /** What a scrape of `/metrics` reads of this executor now. */
  metricsSnapshot(): ExecutorMetricsSnapshot {
    return { instanceStates: this.engine.list().map((i) => i.state) };
  }

  /** Re-adopts (or removes) containers of an earlier run, then starts the agent and the background loops. */
  async start(): Promise<void> {
    const { resolved, clock, logger } = this.parts;
    try {
      const recovered = await recoverInstances(this.recoveryDeps(), resolved.recoveryLeaderWaitMs);
      if (recovered.adopted.length + recovered.removed.length > 0) logger.info(recovered, 'recovery done');
    } catch (error) {
      logger.error({ error: errorText(error) }, 'recovery failed; starting with no instances');
    }
    this.started = true;
    this.agent.start();
    this.reaper = new Periodic({
      name: 'zombie reaper',
      clock,
      intervalMs: resolved.zombieCheckMs,
      run: () => reapZombies(this.recoveryDeps()),
      onError: (error) => logger.error({ error: errorText(error) }, 'zombie reaper failed'),
    });
    this.reaper.start();
    // Started after recovery, so instances adopted from a previous run count as live.
    this.logCleanup = instanceLogCleanup({
      logDir: this.parts.config.logDir,
      retentionMs: resolved.instanceLogRetentionMs,
      intervalMs: resolved.instanceLogCleanupMs,
      isLive: (serviceId, instanceId) => {
        const instance = this.engine.get(instanceId);
        return instance !== undefined && instance.spec.serviceId === serviceId && !INSTANCE_TERMINAL_STATES.has(instance.state);
      },
      clock,
      onError: (error) => logger.error({ error: errorText(error) }, 'instance log cleanup failed'),
    });
    this.logCleanup.start();
    this.stats?.start();
  }

  /**
   * Stops the loops and the agent. `leaveContainers: true` leaves instances running for a later executor to
   * re-adopt (a restart); otherwise every instance is stopped first.
   */
  async stop(options: { leaveContainers?: boolean } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await Promise.all([this.reaper?.stop(), this.logCleanup?.stop(), this.stats?.stop()]);
    if (options.leaveContainers) this.engine.detachAll();
    else for (const instance of this.engine.list()) this.engine.stop(instance.instanceId);
    await this.engine.drained();
    await this.agent.stop();
  }

  /** Closes the client of the leader (aborting calls in flight); after stop() and after the HTTP server closed. */
  async close(): Promise<void> {
    await this.client.close();
  }

  private recoveryDeps() {
    const { runtime, clock, logger, identity } = this.parts;
    return { runtime, engine: this.engine, client: this.client, clock, logger, executorId: identity.executorId };
  }
}

/**
 * A readiness probe waits at most this long for the engine's answer: dockerd answers its ping in milliseconds, and
 * probes of load balancers and supervisors commonly time out after 1-5 s; 2 s leaves the probe time to answer.
 */
const DOCKER_PING_TIMEOUT_MS = 2_000;

/** An OS-chosen free TCP port: bind to 0, read it, release it (as Drove does; docs/design/placement.md#ports). */
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
