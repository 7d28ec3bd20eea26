import {
  RunLifecycle,
  isSteady,
  localServiceStateChangeMetadata,
  newRequestId,
  steadyStateOf,
  operationServiceId,
  type LocalServiceInfo,
  type LocalServiceOperation,
  type LocalServiceState,
  type RunState,
  type Runnable,
} from '../../model/index.js';
import type { OperationOrigin, OperationResult } from '../core.js';
import type { EngineDeps } from './deps.js';
import { ServiceRunner, stoppedError, type SlotEntry } from './service-runner.js';
import { validateOperation } from './validator.js';

export type StateListener = (serviceId: string, from: LocalServiceState, to: LocalServiceState) => void;

/**
 * Operations whose containers are started or stopped by the reconciler's ADJUST_INSTANCES, not by themselves:
 * that ADJUST carries their request id (takeCause), so the executor's log names the request that caused it.
 */
const RECONCILED_BY_ADJUST: ReadonlySet<LocalServiceOperation['type']> = new Set([
  'ACTIVATE',
  'DEACTIVATE',
  'DEPLOY_TEST_INSTANCE',
  'UPDATE_INSTANCE_COUNT',
]);

/**
 * The lifecycle engine (docs/design/operations.md): validates operations, owns one runner per service, publishes a
 * LOCAL_SERVICE_STATE_CHANGE event on every transition, submits the DEACTIVATE of an emergency deactivation and
 * removes destroyed services. Part of a leader term: start() gives every service stored when the term began its
 * runner, in the steady state of its record, without validating the stored spec again (options may have become
 * stricter meanwhile; a stored service must still be managed); stop() drops them all.
 */
export class LocalServiceEngine implements Runnable {
  private readonly lifecycle = new RunLifecycle('local service engine');
  private readonly runners = new Map<string, ServiceRunner>();
  private readonly listeners = new Set<StateListener>();
  private readonly background = new Set<Promise<unknown>>();
  /** Aborted when the engine stops, so detached cleanups end with the leadership term. */
  private readonly lifetime = new AbortController();
  /** Request id of the last RECONCILED_BY_ADJUST operation per service, until the reconciler next looks at it. */
  private readonly causes = new Map<string, string>();

  constructor(
    private readonly deps: EngineDeps,
    private readonly stored: readonly LocalServiceInfo[] = [],
  ) {}

  get runState(): RunState {
    return this.lifecycle.state;
  }

  start(): void {
    this.lifecycle.start();
    for (const info of this.stored) this.addRunner(info.serviceId, steadyStateOf(info.activationState)).start();
  }

  stateOf(serviceId: string): LocalServiceState | undefined {
    return this.runners.get(serviceId)?.state;
  }

  serviceIds(): string[] {
    return [...this.runners.keys()];
  }

  /** The operation in the service's slot (waiting, or being run by its action), if any. */
  pendingOperation(serviceId: string): LocalServiceOperation | undefined {
    return this.runners.get(serviceId)?.pendingOperation();
  }

  hasPendingOperation(serviceId: string): boolean {
    return this.runners.get(serviceId)?.hasPendingOperation() ?? false;
  }

  validate(op: LocalServiceOperation): string[] {
    const ws = this.deps.workingSet;
    return validateOperation(op, {
      options: this.deps.options.raw,
      stateOf: (id) => this.stateOf(id),
      service: (id) => ws.service(id),
      instance: (sid, iid) => ws.instance(sid, iid),
      services: () => ws.services(),
      pendingOperation: (id) => this.pendingOperation(id)?.type,
      instances: (id) => ws.instances(id),
    });
  }

  /**
   * Validates and records the operation in its service's slot; never waits for it to run. Without a request id
   * in `origin` (the controller's own operations) the operation gets a fresh one.
   */
  submit(op: LocalServiceOperation, origin: OperationOrigin = {}): OperationResult {
    if (!this.lifecycle.running) return { ok: false, errors: [`The local service engine is ${this.lifecycle.state}`] };
    const errors = this.validate(op);
    if (errors.length > 0) return { ok: false, errors };
    const serviceId = operationServiceId(op);
    const requestId = origin.requestId ?? newRequestId();
    if (op.type === 'CREATE') {
      const runner = this.addRunner(serviceId, 'INIT');
      runner.offer(op, requestId);
      runner.start();
      return { ok: true, serviceId };
    }
    const runner = this.runners.get(serviceId)!;
    const rewritten: LocalServiceOperation =
      op.type === 'RESTART'
        ? { type: 'REPLACE_INSTANCES', serviceId, instanceIds: [], stopFirst: op.stopFirst, ...(op.opSpec ? { opSpec: op.opSpec } : {}) }
        : op;
    if (!runner.offer(rewritten, requestId)) {
      return {
        ok: false,
        errors: [`Another operation is already pending for local service ${serviceId}. Try again once it has started`],
      };
    }
    return { ok: true, serviceId };
  }

  /**
   * The request id of the operation that changed what must run for `serviceId` since the reconciler last looked
   * at it (RECONCILED_BY_ADJUST), once: the reconciler calls this every time it looks at a service, so a later
   * repair never carries an old request's id.
   */
  takeCause(serviceId: string): string | undefined {
    const cause = this.causes.get(serviceId);
    this.causes.delete(serviceId);
    return cause;
  }

  cancel(serviceId: string): boolean {
    return this.runners.get(serviceId)?.cancel() ?? false;
  }

  onStateChange(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops every runner (leadership lost, shutdown) and waits for them and their cleanups. */
  stop(): Promise<void> {
    return this.lifecycle.stop(async () => {
      const runners = [...this.runners.values()];
      this.runners.clear();
      this.lifetime.abort(stoppedError('Engine stopped'));
      await Promise.all(runners.map((r) => r.stop()));
      await Promise.allSettled([...this.background]);
    });
  }

  /** Resolves when background cleanups (stops of failed starts) are done; for tests and shutdown. */
  async idle(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background]);
  }

  private addRunner(serviceId: string, initial: LocalServiceState): ServiceRunner {
    const runner = new ServiceRunner(serviceId, initial, this.deps, { onTransition: (r, from, to, finished) => this.onTransition(r, from, to, finished) }, (work) =>
      this.track(work(this.lifetime.signal)),
    );
    this.runners.set(serviceId, runner);
    return runner;
  }

  private track(work: Promise<unknown>): void {
    const tracked = work.catch(() => undefined).finally(() => this.background.delete(tracked));
    this.background.add(tracked);
  }

  private onTransition(runner: ServiceRunner, from: LocalServiceState, to: LocalServiceState, finished: SlotEntry | undefined): void {
    const { serviceId } = runner;
    if (finished && isSteady(to) && RECONCILED_BY_ADJUST.has(finished.op.type)) this.causes.set(serviceId, finished.requestId);
    // A CREATE whose store write failed goes INIT -> DESTROYED with no record to describe: no event then.
    const info = this.deps.workingSet.service(serviceId);
    if (info) this.deps.events.emit('LOCAL_SERVICE_STATE_CHANGE', localServiceStateChangeMetadata(info, to));
    if (to === 'EMERGENCY_DEACTIVATION_REQUESTED') {
      const result = this.submit({ type: 'DEACTIVATE', serviceId });
      if (!result.ok) this.deps.logger.error({ serviceId, errors: result.errors }, 'Emergency deactivation could not be submitted');
    }
    if (to === 'DESTROYED') {
      if (this.runners.get(serviceId) === runner) this.runners.delete(serviceId);
      this.causes.delete(serviceId);
      void runner.stop();
      this.track(
        this.deps.workingSet.deleteService(serviceId).catch((error: unknown) => {
          this.deps.logger.error({ serviceId, err: error }, 'Could not delete destroyed local service');
        }),
      );
    }
    for (const listener of this.listeners) {
      try {
        listener(serviceId, from, to);
      } catch (error) {
        this.deps.logger.error({ err: error }, 'State listener failed');
      }
    }
  }
}
