import type {
  DroveEventType,
  ExecutorAddress,
  ExecutorMessage,
  ExecutorState,
  MessageResponse,
  ResourceAllocation,
} from '../../model/index.js';

/**
 * What the engine needs from its neighbours (event log, executor registry, scheduler, messenger), stated as
 * narrow structural interfaces so the engine can be tested with in-process fakes and the cluster package can
 * evolve behind them. controller.ts wires the real implementations in.
 */

export interface EventSink {
  emit(type: DroveEventType, metadata: Record<string, string | number>): void;
}

export interface ExecutorView {
  executorId: string;
  state: ExecutorState;
  address: ExecutorAddress;
  /** This leader has had a heartbeat from it (see ExecutorRecord.reported). */
  reported: boolean;
}

export interface ExecutorDirectory {
  /** Every executor currently known (any state, removed ones excluded). */
  executors(): ExecutorView[];
  executor(executorId: string): ExecutorView | undefined;
}

export type AllocationResult = { ok: true; resources: ResourceAllocation[] } | { ok: false; reason: string };

export interface SchedulingSession {
  allocate(executorId: string, instanceId: string, cpus: number, memoryMb: number): AllocationResult;
  release(instanceId: string): void;
  close(): void;
}

export interface InstanceScheduler {
  openSession(): SchedulingSession;
}

export interface MessageSender {
  /** Resolves with the executor's answer; transport failures and non-200 answers come back as FAILED. */
  send(address: ExecutorAddress, message: ExecutorMessage): Promise<MessageResponse>;
}
