import type { Logger } from 'pino';
import type { Clock } from '../../model/clock.js';
import { Periodic } from '../../model/periodic.js';
import { isTerminal } from '../../model/states.js';
import { errorText } from '../checks.js';
import type { InstanceEngine } from '../instances/instance-engine.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import type { ExecutorMetrics } from './metrics.js';

export interface ContainerStatsDeps {
  runtime: Pick<ContainerRuntime, 'containerStats'>;
  engine: Pick<InstanceEngine, 'list'>;
  metrics: Pick<ExecutorMetrics, 'containerStats' | 'containerStatsFailed' | 'keepContainerStatsOf'>;
  clock: Clock;
  logger: Logger;
  /** `options.containerStatsInterval`. */
  intervalMs: number;
}

/**
 * Reads every running instance's CPU and memory from the container engine every `intervalMs` (Drove: 30 s) into
 * the metrics, one container after the other (a few ms each): a scrape then costs no engine call, and however often
 * Prometheus scrapes, dockerd sees one stats call per container per interval.
 */
export class ContainerStatsCollector {
  private readonly periodic: Periodic;

  constructor(private readonly deps: ContainerStatsDeps) {
    this.periodic = new Periodic({
      name: 'container stats',
      clock: deps.clock,
      intervalMs: deps.intervalMs,
      run: () => this.collect(),
      onError: (error) => deps.logger.warn({ error: errorText(error) }, 'container stats collection failed'),
    });
  }

  start(): void {
    this.periodic.start();
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  /** One round (also called by tests). A container that cannot be read keeps its last values until it ends. */
  async collect(): Promise<void> {
    const { runtime, engine, metrics } = this.deps;
    const live = new Set<string>();
    for (const instance of engine.list()) {
      const containerId = instance.container;
      // DEPROVISIONING: the container is stopped and removed; its readings would be zeros.
      if (!containerId || isTerminal(instance.state) || instance.state === 'DEPROVISIONING') continue;
      live.add(instance.instanceId);
      try {
        const stats = await runtime.containerStats(containerId);
        if (stats) metrics.containerStats(instance.spec.serviceId, instance.instanceId, stats);
      } catch (error) {
        metrics.containerStatsFailed();
        this.deps.logger.debug({ instanceId: instance.instanceId, error: errorText(error) }, 'container stats not read');
      }
    }
    metrics.keepContainerStatsOf(live);
  }
}
