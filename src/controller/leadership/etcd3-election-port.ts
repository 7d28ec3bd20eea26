import {
  EtcdAuthenticationFailedError,
  EtcdPermissionDeniedError,
  EtcdRoleNotGrantedError,
  EtcdUserNotFoundError,
  type Etcd3,
  type Namespace,
} from 'etcd3';
import type { Clock } from '../../model/index.js';
import type { Candidate, CandidateWatch, ElectionEtcd, ElectionLease, LeaseEvents } from './election-port.js';

/** Candidate keys live under `<namespace>election/`, one per campaigning controller. */
const PREFIX = 'election/';

/** The election's view of etcd, over the etcd3 client the controller shares with its store. */
export class Etcd3ElectionPort implements ElectionEtcd {
  private readonly ns: Namespace;

  constructor(
    client: Etcd3,
    namespace: string,
    private readonly clock: Clock,
  ) {
    this.ns = client.namespace(namespace);
  }

  grantLease(ttlSeconds: number, events: LeaseEvents): ElectionLease {
    const lease = this.ns.lease(ttlSeconds, { autoKeepAlive: true });
    // etcd3 writes keep-alives on a stream every ttl/3 and etcd answers each in order, so the oldest unanswered
    // send time belongs to the answer that arrives; a new stream starts with none outstanding.
    const sent: number[] = [];
    lease.on('keepaliveEstablished', () => {
      sent.length = 0;
    });
    lease.on('keepaliveFired', () => {
      sent.push(this.clock.now());
    });
    lease.on('keepaliveSucceeded', () => {
      const sentAt = sent.shift();
      if (sentAt !== undefined) events.keepAlive(sentAt);
    });
    lease.on('lost', (error: Error) => events.lost(error));
    return { granted: lease.grant(), revoke: () => lease.revoke() };
  }

  async putCandidate(leaseId: string, address: string): Promise<{ key: string; createRevision: string }> {
    const key = `${PREFIX}${leaseId}`;
    // Put and read back in one transaction: if etcd3 retried a put that had already been applied, the second put's
    // revision would be a modification, while the fence needs the key's create revision.
    const result = await this.ns
      .if(key, 'Version', '>', -1)
      .then(this.ns.put(key).value(address).lease(leaseId), this.ns.get(key))
      .commit();
    const kv = result.responses[1]?.response_range?.kvs[0];
    if (!kv) throw new Error(`candidate key ${key} was not there right after it was put`);
    return { key, createRevision: String(kv.create_revision) };
  }

  async readCandidates(): Promise<Candidate[]> {
    const result = await this.ns.getAll().prefix(PREFIX).sort('Create', 'Ascend').exec();
    return result.kvs.map((kv) => ({
      key: kv.key.toString(),
      address: kv.value.toString(),
      createRevision: String(kv.create_revision),
    }));
  }

  watchCandidates(listener: { changed(): void; ended(error: Error): void }): CandidateWatch {
    // watcher() attaches at once and connects in the background (create() would make us await the connection);
    // etcd3 reconnects it by itself, and an 'error' means etcd cancelled it for good.
    const watcher = this.ns.watch().prefix(PREFIX).watcher();
    watcher.on('put', () => listener.changed());
    watcher.on('delete', () => listener.changed());
    watcher.on('connected', () => listener.changed());
    watcher.on('error', (error: Error) => listener.ended(error));
    return { cancel: () => watcher.cancel() };
  }

  isAccessError(error: unknown): boolean {
    return (
      error instanceof EtcdAuthenticationFailedError ||
      error instanceof EtcdPermissionDeniedError ||
      error instanceof EtcdRoleNotGrantedError ||
      error instanceof EtcdUserNotFoundError
    );
  }
}
