import type { ClusterStateData, CrashLoop, LocalServiceInfo, LocalServiceInstanceInfo } from '../../model/index.js';
import type { StateStore, StoredExecutor, StoredState } from '../store/store.js';
import type { ControllerMetrics, StoreType } from './metrics.js';

/**
 * A StateStore that times every write (`drove_store_write_duration_seconds`) and passes everything through
 * unchanged: the stores themselves know nothing of metrics.
 */
export class InstrumentedStore implements StateStore {
  constructor(
    private readonly store: StateStore,
    private readonly type: StoreType,
    private readonly metrics: Pick<ControllerMetrics, 'storeWriteStarted'>,
  ) {}

  load(): Promise<StoredState> {
    return this.store.load();
  }

  putService(info: LocalServiceInfo): Promise<void> {
    return this.timed('putService', () => this.store.putService(info));
  }

  deleteService(serviceId: string): Promise<void> {
    return this.timed('deleteService', () => this.store.deleteService(serviceId));
  }

  putInstances(instances: readonly LocalServiceInstanceInfo[]): Promise<void> {
    return this.timed('putInstances', () => this.store.putInstances(instances));
  }

  deleteInstances(serviceId: string, instanceIds: readonly string[]): Promise<void> {
    return this.timed('deleteInstances', () => this.store.deleteInstances(serviceId, instanceIds));
  }

  putClusterState(state: ClusterStateData): Promise<void> {
    return this.timed('putClusterState', () => this.store.putClusterState(state));
  }

  putExecutor(record: StoredExecutor): Promise<void> {
    return this.timed('putExecutor', () => this.store.putExecutor(record));
  }

  putExecutors(records: readonly StoredExecutor[]): Promise<void> {
    return this.timed('putExecutors', () => this.store.putExecutors(records));
  }

  deleteExecutor(executorId: string): Promise<void> {
    return this.timed('deleteExecutor', () => this.store.deleteExecutor(executorId));
  }

  putCrashLoop(loop: CrashLoop): Promise<void> {
    return this.timed('putCrashLoop', () => this.store.putCrashLoop(loop));
  }

  deleteCrashLoops(serviceId: string, executorIds?: readonly string[]): Promise<void> {
    return this.timed('deleteCrashLoops', () => this.store.deleteCrashLoops(serviceId, executorIds));
  }

  close(): Promise<void> {
    return this.store.close();
  }

  private async timed(operation: string, write: () => Promise<void>): Promise<void> {
    const done = this.metrics.storeWriteStarted(this.type, operation);
    try {
      await write();
      done(true);
    } catch (error) {
      done(false);
      throw error;
    }
  }
}
