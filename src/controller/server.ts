import { hostname as osHostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { Etcd3 } from 'etcd3';
import { pino, type Logger } from 'pino';
import type { ControllerConfig } from './config.js';
import { reachableHost } from '../model/index.js';
import { loadServerTls } from '../model/tls.js';
import { applySafeDefaults } from './safe-defaults.js';
import type { ControllerCore } from './core.js';
import { buildControllerApp, type ControllerAppOptions } from './api/app.js';
import { failedError } from './api/errors.js';
import { createController, type Controller, type CreateControllerOptions } from './controller.js';
import { SqliteStateStore } from './store/sqlite.js';
import { EtcdStateStore, etcdClientOptions } from './store/etcd.js';
import type { StateStore } from './store/store.js';
import type { LeaderElector } from './leadership/leadership.js';
import { SingleLeaderElector } from './leadership/single.js';
import { EtcdLeaderElector } from './leadership/etcd.js';
import { InstrumentedStore } from './metrics/instrumented-store.js';
import { ControllerMetrics } from './metrics/metrics.js';

export { buildControllerApp, type ControllerAppOptions };

export interface RunningController {
  url: string;
  port: number;
  controller: Controller;
  app: FastifyInstance;
  metrics: ControllerMetrics;
  close(): Promise<void>;
}

export interface StartControllerOptions {
  logger?: Logger;
  /** Extra controller options (clock, timings, messenger) for tests and the embedded dev mode. */
  controller?: Partial<Omit<CreateControllerOptions, 'config' | 'store' | 'leadership' | 'hostname' | 'port' | 'metrics'>>;
}

/**
 * Connections the kernel queues before the controller accepts them (Node's default: 511). When thousands of
 * executors (re)register at once, as after a controller restart, a full queue drops their SYNs: each retries after
 * its connect timeout and its heartbeats arrive seconds late, which a busy leader reads as executors going silent.
 * The kernel caps it at net.core.somaxconn (4096 on current Linux).
 */
export const CONTROLLER_LISTEN_BACKLOG = 4096;

/**
 * Starts a controller: store and leader election from `config.store` (SQLite: always leader; etcd: lease-based
 * election), the core, and the HTTP API listening on `config.server`. Embeddable (used by `drove dev`): it
 * never exits the process; `close()` stops everything it started, in reverse order.
 */
export async function startControllerServer(given: ControllerConfig, opts: StartControllerOptions = {}): Promise<RunningController> {
  const logger = opts.logger ?? pino({ level: given.logLevel, name: 'drove-controller' });
  // Refuses an unauthenticated non-loopback listener; fills in the generated instance token secret.
  const config = applySafeDefaults(given, logger);
  const hostname = config.server.hostname ?? osHostname();
  // The API listens before the core exists so that port 0 (tests) resolves to the real port the leader
  // address must carry; in that short window the node is not (yet) the leader and answers as a non-leader.
  let core: Controller | undefined;
  const https = config.server.tls ? loadServerTls(config.server.tls) : undefined;
  const metrics = new ControllerMetrics({ processMetrics: true });
  const app = buildControllerApp({
    core: deferredCore(() => core),
    config,
    metrics,
    logger: logger as unknown as FastifyBaseLogger,
    ...(https ? { https } : {}),
  });
  try {
    await app.listen({ host: config.server.host, port: config.server.port, backlog: CONTROLLER_LISTEN_BACKLOG });
  } catch (error) {
    await app.close();
    throw error;
  }
  const port = (app.server.address() as AddressInfo).port;

  const cleanups: Array<() => Promise<void>> = [() => app.close()];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        logger.warn({ err: error }, 'error while stopping the controller');
      }
    }
  };
  try {
    const { store, leadership, release } = openStore(config, `${hostname}:${port}`, logger);
    cleanups.push(release);
    const controller = await createController({
      ...opts.controller,
      config,
      store: new InstrumentedStore(store, config.store.type, metrics),
      metrics,
      leadership,
      logger,
      hostname,
      port,
    });
    await controller.start();
    cleanups.push(() => controller.stop());
    core = controller;
    const scheme = https ? 'https' : 'http';
    logger.info({ port, scheme, store: config.store.type }, 'controller listening');
    return { url: `${scheme}://${reachableHost(config.server.host)}:${port}`, port, controller, app, metrics, close };
  } catch (error) {
    await close();
    throw error;
  }
}

function openStore(
  config: ControllerConfig,
  address: string,
  logger: Logger,
): { store: StateStore; leadership: LeaderElector; release: () => Promise<void> } {
  if (config.store.type === 'sqlite') {
    const store = new SqliteStateStore(config.store.path);
    return { store, leadership: new SingleLeaderElector(address), release: () => store.close() };
  }
  const etcd = config.store;
  const client = new Etcd3(etcdClientOptions({ ...etcd }));
  const store = new EtcdStateStore({ client, namespace: etcd.namespace });
  const leadership = new EtcdLeaderElector({
    client,
    namespace: etcd.namespace,
    address,
    ttlSeconds: etcd.leaseTtlSeconds,
    logger: { info: (m) => logger.info(m), warn: (m) => logger.warn(m) },
  });
  // Writes carry the leader key, so a deposed leader that has not noticed yet cannot overwrite its successor.
  store.setFence(() => leadership.fence());
  return {
    store,
    leadership,
    release: async () => {
      await store.close();
      client.close();
    },
  };
}

/**
 * Forwards to the core once it exists. Before that the node is not the leader: the leader guard answers 400
 * (so `/apis/v1/ping` never says 200 on a controller that is still starting), and any other call is a 503.
 */
function deferredCore(get: () => ControllerCore | undefined): ControllerCore {
  return new Proxy({} as ControllerCore, {
    get(_target, property) {
      const core = get();
      if (!core) {
        if (property === 'isLeader') return () => false;
        if (property === 'leaderAddress') return () => undefined;
        return () => {
          throw failedError(503, 'Controller is starting, retry in a moment');
        };
      }
      const value = (core as unknown as Record<PropertyKey, unknown>)[property];
      return typeof value === 'function' ? (value.bind(core) as unknown) : value;
    },
  });
}
