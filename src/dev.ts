import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { pino, type Logger } from 'pino';
import { z } from 'zod';
import { parseControllerConfig, type ControllerConfig } from './controller/config.js';
import type { RunningController } from './controller/server.js';
import { parseExecutorConfig, type ExecutorConfig } from './executor/config.js';
import type { RunningExecutor } from './executor/server.js';
import { LOG_LEVELS, isLoopback, issueMessages, reachableHost, type LogLevel } from './model/index.js';

/**
 * `drove dev`: an embedded cluster in one process: a controller (state in SQLite under the data directory, always
 * the leader) and one executor on the local Docker daemon. Starting again on the same data directory resumes the
 * cluster as it was: same secrets, same executor identity, running containers re-adopted.
 */

export const DEV_DEFAULTS = {
  /** Drove's docs and CLI samples use port 7000 for a local cluster (`http://drove.local:7000`). */
  port: 7000,
  executorPort: 7001,
  dataDir: './.data',
  /** A dev cluster is for this machine only; pass --host 0.0.0.0 to reach it from elsewhere. */
  host: '127.0.0.1',
  /**
   * Laptops have few cores and every instance pins whole cores; offering each core 8 times lets a 2-core machine
   * run the examples with instancesPerHost > 1. Pinning exclusivity does not matter in development.
   */
  cpuMultiplier: 8,
  /** Copies of one Ctrl-C arrive within milliseconds; a deliberate second Ctrl-C comes later than this. */
  repeatedSignalWindowMs: 1000,
} as const;

export const DEV_USERS = [
  { username: 'admin', password: 'admin', role: 'EXTERNAL_READ_WRITE' },
  { username: 'guest', password: 'guest', role: 'EXTERNAL_READ_ONLY' },
] as const;

/** What the data directory remembers between starts (cluster.json). */
const DevStateSchema = z.object({
  controllerSecret: z.string().min(16),
  executorSecret: z.string().min(16),
  instanceSecret: z.string().min(16),
  port: z.number().int().min(1).max(65535),
  executorPort: z.number().int().min(1).max(65535),
  host: z.string().min(1),
});
export type DevState = z.infer<typeof DevStateSchema>;

export interface DevOptions {
  dataDir: string;
  /** Omitted: the value remembered in the data directory, else the default. */
  port?: number;
  executorPort?: number;
  host?: string;
  logLevel?: LogLevel;
  /** Docker Engine socket (default: DOCKER_HOST when it is a unix socket, else /var/run/docker.sock). */
  dockerSocket?: string;
}

export interface DevCluster {
  apiUrl: string;
  state: DevState;
  dataDir: string;
  logFile: string;
  controller: RunningController;
  executor: RunningExecutor;
  /** Stops executor then controller; containers keep running and are re-adopted on the next start. */
  stop(): Promise<void>;
}

export class DevError extends Error {}

const secret = () => randomBytes(24).toString('hex');

/**
 * Reads cluster.json, or creates it (and the data directory) with fresh secrets; explicit ports/host override
 * and are remembered.
 */
export function loadDevState(dataDir: string, options: Pick<DevOptions, 'port' | 'executorPort' | 'host'>): DevState {
  // Secrets, the store and logs live here: owner-only when we create it.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, 'cluster.json');
  let previous: DevState | undefined;
  if (existsSync(file)) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new DevError(`${file} is not valid JSON (${(error as Error).message}); remove it to start a new cluster`);
    }
    const parsed = DevStateSchema.safeParse(raw);
    if (!parsed.success) {
      throw new DevError(`${file} is invalid: ${issueMessages(parsed.error).join('; ')}; remove it to start a new cluster`);
    }
    previous = parsed.data;
  }
  const state: DevState = {
    controllerSecret: previous?.controllerSecret ?? secret(),
    executorSecret: previous?.executorSecret ?? secret(),
    instanceSecret: previous?.instanceSecret ?? secret(),
    port: options.port ?? previous?.port ?? DEV_DEFAULTS.port,
    executorPort: options.executorPort ?? previous?.executorPort ?? DEV_DEFAULTS.executorPort,
    host: options.host ?? previous?.host ?? DEV_DEFAULTS.host,
  };
  if (state.port === state.executorPort) {
    throw new DevError(`--port and --executor-port must differ (both are ${state.port})`);
  }
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  // `mode` only applies when the file is created: a cluster.json made readable by hand gets owner-only again.
  chmodSync(file, 0o600);
  return state;
}

export function devControllerConfig(dataDir: string, state: DevState, logLevel: LogLevel): ControllerConfig {
  return parseControllerConfig(
    {
      server: { host: state.host, port: state.port, hostname: reachableHost(state.host) },
      store: { type: 'sqlite', path: join(dataDir, 'controller.db') },
      clusterAuth: {
        secrets: [
          { nodeType: 'CONTROLLER', secret: state.controllerSecret },
          { nodeType: 'EXECUTOR', secret: state.executorSecret },
        ],
      },
      instanceAuth: { secret: state.instanceSecret },
      userAuth: { enabled: true, encoding: 'PLAIN', users: DEV_USERS.map((u) => ({ ...u })) },
      logLevel,
    },
    'dev controller config',
  );
}

export function devExecutorConfig(
  dataDir: string,
  state: DevState,
  logLevel: LogLevel,
  dockerSocket: string,
): ExecutorConfig {
  const host = reachableHost(state.host);
  return parseExecutorConfig(
    {
      // The executor's hostname is part of its identity (executor id = f(hostname, port)): a fixed name keeps the
      // identity, and with it the adopted containers, across restarts.
      server: { host: state.host, port: state.executorPort, hostname: host },
      controllers: [`http://${host}:${state.port}`],
      clusterAuth: {
        secrets: [
          { nodeType: 'CONTROLLER', secret: state.controllerSecret },
          { nodeType: 'EXECUTOR', secret: state.executorSecret },
        ],
      },
      resources: {
        disableNUMAPinning: true,
        overProvisioning: { enabled: true, cpuMultiplier: DEV_DEFAULTS.cpuMultiplier, memoryMultiplier: 1 },
      },
      docker: { socket: dockerSocket },
      maxOpenFiles: openFilesLimit(),
      logDir: join(dataDir, 'logs'),
      dataDir: join(dataDir, 'executor'),
      logLevel,
    },
    'dev executor config',
  );
}

/**
 * Containers cannot get a higher nofile limit than dockerd has (usually ours): Drove's 470000 default fails on
 * machines with a lower hard limit (containers, CI), so the dev cluster uses the smaller of the two.
 */
export function openFilesLimit(limits = '/proc/self/limits'): number {
  const droveDefault = 470_000;
  if (!existsSync(limits)) return droveDefault;
  const hard = /^Max open files\s+\S+\s+(\d+|unlimited)/m.exec(readFileSync(limits, 'utf8'))?.[1];
  if (!hard || hard === 'unlimited') return droveDefault;
  return Math.max(1024, Math.min(droveDefault, Number(hard)));
}

/** A port already taken is the usual first-start problem; say which flag moves it. */
function explainListenError(error: unknown, host: string, port: number, flag: string): unknown {
  if ((error as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE') {
    return new DevError(`port ${port} on ${host} is already in use (another drove dev?); choose a free one with ${flag}`);
  }
  return error;
}

export function defaultDockerSocket(env: NodeJS.ProcessEnv = process.env): string {
  const dockerHost = env.DOCKER_HOST;
  if (dockerHost?.startsWith('unix://')) return dockerHost.slice('unix://'.length);
  return '/var/run/docker.sock';
}

export async function startDevCluster(options: DevOptions, logger?: Logger): Promise<DevCluster> {
  const dataDir = resolve(options.dataDir);
  const state = loadDevState(dataDir, options);
  const logLevel = options.logLevel ?? 'info';
  const logFile = join(dataDir, 'drove.log');
  let destination: ReturnType<typeof pino.destination> | undefined;
  if (!logger) {
    destination = pino.destination({ dest: logFile, mkdir: true, sync: false });
    // An asynchronous destination must be open before anything may exit the process (pino throws otherwise).
    await once(destination, 'ready');
  }
  const log = logger ?? pino({ level: logLevel }, destination);

  // The programs' code is loaded only now: main.ts registers this command for every invocation of the binary,
  // and operator commands should not pay for it (docs/cli.md#start-up).
  const { startControllerServer } = await import('./controller/server.js');
  const { startExecutor } = await import('./executor/server.js');
  const controller = await startControllerServer(devControllerConfig(dataDir, state, logLevel), {
    logger: log.child({ name: 'controller' }),
  }).catch((error: unknown) => {
    throw explainListenError(error, state.host, state.port, '--port');
  });
  let executor: RunningExecutor;
  try {
    executor = await startExecutor(
      devExecutorConfig(dataDir, state, logLevel, options.dockerSocket ?? defaultDockerSocket()),
      { logger: log.child({ name: 'executor' }) },
    );
  } catch (error) {
    await controller.close();
    throw explainListenError(error, state.host, state.executorPort, '--executor-port');
  }
  let stopped: Promise<void> | undefined;
  return {
    apiUrl: `http://${reachableHost(state.host)}:${state.port}`,
    state,
    dataDir,
    logFile,
    controller,
    executor,
    stop() {
      stopped ??= (async () => {
        // Executor first, so it does not report into a controller that is going away.
        await executor.stop({ leaveContainers: true });
        await controller.close();
        destination?.flushSync();
      })();
      return stopped;
    },
  };
}

export function devBanner(cluster: DevCluster, dockerSocket: string): string {
  const api = cluster.apiUrl;
  const executorUrl = `http://${reachableHost(cluster.state.host)}:${cluster.state.executorPort}`;
  const rel = (path: string) => (path.startsWith(`${process.cwd()}/`) ? `./${path.slice(process.cwd().length + 1)}` : path);
  return [
    '',
    'drove-ts dev cluster is up: one controller and one executor in this process.',
    `  API        ${api}/apis/v1   (Drove's API; the drove CLI and curl work against it)`,
    `  Users      admin/admin (read-write), guest/guest (read-only)`,
    `  Executor   ${cluster.executor.executorId} on ${cluster.state.host}:${cluster.state.executorPort}, docker ${dockerSocket}`,
    `  Data       ${rel(cluster.dataDir)}  (state, secrets; logs in ${rel(cluster.logFile)})`,
    `  Metrics    ${api}/metrics, ${executorUrl}/metrics   (${
      isLoopback(cluster.state.host) ? 'open on loopback' : 'controller: any user; executor: closed off loopback'
    }; README, "Monitoring")`,
    '',
    'Try (in another terminal):',
    `  node dist/src/main.js -e ${api} -u admin -p admin localservices create examples/node-agent.json`,
    `  node dist/src/main.js -e ${api} -u admin -p admin localservices conftest NODE_EXPORTER-1`,
    `  curl -s -u admin:admin ${api}/apis/v1/localservices`,
    '',
    'Ctrl-C stops the cluster; containers keep running and are re-adopted by the next `npm start`.',
    '',
  ].join('\n');
}

function parsePort(flag: string) {
  return (value: string): number => {
    const port = Number(value);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new DevError(`${flag} must be a port number between 1 and 65535, got '${value}'`);
    }
    return port;
  };
}

export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description('run an embedded cluster (controller + executor + SQLite) on this machine for development')
    .option('--port <port>', `controller API port (default ${DEV_DEFAULTS.port}, or the one last used)`, parsePort('--port'))
    .option('--executor-port <port>', `executor port (default ${DEV_DEFAULTS.executorPort})`, parsePort('--executor-port'))
    .option('--data-dir <dir>', 'state directory; starting again on it resumes the cluster', DEV_DEFAULTS.dataDir)
    .option('--host <address>', `address to listen on (default ${DEV_DEFAULTS.host})`)
    .option('--log-level <level>', `log level of <data-dir>/drove.log: ${LOG_LEVELS.join(', ')}`, 'info')
    .action(async (opts: { port?: number; executorPort?: number; dataDir: string; host?: string; logLevel: string }) => {
      if (!(LOG_LEVELS as readonly string[]).includes(opts.logLevel)) {
        throw new DevError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got '${opts.logLevel}'`);
      }
      const dockerSocket = defaultDockerSocket();
      const cluster = await startDevCluster({
        dataDir: opts.dataDir,
        ...(opts.port !== undefined ? { port: opts.port } : {}),
        ...(opts.executorPort !== undefined ? { executorPort: opts.executorPort } : {}),
        ...(opts.host !== undefined ? { host: opts.host } : {}),
        logLevel: opts.logLevel as LogLevel,
        dockerSocket,
      });
      process.stdout.write(devBanner(cluster, dockerSocket));
      const firstSignalAt = await new Promise<number>((resolveSignal) => {
        const onSignal = () => resolveSignal(Date.now());
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
      });
      // A second signal while stopping means "now". One Ctrl-C often arrives several times at once (the terminal
      // signals the whole process group and npm and the bootstrap forward it too), so copies within the window
      // are the same request.
      const onRepeat = () => {
        if (Date.now() - firstSignalAt > DEV_DEFAULTS.repeatedSignalWindowMs) process.exit(130);
      };
      process.on('SIGINT', onRepeat);
      process.on('SIGTERM', onRepeat);
      process.stdout.write('stopping (containers keep running)...\n');
      await cluster.stop();
      process.stdout.write('stopped\n');
      process.exit(0);
    });
}
