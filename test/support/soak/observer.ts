import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { DroveEventsList, LocalServiceInstanceInfo, LocalServiceSummary } from '../../../src/model/index.js';
import { call, type Reply } from './api.js';
import type { SoakCluster } from './cluster.js';
import type { ContainerFact, ExecutorListing, HostContainers, LeaderView, Sample } from './sample.js';
import type { TermTracker } from './terms.js';

const run = promisify(execFile);

/** A ping must not wait long on a paused controller: the sample would lag behind everything else. */
const PING_TIMEOUT_MS = 1_500;
/** `docker ps` against a dockerd that is shutting down can hang; the sample counts that host as unknown. */
const DOCKER_TIMEOUT_MS = 5_000;

/** Reads the cluster for the invariant checker: Docker on every host first, then the leader's API. */
export class Observer {
  /** Incarnation of each controller process when its events were last read (a restart starts a new log). */
  private readonly incarnations = new Map<number, number>();

  constructor(
    private readonly cluster: SoakCluster,
    private readonly tracker: TermTracker,
    /** Every HTTP 5xx answer is a bug; the checker records it. */
    private readonly onServerError: (what: string, reply: Reply) => void,
  ) {}

  async sample(): Promise<Sample> {
    const wall = Date.now();
    // Docker first: the API read that follows is then at least as new as what Docker showed, so a container's
    // record state is never older than the container listing it is compared with.
    const hosts = await Promise.all(this.cluster.net.hosts.map((h) => this.containersOf(h.index)));
    const leaders = await this.leaders();
    const view = leaders.length === 1 ? await this.viewOf(leaders[0]!) : undefined;
    return { wall, hosts, leaders, view };
  }

  private async containersOf(index: number): Promise<HostContainers> {
    const host = this.cluster.net.hosts[index]!;
    try {
      const { stdout } = await run(
        'docker',
        ['-H', host.dockerHost, 'ps', '--no-trunc', '--filter', 'label=drove.job.type=LOCAL_SERVICE', '--format', '{{.ID}}\t{{.Names}}\t{{.Label "drove.instance.id"}}'],
        { timeout: DOCKER_TIMEOUT_MS },
      );
      const containers: ContainerFact[] = [];
      for (const line of stdout.split('\n')) {
        const [containerId, name, instanceId] = line.split('\t');
        if (!containerId || !name || !instanceId) continue;
        // Container names are `<serviceId>-<instanceId>` (the executor's naming, as Drove's).
        const serviceId = name.endsWith(`-${instanceId}`) ? name.slice(0, -instanceId.length - 1) : name;
        containers.push({ host: index, containerId, serviceId, instanceId });
      }
      return { host: index, ok: true, containers };
    } catch {
      return { host: index, ok: false, containers: [] };
    }
  }

  private async leaders(): Promise<number[]> {
    const answers = await Promise.all(
      this.cluster.controllers.map(async (c) => {
        if (!c.process.running) return undefined;
        const reply = await call(c.url, 'GET', '/apis/v1/ping', undefined, PING_TIMEOUT_MS);
        if (reply.status >= 500) this.onServerError(`GET /apis/v1/ping on controller-${c.index + 1}`, reply);
        return reply.status === 200 ? c.index : undefined;
      }),
    );
    return answers.filter((i): i is number => i !== undefined);
  }

  private async get<T>(controller: number, path: string): Promise<T | undefined> {
    const reply = await call<T>(this.cluster.controllers[controller]!.url, 'GET', path);
    if (reply.status >= 500) this.onServerError(`GET ${path} on controller-${controller + 1}`, reply);
    return reply.status === 200 && reply.body.status === 'SUCCESS' ? reply.body.data : undefined;
  }

  private async viewOf(controller: number): Promise<LeaderView | undefined> {
    const proc = this.cluster.controllers[controller]!.process;
    if (this.incarnations.get(controller) !== proc.incarnation) {
      this.tracker.restarted(controller);
      this.incarnations.set(controller, proc.incarnation);
    }
    const fetchedAt = Date.now();
    const events = await this.get<DroveEventsList>(
      controller,
      `/apis/v1/cluster/events/latest?lastSyncTime=${this.tracker.syncPoint(controller)}&size=1000000`,
    );
    if (!events) return undefined;
    this.tracker.add(controller, events.events, events.lastSyncTime, fetchedAt);
    const services = await this.get<Record<string, LocalServiceSummary>>(controller, '/apis/v1/localservices');
    const executors = await this.get<ExecutorListing[]>(controller, '/apis/v1/cluster/executors');
    if (!services || !executors) return undefined;
    const ids = Object.keys(services);
    const lists = await Promise.all(
      ids.map(async (id) => {
        const path = `/apis/v1/localservices/${encodeURIComponent(id)}/instances`;
        return Promise.all([
          this.get<LocalServiceInstanceInfo[]>(controller, path),
          this.get<LocalServiceInstanceInfo[]>(controller, `${path}/old`),
        ]);
      }),
    );
    if (lists.some(([active, old]) => !active || !old)) return undefined;
    return {
      controller,
      term: this.tracker.currentTerm(controller),
      services: new Map(Object.entries(services)),
      instances: new Map(ids.map((id, i) => [id, lists[i]![0]!])),
      oldInstances: new Map(ids.map((id, i) => [id, lists[i]![1]!])),
      executors,
    };
  }
}
