import type { LocalServiceInstanceSpec } from '../../model/executor.js';
import type { LocalServiceInstanceInfo } from '../../model/instance.js';
import { ResourceLockError } from '../resources.js';
import type { InstanceDeps } from './instance.js';
import { InstanceStateMachine } from './instance.js';
import { jsonEqual } from '../../model/index.js';
import { isTerminal } from '../../model/states.js';

export type StartResult = { ok: true } | { ok: false; reason: string };

/**
 * The instances this executor runs: starts state machines with their resources locked, forwards every state
 * change, and forgets an instance (freeing its resources) once it is terminal.
 */
export class InstanceEngine {
  private readonly instances = new Map<string, InstanceStateMachine>();
  private readonly listeners = new Set<(info: LocalServiceInstanceInfo) => void>();
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly deps: InstanceDeps) {}

  onChange(listener: (info: LocalServiceInstanceInfo) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  has(instanceId: string): boolean {
    return this.instances.has(instanceId);
  }

  get(instanceId: string): InstanceStateMachine | undefined {
    return this.instances.get(instanceId);
  }

  list(): InstanceStateMachine[] {
    return [...this.instances.values()];
  }

  infos(): LocalServiceInstanceInfo[] {
    return this.list().map((i) => i.info());
  }

  /**
   * A START for an instance this executor already runs with the same spec is the same message again, and accepted
   * without doing anything: the controller re-sends a START whose answer it did not get, and a broken pipelined
   * connection re-sends what was in flight on it (docs/design/executor-protocol.md#transport).
   */
  start(spec: LocalServiceInstanceSpec): StartResult {
    const existing = this.instances.get(spec.instanceId);
    if (existing) {
      return jsonEqual(existing.spec, spec) ? { ok: true } : { ok: false, reason: `Instance ${spec.instanceId} already exists on this executor` };
    }
    try {
      this.deps.resources.lock(spec.instanceId, spec.resources);
    } catch (error) {
      if (error instanceof ResourceLockError) return { ok: false, reason: `Could not lock resources: ${error.message}` };
      throw error;
    }
    this.launch(new InstanceStateMachine(spec, this.deps, (info) => this.changed(info)));
    return { ok: true };
  }

  /**
   * Re-adopts a running container after an executor restart: the SM starts at UNKNOWN and runs readiness and
   * health again without initial delays. Resources are locked as recorded; a conflict is logged, not fatal,
   * because the container is already running with them.
   */
  adopt(spec: LocalServiceInstanceSpec, info: LocalServiceInstanceInfo): void {
    if (this.instances.has(spec.instanceId)) return;
    try {
      this.deps.resources.lock(spec.instanceId, info.resources);
    } catch (error) {
      this.deps.logger.warn({ instanceId: spec.instanceId, error: (error as Error).message }, 'recovered instance resources overlap');
    }
    this.launch(new InstanceStateMachine(spec, this.deps, (i) => this.changed(i), { info }));
  }

  stop(instanceId: string, reason = ''): StartResult {
    const instance = this.instances.get(instanceId);
    if (!instance) return { ok: false, reason: `No instance ${instanceId} on this executor` };
    if (!instance.requestStop(reason)) {
      return { ok: false, reason: `Instance ${instanceId} cannot be stopped in state ${instance.state}` };
    }
    return { ok: true };
  }

  /** Leaves every container running and ends the state machines (executor shutdown for a restart). */
  detachAll(): void {
    for (const instance of this.instances.values()) instance.detach();
  }

  /** Resolves when every instance started so far has reached a terminal state. */
  async drained(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private launch(instance: InstanceStateMachine): void {
    this.instances.set(instance.instanceId, instance);
    const run = instance.run().finally(() => {
      this.running.delete(run);
      if (this.instances.get(instance.instanceId) === instance) this.instances.delete(instance.instanceId);
    });
    this.running.add(run);
  }

  private changed(info: LocalServiceInstanceInfo): void {
    if (isTerminal(info.state)) {
      // Free before the report goes out, so its resource snapshot already shows them free.
      this.deps.resources.release(info.instanceId);
      this.instances.delete(info.instanceId);
    }
    for (const listener of this.listeners) listener(info);
  }
}
