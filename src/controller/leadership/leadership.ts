/**
 * Who leads. Components that must run only on the leader (service runners, reconciler, sweeps) are started in
 * `onAcquired` and stopped in `onLost`, in one place (the controller). Implementations: single.ts (embedded mode:
 * always leader) and etcd.ts (several controllers, lease-based election).
 */
export interface LeaderElector {
  start(handlers: { onAcquired(): Promise<void>; onLost(): Promise<void> }): Promise<void>;
  isLeader(): boolean;
  /** `host:port` of the current leader, when known. */
  leaderAddress(): string | undefined;
  stop(): Promise<void>;
}
