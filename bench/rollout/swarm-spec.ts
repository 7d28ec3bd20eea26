/**
 * The pure half of the Docker Swarm peer in bench:rollout: what to do with the engine's swarm state, and the
 * service spec that mirrors the drove spec (same image, memory and HTTP check). No I/O here, so it is unit-tested
 * (test/unit/bench/swarm-spec.test.ts); bench/rollout/swarm.ts talks to dockerd.
 */
import type Docker from 'dockerode';
import type { CheckSpec } from '../../src/model/index.js';
import { durationMs } from '../../src/model/index.js';

/** The part of `GET /info` that says whether and how this engine is in a swarm. */
export interface SwarmInfo {
  LocalNodeState?: string;
  ControlAvailable?: boolean;
}

/**
 * `init`: the engine is in no swarm, so the bench makes it a single-node manager and leaves again at the end.
 * `use`: it already is a manager, so the bench uses it and leaves it as found.
 * Anything else (a worker, a pending join, a locked swarm) cannot create services and is refused.
 */
export type SwarmMembership = 'init' | 'use';

export function swarmMembership(info: SwarmInfo): SwarmMembership {
  const state = info.LocalNodeState ?? 'inactive';
  if (state === 'inactive') return 'init';
  if (state === 'active' && info.ControlAvailable === true) return 'use';
  if (state === 'active') throw new Error('this engine is a swarm worker, not a manager: the swarm peer cannot create services here');
  throw new Error(`this engine's swarm state is "${state}": the swarm peer needs it inactive or an active manager`);
}

/**
 * Swarm runs one task per node in global mode, the analogue of instancesPerHost = 1 on one executor. For N > 1 on
 * this single node only a replicated service can place N tasks, so the table says which mode each row used.
 */
export type SwarmMode = 'global' | 'replicated';

export const swarmMode = (instances: number): SwarmMode => (instances === 1 ? 'global' : 'replicated');

const NS_PER_MS = 1_000_000;

/**
 * Docker's health check for a drove HTTP check: busybox wget from inside the container (the image has it, and
 * it exits non-zero on a non-2xx answer), every `interval`, giving up after `attempts`. Docker marks the container
 * healthy on the first success, as the executor's probe loop does. It waits one interval before the first probe
 * where the executor probes at once after the initial delay; Docker 20.10 has no start interval to shorten that.
 */
export function swarmHealthCheck(check: CheckSpec, containerPort: number): Docker.HealthConfig {
  if (check.mode.type !== 'HTTP') throw new Error(`the swarm peer mirrors HTTP checks only, not ${check.mode.type}`);
  return {
    Test: ['CMD', 'wget', '-q', '-O', '/dev/null', `http://127.0.0.1:${containerPort}${check.mode.path}`],
    Interval: durationMs(check.interval) * NS_PER_MS,
    Timeout: durationMs(check.timeout) * NS_PER_MS,
    Retries: check.attempts,
    StartPeriod: durationMs(check.initialDelay ?? '0 seconds') * NS_PER_MS,
  };
}

export interface SwarmServiceInput {
  name: string;
  /**
   * The image by its ID (sha256:...): the swarm executor on the node skips its registry pull only for an ID
   * reference, which is what `docker service create --no-resolve-image` cannot promise for a tag. The test image
   * is local (scripts/images.sh), so a pull attempt would only add a failing registry round trip to the figure.
   */
  imageId: string;
  instances: number;
  check: CheckSpec;
  containerPort: number;
  memoryBytes: number;
  labels: Record<string, string>;
}

/**
 * The service: no published port (the health check runs inside the container, so nothing competes with the
 * executor's or docker run's host ports, and the ingress routing mesh stays out of the figure); no restarts, so
 * a failing task shows as failed instead of being retried behind the bench's back.
 */
export type SwarmServiceSpec = Docker.CreateServiceOptions & { TaskTemplate: Docker.ContainerTaskSpec };

export function swarmServiceSpec(input: SwarmServiceInput): SwarmServiceSpec {
  const mode: Docker.ServiceMode =
    swarmMode(input.instances) === 'global' ? { Global: {} } : { Replicated: { Replicas: input.instances } };
  return {
    Name: input.name,
    Labels: input.labels,
    Mode: mode,
    TaskTemplate: {
      ContainerSpec: {
        Image: input.imageId,
        Labels: input.labels,
        HealthCheck: swarmHealthCheck(input.check, input.containerPort),
      },
      Resources: { Limits: { MemoryBytes: input.memoryBytes } },
      RestartPolicy: { Condition: 'none' },
    },
  };
}

/** The fields of a `GET /tasks` entry that the peer reads. */
export interface SwarmTask {
  ID?: string;
  Status?: { State?: string; Err?: string; ContainerStatus?: { ContainerID?: string } };
}

/** Task states from which a task never becomes running (swarmkit's api.TaskState past RUNNING, or refused). */
const TERMINAL_TASK_STATES = new Set(['complete', 'shutdown', 'failed', 'rejected', 'orphaned', 'remove']);

/**
 * The containers of the running tasks, or null while fewer than `instances` run; throws when a task ended, with
 * the engine's reason, since with restarts off it will not come back.
 */
export function runningContainers(tasks: readonly SwarmTask[], instances: number): string[] | null {
  for (const task of tasks) {
    const state = task.Status?.State ?? '';
    if (TERMINAL_TASK_STATES.has(state)) {
      throw new Error(`swarm task ${task.ID ?? '?'} is ${state}: ${task.Status?.Err ?? 'no reason given'}`);
    }
  }
  const containers = tasks
    .filter((task) => task.Status?.State === 'running')
    .map((task) => task.Status?.ContainerStatus?.ContainerID)
    .filter((id): id is string => typeof id === 'string' && id !== '');
  return containers.length >= instances ? containers : null;
}
