import type { SoakCluster, SoakController } from './cluster.js';
import type { FaultRecord } from './records.js';
import type { PlannedFault } from './schedule.js';

/**
 * Injects planned faults and undoes them at their heal time. Targets named by role ("the leader", "a follower")
 * are resolved when the fault starts, from the last sample; a fault never hits a part that another fault holds
 * (the schedule keeps them disjoint). Host faults are announced to the checker, which leaves that host's
 * containers out while its executor cannot see or stop them.
 */

export interface FaultHooks {
  leader(): number | undefined;
  hostFaultStarted(host: number): void;
  hostFaultEnded(host: number): void;
  log(line: string): void;
}

export class FaultInjector {
  readonly records: FaultRecord[] = [];
  private readonly heals = new Set<Promise<void>>();
  /** Undo actions of faults still in force, so that the end of the chaos phase (or an abort) can heal them all. */
  private readonly undo = new Map<FaultRecord, () => Promise<void>>();

  constructor(
    private readonly cluster: SoakCluster,
    private readonly hooks: FaultHooks,
  ) {}

  /** Starts the fault and schedules its heal `healAtMs - atMs` later. */
  async inject(fault: PlannedFault): Promise<void> {
    const record: FaultRecord = { planned: fault, kind: fault.kind, startedAt: Date.now(), healedAt: undefined, target: '?' };
    this.records.push(record);
    try {
      const undo = await this.start(fault, record);
      if (!undo) {
        record.healedAt = Date.now();
        return;
      }
      this.undo.set(record, undo);
      const heal = new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, fault.healAtMs - fault.atMs)))
        .then(() => this.healOne(record))
        .finally(() => this.heals.delete(heal));
      this.heals.add(heal);
    } catch (error) {
      record.error = (error as Error).message;
      this.hooks.log(`fault ${fault.kind} on ${record.target} failed: ${record.error}`);
    }
  }

  /** Heals every fault still in force now (end of the chaos phase, or the soak is aborted). */
  async healAll(): Promise<void> {
    await Promise.all([...this.undo.keys()].map((r) => this.healOne(r)));
    await Promise.all([...this.heals]);
  }

  private async healOne(record: FaultRecord): Promise<void> {
    const undo = this.undo.get(record);
    if (!undo) return;
    this.undo.delete(record);
    try {
      await undo();
    } catch (error) {
      record.error = `heal: ${(error as Error).message}`;
      this.hooks.log(`healing ${record.kind} on ${record.target} failed: ${record.error}`);
    }
    record.healedAt = Date.now();
  }

  private leaderOr(fallback: number): SoakController {
    const running = this.cluster.controllers.filter((c) => c.process.running);
    const leader = this.hooks.leader();
    return this.cluster.controllers[leader ?? running[fallback % Math.max(1, running.length)]?.index ?? 0]!;
  }

  /** Injects the fault; returns how to undo it (undefined for instant faults). */
  private async start(fault: PlannedFault, record: FaultRecord): Promise<(() => Promise<void>) | undefined> {
    const { cluster, hooks } = this;
    switch (fault.kind) {
      case 'KILL_LEADER':
      case 'KILL_FOLLOWER': {
        const leader = hooks.leader();
        const followers = cluster.controllers.filter((c) => c.process.running && c.index !== leader);
        const victim = fault.kind === 'KILL_LEADER' ? this.leaderOr(fault.target) : followers[fault.extra % Math.max(1, followers.length)];
        if (!victim) throw new Error('no running controller to kill');
        record.target = `${victim.process.name}${victim.index === leader ? ' (leader)' : ''}`;
        await victim.process.kill();
        return async () => victim.process.start();
      }
      case 'PAUSE_LEADER': {
        const victim = this.leaderOr(fault.target);
        record.target = `${victim.process.name}${victim.index === hooks.leader() ? ' (leader)' : ''}`;
        victim.process.pause();
        return async () => victim.process.resume();
      }
      case 'KILL_EXECUTOR': {
        const executor = cluster.executors[fault.target]!;
        record.target = executor.process.name;
        hooks.hostFaultStarted(executor.index);
        await executor.process.kill();
        return async () => {
          executor.process.start();
          hooks.hostFaultEnded(executor.index);
        };
      }
      case 'KILL_CONTAINERS': {
        const host = cluster.net.hosts[fault.target]!;
        const ids = (await host.docker(['ps', '-q', '--filter', 'label=drove.job.type=LOCAL_SERVICE']))
          .split('\n')
          .filter(Boolean)
          .sort()
          .slice(0, fault.extra);
        record.target = `${ids.length} container(s) on host ${host.index + 1}${ids.length ? ` (${ids.join(', ')})` : ''}`;
        if (ids.length > 0) await host.docker(['kill', ...ids]).catch(() => '');
        return undefined;
      }
      case 'RESTART_DOCKERD': {
        const host = cluster.net.hosts[fault.target]!;
        record.target = `dockerd of host ${host.index + 1}`;
        hooks.hostFaultStarted(host.index);
        try {
          await host.restartDockerd();
        } finally {
          hooks.hostFaultEnded(host.index);
        }
        return undefined;
      }
      case 'ETCD_MEMBER_DOWN': {
        const member = cluster.etcd.members[fault.target]!;
        record.target = `etcd ${member.name}`;
        await cluster.stopEtcdMember(member);
        return () => cluster.startEtcdMember(member);
      }
      case 'ETCD_QUORUM_LOSS': {
        const members = [cluster.etcd.members[fault.target]!, cluster.etcd.members[fault.extra]!];
        record.target = `etcd ${members.map((m) => m.name).join('+')}`;
        await Promise.all(members.map((m) => cluster.stopEtcdMember(m)));
        return async () => {
          await Promise.all(members.map((m) => cluster.startEtcdMember(m)));
        };
      }
      case 'PARTITION_EXECUTOR': {
        const host = cluster.net.hosts[fault.target]!;
        record.target = `executor host ${host.index + 1} cut off`;
        hooks.hostFaultStarted(host.index);
        await cluster.partition(host);
        return async () => {
          await cluster.heal(host);
          hooks.hostFaultEnded(host.index);
        };
      }
    }
  }
}
