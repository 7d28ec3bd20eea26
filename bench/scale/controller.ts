import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { NODE_FLAGS } from '../../src/node-flags.js';
import type { ControllerReply, ControllerRequest, ControllerStarted, ControllerUsage } from './protocol.js';

/**
 * The controller of one bench:scale run in its own process (controller-process.ts), with the store and options the
 * run sets; its secrets are fresh per run. The etcd store gets a key prefix of its own, deleted by stop().
 */

export type StoreKind = 'sqlite' | 'etcd';

export interface ScaleControllerOptions {
  store: StoreKind;
  /** Where the SQLite file, the controller's log and any CPU profile go. */
  dir: string;
  /** Name of this run's files in `dir` (e.g. `sqlite-5000`). */
  label: string;
  etcdEndpoints: string[];
  /** The options of the controller config that matter at scale; printed by the bench. */
  options: {
    clusterOpParallelism: number;
    staleExecutorAge: string;
    leaseTtlSeconds: number;
  };
  /** pino level of the controller's log file. */
  logLevel: string;
}

export interface ScaleController {
  url: string;
  pid: number;
  /** The secrets executors present, as the controller expects them. */
  secrets: { nodeType: 'CONTROLLER' | 'EXECUTOR'; secret: string }[];
  credentials: { username: string; password: string };
  logFile: string;
  /**
   * The controller's process figures. `openFds: false` leaves out the open-file count, which costs a readdir of
   * ~28 ms of the controller's CPU at 5,000 executors: the idle window's CPU per heartbeat must not count it.
   */
  usage(options?: { openFds: boolean }): Promise<ControllerUsage>;
  /** Starts profiling the controller's CPU (one phase of the run). */
  profileStart(): Promise<void>;
  /** Stops the profile and writes it to `<dir>/<label>-<phase>.cpuprofile`; resolves with that path. */
  profileStop(phase: string): Promise<string>;
  /** Stops the controller and waits for its exit. */
  stop(): Promise<void>;
}

function processScript(): { path: string; execArgv: string[] } {
  const self = fileURLToPath(import.meta.url);
  return self.endsWith('.ts')
    ? { path: join(import.meta.dirname, 'controller-process.ts'), execArgv: ['--import', 'tsx'] }
    : { path: join(import.meta.dirname, 'controller-process.js'), execArgv: [] };
}

const STOP_LIMIT_MS = 60_000;

const secret = () => randomBytes(24).toString('hex');

export async function startScaleController(options: ScaleControllerOptions): Promise<ScaleController> {
  const secrets = [
    { nodeType: 'CONTROLLER' as const, secret: secret() },
    { nodeType: 'EXECUTOR' as const, secret: secret() },
  ];
  const credentials = { username: 'admin', password: secret() };
  const namespace = `/drove-scale-${process.pid}-${options.label}-${Date.now()}/`;
  const store =
    options.store === 'sqlite'
      ? { type: 'sqlite', path: join(options.dir, `${options.label}.db`) }
      : { type: 'etcd', endpoints: options.etcdEndpoints, namespace, leaseTtlSeconds: options.options.leaseTtlSeconds };
  const config = {
    server: { host: '127.0.0.1', port: 0, hostname: '127.0.0.1' },
    store,
    clusterAuth: { secrets },
    instanceAuth: { secret: secret() },
    userAuth: { enabled: true, encoding: 'PLAIN', users: [{ ...credentials, role: 'EXTERNAL_READ_WRITE' }] },
    options: {
      clusterOpParallelism: options.options.clusterOpParallelism,
      staleExecutorAge: options.options.staleExecutorAge,
    },
    // warn by default: what goes wrong at scale (executors lost, messages failing); info adds a line per START.
    logLevel: options.logLevel,
  };

  const logFile = join(options.dir, `${options.label}-controller.log`);
  const log = openSync(logFile, 'a');
  const script = processScript();
  const child: ChildProcess = fork(script.path, [], {
    // The flags a `drove controller` runs with, so the bench measures the product's garbage collector settings.
    execArgv: [...script.execArgv, ...NODE_FLAGS],
    stdio: ['ignore', log, log, 'ipc'],
  });
  closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  let nextId = 0;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  child.on('message', (reply: ControllerReply) => {
    const waiter = pending.get(reply.id);
    if (!waiter) return;
    pending.delete(reply.id);
    if (reply.ok) waiter.resolve(reply.result);
    else waiter.reject(new Error(`controller process: ${reply.error} (log: ${logFile})`));
  });
  void exited.then(() => {
    for (const waiter of pending.values()) waiter.reject(new Error(`controller process exited (log: ${logFile})`));
    pending.clear();
  });
  const call = <T>(cmd: ControllerRequest['cmd'], extra: Record<string, unknown> = {}): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = ++nextId;
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      child.send({ id, cmd, ...extra }, (error) => {
        if (error) {
          pending.delete(id);
          reject(error);
        }
      });
    });

  const dropNamespace = async () => {
    if (options.store !== 'etcd') return;
    const client = new Etcd3({ hosts: options.etcdEndpoints });
    try {
      await client.delete().prefix(namespace);
    } finally {
      client.close();
    }
  };

  let started: ControllerStarted;
  try {
    started = await call<ControllerStarted>('start', { config });
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    await dropNamespace().catch(() => undefined);
    throw error;
  }

  return {
    url: started.url,
    pid: started.pid,
    secrets,
    credentials,
    logFile,
    usage: (usageOptions) => call<ControllerUsage>('usage', { openFds: usageOptions?.openFds ?? true }),
    profileStart: () => call<void>('profile-start'),
    profileStop: (phase) => call<string>('profile-stop', { path: join(options.dir, `${options.label}-${phase}.cpuprofile`) }),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        // A controller too starved to stop within a minute is killed: the run must go on.
        const limit = new Promise((_resolve, reject) => setTimeout(() => reject(new Error('stop timed out')), STOP_LIMIT_MS).unref());
        await Promise.race([call('stop'), limit]).catch(() => child.kill('SIGKILL'));
        await exited;
      }
      await dropNamespace();
    },
  };
}
