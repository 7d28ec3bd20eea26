/**
 * The Docker Swarm peer of bench:rollout, through dockerd's API (dockerode): puts the engine in swarm mode if it
 * is in none (and only then takes it out again), times service create -> N tasks running with healthy containers,
 * and removes each service until its containers are gone, so the next drove or docker run round starts clean.
 */
import type Docker from 'dockerode';
import type { CheckSpec } from '../../src/model/index.js';
import { waitUntil, type WaitOptions } from '../../test/support/wait.js';
import { runningContainers, swarmMembership, swarmServiceSpec, type SwarmInfo, type SwarmTask } from './swarm-spec.js';

/** Networks that swarm init creates and `swarm leave` may leave behind; removed at the end if the bench made them. */
const SWARM_NETWORKS = ['docker_gwbridge', 'ingress'];
/** Marks the services and containers of this bench, so that a cleanup finds exactly its own. */
const LABEL = 'drove-ts.bench';

export interface SwarmPeerOptions {
  image: string;
  check: CheckSpec;
  containerPort: number;
  memoryBytes: number;
  pollMs: number;
  waitLimitMs: number;
}

async function networkNames(docker: Docker): Promise<Set<string>> {
  return new Set((await docker.listNetworks()).map((network) => network.Name));
}

export class SwarmPeer {
  private readonly liveServices = new Set<string>();
  /** Set by the first close(); later calls (the signal handler, main's finally) wait for the same cleanup. */
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly docker: Docker,
    private readonly options: SwarmPeerOptions,
    private readonly imageId: string,
    /** True when this bench ran swarm init, so it must leave; false when it found a manager to leave as found. */
    readonly initialized: boolean,
    private readonly networksBefore: Set<string>,
  ) {}

  static async join(docker: Docker, options: SwarmPeerOptions): Promise<SwarmPeer> {
    const imageId = (await docker.getImage(options.image).inspect()).Id;
    const info = (await docker.info()) as { Swarm?: SwarmInfo };
    const networksBefore = await networkNames(docker);
    const membership = swarmMembership(info.Swarm ?? {});
    if (membership === 'init') {
      // Loopback only: a single-node swarm for one bench must not listen for managers on the host's interfaces.
      await docker.swarmInit({ ListenAddr: '127.0.0.1:2377', AdvertiseAddr: '127.0.0.1' });
    }
    return new SwarmPeer(docker, options, imageId, membership === 'init', networksBefore);
  }

  /** Service create -> `instances` tasks running, each container's health check passed; ms. Then removes it. */
  async rollout(instances: number, name: string): Promise<number> {
    if (this.closing) throw new Error('the swarm peer is closed');
    const labels = { [LABEL]: name };
    const spec = swarmServiceSpec({ ...this.options, name, imageId: this.imageId, instances, labels });
    const started = performance.now();
    const service = await this.docker.createService(spec);
    this.liveServices.add(service.id);
    try {
      // stopOnError: a task that ended (runningContainers throws) will not come back with restarts off.
      const wait: WaitOptions = { ...this.waitOptions(), stopOnError: true };
      await waitUntil(`${instances} healthy swarm task(s) of ${name}`, async () => {
        const tasks = (await this.docker.listTasks({ filters: { service: [service.id] } })) as SwarmTask[];
        const containers = runningContainers(tasks, instances);
        if (!containers) return false;
        const health = await Promise.all(
          containers.map(async (id) => (await this.docker.getContainer(id).inspect()).State.Health?.Status),
        );
        return health.every((status) => status === 'healthy');
      }, wait);
      return performance.now() - started;
    } finally {
      await this.removeService(service.id);
    }
  }

  /** Removes what is left, leaves the swarm if the bench joined it, and the networks swarm init made. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.cleanUp();
    return this.closing;
  }

  private async cleanUp(): Promise<void> {
    for (const id of [...this.liveServices]) await this.removeService(id).catch(() => undefined);
    if (!this.initialized) return;
    await this.docker.swarmLeave({ force: true });
    const left = await networkNames(this.docker);
    for (const name of SWARM_NETWORKS) {
      if (this.networksBefore.has(name) || !left.has(name)) continue;
      const network = this.docker.getNetwork(name);
      const attached = Object.keys(((await network.inspect()) as { Containers?: object }).Containers ?? {});
      if (attached.length === 0) await network.remove();
    }
  }

  /** Removes the service, or finds it removed already (a rollout's own cleanup racing close() on a signal). */
  private async removeService(id: string): Promise<void> {
    await this.docker
      .getService(id)
      .remove()
      .catch((error: unknown) => {
        if ((error as { statusCode?: number }).statusCode !== 404) throw error;
      });
    await waitUntil(`the containers of service ${id} to be gone`, async () => {
      const containers = await this.docker.listContainers({
        all: true,
        filters: { label: [`com.docker.swarm.service.id=${id}`] },
      });
      return containers.length === 0;
    }, this.waitOptions());
    this.liveServices.delete(id);
  }

  private waitOptions(): WaitOptions {
    return { timeoutMs: this.options.waitLimitMs, intervalMs: this.options.pollMs };
  }
}
