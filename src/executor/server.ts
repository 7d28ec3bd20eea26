import { pino } from 'pino';
import type { Logger } from 'pino';
import type { Clock } from '../model/clock.js';
import { systemClock } from '../model/clock.js';
import { executorIdOf } from '../model/ids.js';
import { reachableHost } from '../model/listen-address.js';
import { loadServerTls } from '../model/tls.js';
import type { ExecutorAgent } from './agent.js';
import { buildExecutorApp } from './app.js';
import type { Checker } from './checks.js';
import type { ExecutorConfig } from './config.js';
import { resolveExecutorOptions } from './config.js';
import { Executor } from './executor.js';
import type { ExecutorHttpLimits } from './http-limits.js';
import type { InstanceEngine } from './instances/instance-engine.js';
import type { HostTopology } from './resources.js';
import { DockerRuntime } from './runtime/docker.js';
import type { ContainerRuntime } from './runtime/runtime.js';
import { MetricsPolicy } from '../model/monitoring.js';
import { ExecutorMetrics } from './metrics/metrics.js';

export { freePort } from './executor.js';

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
  /**
   * Process and Node.js metrics in `/metrics` (default true). Off where many executors share one process (the
   * hollow executors of bench:scale, docs/hollow.md): each registry would install its own GC observer and
   * event-loop histogram to report the same process's figures again.
   */
  processMetrics?: boolean;
}

export interface RunningExecutor {
  url: string;
  executorId: string;
  agent: ExecutorAgent;
  engine: InstanceEngine;
  metrics: ExecutorMetrics;
  /**
   * Stops the agent and its HTTP server. `leaveContainers: true` leaves instances running for a later executor
   * to re-adopt (a restart); otherwise every instance is stopped first (default).
   */
  stop(options?: { leaveContainers?: boolean }): Promise<void>;
}

/**
 * Starts an executor process's parts: the HTTP surface (app.ts) listening on `config.server`, then the executor
 * (executor.ts) under the identity the listening port gives it, recovery first. Embeddable (used by `drove dev`):
 * it never exits the process; `stop()` stops everything it started, in reverse order.
 */
export async function startExecutor(config: ExecutorConfig, deps: ExecutorDeps = {}): Promise<RunningExecutor> {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? pino({ level: config.logLevel, name: 'drove-executor' });
  const resolved = resolveExecutorOptions(config);
  const https = config.server.tls ? loadServerTls(config.server.tls) : undefined;
  // The server listens before the executor exists so that port 0 (tests) resolves to the real port the
  // executor id carries; until the executor has started, messages are answered "Executor is starting".
  let executor: Executor | undefined;
  const metrics = new ExecutorMetrics({ processMetrics: deps.processMetrics ?? true });
  const metricsPolicy = new MetricsPolicy(config.monitoring, config.server.host);
  if (!metricsPolicy.open && !metricsPolicy.hasBearerToken) {
    logger.info({ host: config.server.host }, '/metrics answers 401 to everyone: set monitoring.bearerToken (or monitoring.metrics: open) to scrape this executor');
  }
  const app = buildExecutorApp({
    config,
    clock,
    handler: () => executor?.handler(),
    readiness: () => executor?.readiness(),
    metricsPolicy,
    metrics: () => metrics.render(executor?.metricsSnapshot()),
    ...(https ? { https } : {}),
    ...(deps.httpLimits ? { limits: deps.httpLimits } : {}),
  });

  const address = await app.listen({ host: config.server.host, port: config.server.port });
  const port = Number(new URL(address).port);
  const executorId = executorIdOf(resolved.hostname, port);
  const url = `${https ? 'https' : 'http'}://${reachableHost(config.server.host)}:${port}`;

  const created = new Executor({
    config,
    resolved,
    identity: { executorId, port, transportType: https ? 'HTTPS' : 'HTTP' },
    runtime: deps.runtime ?? new DockerRuntime(config.docker.socket),
    clock,
    logger,
    ...(deps.checker ? { checker: deps.checker } : {}),
    ...(deps.hostTopology ? { hostTopology: deps.hostTopology } : {}),
    executorEnv: deps.executorEnv ?? process.env,
    metrics,
  });
  executor = created;
  await created.start();
  // The registries that have credentials, never the credentials.
  logger.info({ url, executorId, hostname: resolved.hostname, dockerAuthRegistries: created.dockerAuth.registries() }, 'executor started');

  let stopped: Promise<void> | undefined;
  return {
    url,
    executorId,
    agent: created.agent,
    engine: created.engine,
    metrics,
    stop(options = {}) {
      stopped ??= (async () => {
        await created.stop(options);
        await app.close();
        await created.close();
      })();
      return stopped;
    },
  };
}
