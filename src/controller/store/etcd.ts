import { readFileSync } from 'node:fs';
import { circuitBreaker, ConsecutiveBreaker, handleWhen } from 'cockatiel';
import { Etcd3, isRecoverableError, type IOptions, type Namespace } from 'etcd3';
import type { ClusterStateData, CrashLoop, LocalServiceInfo, LocalServiceInstanceInfo } from '../../model/index.js';
import { StoreUnavailableError, type StateStore, type StoredExecutor, type StoredState } from './store.js';

/**
 * StateStore on etcd, for several controllers sharing one cluster state. Layout under the namespace
 * (default `/drove/`), one JSON document per key, like Drove's ZooKeeper layout
 * (docs/design/leadership.md#storage):
 *   localservices/<serviceId>                        LocalServiceInfo
 *   localserviceinstances/<serviceId>/<instanceId>   LocalServiceInstanceInfo
 *   cluster/maintenance                              ClusterStateData
 *   executors/<executorId>                           StoredExecutor
 *   localservicecrashloops/<serviceId>/<executorId>  CrashLoop (drove-ts, docs/design/crash-loop-backoff.md)
 *
 * Fencing: when a `fence` is given (the leader elector's key and its create revision), every write is a
 * transaction guarded by "that key still exists with that revision". A deposed leader that has not noticed yet
 * (paused process, network cut) therefore cannot overwrite what the new leader writes.
 */

export interface EtcdStoreOptions {
  endpoints: string[];
  namespace?: string;
  username?: string;
  password?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** Per-call deadline: a store that cannot answer in this time is treated as unavailable. */
  callTimeoutMs?: number;
  /** Per-attempt deadline of one etcd request (see ETCD_ATTEMPT_TIMEOUT_MS). */
  attemptTimeoutMs?: number;
  /** Deadline of one login with username and password (see ETCD_AUTH_TIMEOUT_MS). */
  authTimeoutMs?: number;
}

/**
 * Deadline of one attempt of a unary etcd request, after which the client retries on another member (3
 * attempts). Without it, the first request after a member dies waits for the dead connection for about 6 s and
 * the write it carried is lost to the caller's timeout; with it, losing one member of three costs one request
 * about a second. Healthy etcd answers in milliseconds, so 1 s leaves room for a loaded host's fsync. Streams
 * (watches, lease keep-alives) have no deadline: they are meant to stay open.
 */
export const ETCD_ATTEMPT_TIMEOUT_MS = 1_000;

/**
 * Deadline of one login (etcd3 trades username and password for a token before the first request, and again when
 * the token expires). A login is not a request like the others: etcd checks the password with bcrypt, and the
 * first one also waits for the connection (a TLS handshake with a client certificate when `tls` is set). With TLS
 * that took 76-164 ms on an idle host and 0.5-3.1 s beside six busy loops on the same core (measured, one or two
 * clients logging in at once). Under the attempt deadline such a login was cut off and started over, bcrypt
 * included, so while the load lasted nothing reached etcd: no controller led for minutes, and one with a wrong
 * password did not stop (its access check timed out instead of being refused). 5 s is above the worst measured
 * login and equals the store's own call timeout; a login happens once per token, so a member that does not
 * answer costs that one login up to 5 s.
 */
export const ETCD_AUTH_TIMEOUT_MS = 5_000;

/**
 * How long the client leaves a member alone after three failures in a row before trying it again (etcd3's default
 * is 5 s). After an etcd outage every member's breaker is open, and nothing reaches etcd until one of them tries
 * again: 5 s alone would use most of the election's recovery bound (a leader within 2 x TTL + 2 s of quorum
 * returning, docs/ha.md). A retry a second costs little: a member that refuses connections fails it at once, and a
 * black-holed one costs that one request an attempt deadline (ETCD_ATTEMPT_TIMEOUT_MS) before it moves on.
 */
export const ETCD_HALF_OPEN_AFTER_MS = 1_000;

export interface EtcdFence {
  key: string;
  createRevision: string;
}

/** Pause before retrying a request etcd3 gave up on: long enough for its per-host circuit breaker to learn. */
const RETRY_PAUSE_MS = 100;

/** etcd's default --max-txn-ops is 128; bigger batches are split (each instance or executor record stands alone). */
const MAX_TXN_OPS = 120;

const SERVICES = 'localservices/';
const INSTANCES = 'localserviceinstances/';
const EXECUTORS = 'executors/';
const CRASH_LOOPS = 'localservicecrashloops/';
const CLUSTER_STATE = 'cluster/maintenance';

export function etcdClientOptions(options: EtcdStoreOptions): IOptions {
  const attemptTimeoutMs = options.attemptTimeoutMs ?? ETCD_ATTEMPT_TIMEOUT_MS;
  const client: IOptions = {
    hosts: options.endpoints,
    dialTimeout: options.callTimeoutMs ?? 3_000,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + attemptTimeoutMs }),
    faultHandling: {
      host: () =>
        circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: ETCD_HALF_OPEN_AFTER_MS, breaker: new ConsecutiveBreaker(3) }),
    },
  };
  if (options.username && options.password) {
    const authTimeoutMs = options.authTimeoutMs ?? ETCD_AUTH_TIMEOUT_MS;
    client.auth = { username: options.username, password: options.password, callOptions: () => ({ deadline: Date.now() + authTimeoutMs }) };
  }
  if (options.tls) {
    client.credentials = {
      rootCertificate: readFileSync(options.tls.caFile ?? '/dev/null'),
      ...(options.tls.keyFile ? { privateKey: readFileSync(options.tls.keyFile) } : {}),
      ...(options.tls.certFile ? { certChain: readFileSync(options.tls.certFile) } : {}),
    };
  }
  return client;
}

export class EtcdStateStore implements StateStore {
  private readonly client: Etcd3;
  private readonly ns: Namespace;
  private readonly ownsClient: boolean;
  private fence: (() => EtcdFence | undefined) | undefined;
  private readonly callTimeoutMs: number;

  constructor(options: EtcdStoreOptions | { client: Etcd3; namespace?: string; callTimeoutMs?: number }) {
    if ('client' in options) {
      this.client = options.client;
      this.ownsClient = false;
    } else {
      this.client = new Etcd3(etcdClientOptions(options));
      this.ownsClient = true;
    }
    this.ns = this.client.namespace(options.namespace ?? '/drove/');
    this.callTimeoutMs = options.callTimeoutMs ?? 5_000;
  }

  /** Guards every later write with the leader key (see the file comment). */
  setFence(fence: (() => EtcdFence | undefined) | undefined): void {
    this.fence = fence;
  }

  async load(): Promise<StoredState> {
    const [services, instances, executors, cluster, crashLoops] = await Promise.all([
      this.call(() => this.ns.getAll().prefix(SERVICES).strings()),
      this.call(() => this.ns.getAll().prefix(INSTANCES).strings()),
      this.call(() => this.ns.getAll().prefix(EXECUTORS).strings()),
      this.call(() => this.ns.get(CLUSTER_STATE).string()),
      this.call(() => this.ns.getAll().prefix(CRASH_LOOPS).strings()),
    ]);
    const state: StoredState = {
      services: Object.values(services).map((v) => JSON.parse(v) as LocalServiceInfo),
      instances: Object.values(instances).map((v) => JSON.parse(v) as LocalServiceInstanceInfo),
      executors: Object.values(executors).map((v) => JSON.parse(v) as StoredExecutor),
      crashLoops: Object.values(crashLoops).map((v) => JSON.parse(v) as CrashLoop),
    };
    if (cluster) state.clusterState = JSON.parse(cluster) as ClusterStateData;
    return state;
  }

  async putService(info: LocalServiceInfo): Promise<void> {
    await this.write([this.ns.put(SERVICES + info.serviceId).value(JSON.stringify(info))]);
  }

  async deleteService(serviceId: string): Promise<void> {
    await this.write([
      this.ns.delete().key(SERVICES + serviceId),
      this.ns.delete().prefix(`${INSTANCES}${serviceId}/`),
      this.ns.delete().prefix(`${CRASH_LOOPS}${serviceId}/`),
    ]);
  }

  async putInstances(instances: readonly LocalServiceInstanceInfo[]): Promise<void> {
    for (let i = 0; i < instances.length; i += MAX_TXN_OPS) {
      const chunk = instances.slice(i, i + MAX_TXN_OPS);
      await this.write(chunk.map((r) => this.ns.put(instanceKey(r.serviceId, r.instanceId)).value(JSON.stringify(r))));
    }
  }

  async deleteInstances(serviceId: string, instanceIds: readonly string[]): Promise<void> {
    for (let i = 0; i < instanceIds.length; i += MAX_TXN_OPS) {
      const chunk = instanceIds.slice(i, i + MAX_TXN_OPS);
      await this.write(chunk.map((id) => this.ns.delete().key(instanceKey(serviceId, id))));
    }
  }

  async putClusterState(state: ClusterStateData): Promise<void> {
    await this.write([this.ns.put(CLUSTER_STATE).value(JSON.stringify(state))]);
  }

  async putCrashLoop(loop: CrashLoop): Promise<void> {
    await this.write([this.ns.put(crashLoopKey(loop.serviceId, loop.executorId)).value(JSON.stringify(loop))]);
  }

  async deleteCrashLoops(serviceId: string, executorIds?: readonly string[]): Promise<void> {
    if (executorIds === undefined) {
      await this.write([this.ns.delete().prefix(`${CRASH_LOOPS}${serviceId}/`)]);
      return;
    }
    for (let i = 0; i < executorIds.length; i += MAX_TXN_OPS) {
      const chunk = executorIds.slice(i, i + MAX_TXN_OPS);
      await this.write(chunk.map((id) => this.ns.delete().key(crashLoopKey(serviceId, id))));
    }
  }

  async putExecutor(record: StoredExecutor): Promise<void> {
    await this.write([this.ns.put(EXECUTORS + record.executorId).value(JSON.stringify(record))]);
  }

  async putExecutors(records: readonly StoredExecutor[]): Promise<void> {
    for (let i = 0; i < records.length; i += MAX_TXN_OPS) {
      const chunk = records.slice(i, i + MAX_TXN_OPS);
      await this.write(chunk.map((r) => this.ns.put(EXECUTORS + r.executorId).value(JSON.stringify(r))));
    }
  }

  async deleteExecutor(executorId: string): Promise<void> {
    await this.write([this.ns.delete().key(EXECUTORS + executorId)]);
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.client.close();
  }

  /** Runs the operations in one transaction, guarded by the fence when there is one. */
  private async write(ops: Parameters<ReturnType<Namespace['if']>['then']>): Promise<void> {
    const fence = this.fence?.();
    if (this.fence && !fence) throw new StoreUnavailableError('Not the leader: writes to the shared store are refused');
    const txn = fence
      ? this.ns.if(fence.key, 'Create', '==', fence.createRevision)
      : this.ns.if(SERVICES, 'Version', '>', -1);
    const result = await this.call(() => txn.then(...ops).commit());
    if (!result.succeeded) {
      throw new StoreUnavailableError('Leadership lost: the leader key changed, this controller may no longer write');
    }
  }

  /**
   * Runs one store request within `callTimeoutMs`. A request that etcd3 gave up on as recoverable (it landed on a
   * dead member each of its attempts) is tried again while time is left: every store write is idempotent (the
   * same puts and deletes, under the same fence), so a retry can never apply anything twice.
   */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.callTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreUnavailableError(`etcd did not answer within ${this.callTimeoutMs} ms`)),
        this.callTimeoutMs,
      );
    });
    try {
      for (;;) {
        try {
          return await Promise.race([fn(), timeout]);
        } catch (error) {
          if (error instanceof StoreUnavailableError) throw error;
          if (!(error instanceof Error) || !isRetryable(error) || Date.now() + RETRY_PAUSE_MS >= deadline) {
            throw new StoreUnavailableError(`etcd is unavailable: ${(error as Error).message}`, { cause: error });
          }
          await Promise.race([new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS)), timeout]);
        }
      }
    } finally {
      if (timer) clearTimeout(timer);
    }
  }
}

/**
 * Recoverable etcd errors, and the client's open circuit breaker: etcd3 trips a breaker per member after failures
 * and may still pick that member for the next request, which then fails at once without trying; the next attempt
 * can land on a live member.
 */
function isRetryable(error: Error): boolean {
  return isRecoverableError(error) || (error as { isBrokenCircuitError?: boolean }).isBrokenCircuitError === true;
}

function crashLoopKey(serviceId: string, executorId: string): string {
  return `${CRASH_LOOPS}${serviceId}/${executorId}`;
}

function instanceKey(serviceId: string, instanceId: string): string {
  return `${INSTANCES}${serviceId}/${instanceId}`;
}

