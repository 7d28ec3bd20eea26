import type { LocalServiceInstanceInfo, LocalServiceSummary } from '../../../src/model/index.js';
import type { Term } from './terms.js';

/** What the checker sees at one moment: every host's running containers, who answers as leader, and its view. */

export interface ContainerFact {
  host: number;
  containerId: string;
  serviceId: string;
  instanceId: string;
}

export interface HostContainers {
  host: number;
  /** false when the host's dockerd did not answer (it is restarting): nothing is known about it then. */
  ok: boolean;
  containers: ContainerFact[];
}

export interface ExecutorListing {
  executorId: string;
  hostname: string;
  state: string;
}

export interface LeaderView {
  controller: number;
  /** The leadership term the controller was in (from its events), when known. */
  term: Term | undefined;
  services: Map<string, LocalServiceSummary>;
  /** `/instances` (active, not stale) and `/instances/old`, per service. */
  instances: Map<string, LocalServiceInstanceInfo[]>;
  oldInstances: Map<string, LocalServiceInstanceInfo[]>;
  executors: ExecutorListing[];
}

export interface Sample {
  /** Wall clock (epoch ms) when the sample was started; Docker is read first, then the API. */
  wall: number;
  hosts: HostContainers[];
  /** Controllers answering GET /apis/v1/ping with 200. */
  leaders: number[];
  /** Present when exactly one controller leads and every read from it succeeded. */
  view: LeaderView | undefined;
}
