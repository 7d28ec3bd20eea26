/**
 * The executor's only seam to the container engine (Docker Engine API; podman's compatible socket works the
 * same). The instance state machine, recovery and the zombie reaper use nothing else, so unit tests run them
 * against an in-process fake and integration tests against real dockerd.
 */

export interface PortBinding {
  containerPort: number;
  hostPort: number;
  protocol: 'tcp' | 'udp';
}

export interface BindMount {
  hostPath: string;
  containerPath: string;
  readOnly: boolean;
}

export interface DeviceMapping {
  pathOnHost: string;
  pathInContainer: string;
  /** cgroup permission string: r, w, m, rw or rwm. */
  cgroupPermissions: string;
}

export interface DeviceRequest {
  driver?: string;
  count?: number;
  deviceIds?: string[];
  capabilities?: string[][];
  options?: Record<string, string>;
}

export interface LogDriverConfig {
  type: 'json-file' | 'syslog';
  config: Record<string, string>;
}

/** Everything the executor decides about a container, in engine-neutral terms. */
export interface ContainerSpec {
  name: string;
  image: string;
  env: string[];
  /** Overrides the image CMD when present. */
  cmd?: string[];
  labels: Record<string, string>;
  ports: PortBinding[];
  /** Comma separated physical core ids; absent = not pinned. */
  cpusetCpus?: string;
  cpusetMems?: string;
  memoryBytes?: number;
  binds: BindMount[];
  devices: DeviceMapping[];
  deviceRequests: DeviceRequest[];
  logging: LogDriverConfig;
  user?: string;
  /** nofile soft = hard limit. */
  maxOpenFiles?: number;
  /** The host's network namespace; `ports` is then empty (nothing is published: the ports are the host's). */
  hostNetwork?: boolean;
  /** The host's PID namespace. */
  hostPid?: boolean;
  privileged?: boolean;
  /** Linux capability names without the CAP_ prefix, or ALL. */
  capAdd?: string[];
  capDrop?: string[];
  readOnlyRootFilesystem?: boolean;
}

export interface ContainerStatus {
  id: string;
  name: string;
  running: boolean;
  labels: Record<string, string>;
  startedAt: string;
  restartCount: number;
}

/** What the engine's stats API says of a container's resource use (for `/metrics`). */
export interface ContainerStats {
  /** CPU time used since the container started, user and system. */
  cpuSeconds: number;
  /** Memory in use without the page cache the kernel can reclaim (what `docker stats` shows). */
  memoryBytes: number;
  /** The container's memory limit; absent when the engine reports none. */
  memoryLimitBytes?: number;
}

export interface ContainerSummary {
  id: string;
  running: boolean;
  labels: Record<string, string>;
}

export interface ExecResult {
  exitCode: number;
  /** stdout and stderr as they came, at most `maxOutputBytes` of them. */
  output: string;
  /** More output came than was kept. */
  truncated: boolean;
}

export interface ExecOptions {
  /** Aborting kills the command and what it started, then rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Output kept; the rest is read and dropped, so a command printing without end neither grows the executor's
   * memory nor blocks on a full pipe.
   */
  maxOutputBytes: number;
}

export type LogStreamName = 'stdout' | 'stderr';

export interface LogFollower {
  close(): void;
}

/**
 * Where a copy of a container's output starts: `'beforeStart'` for a container created and not started yet (the
 * copy sees its first byte), or epoch seconds for one already running (0 = everything it wrote).
 */
export type LogsFrom = 'beforeStart' | number;

/** Registry credentials for one pull (Docker's X-Registry-Auth); never logged, never reported. */
export interface RegistryAuth {
  username: string;
  password: string;
  /** The registry they are for, as docker's own clients name it. */
  serveraddress: string;
}

export interface PullOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Credentials for the image's registry (executor config dockerAuth); absent = anonymous pull. */
  auth?: RegistryAuth;
}

export interface ContainerRuntime {
  /** Resolves when the engine answers within `timeoutMs` (the executor's readiness); rejects with why not. */
  ping(timeoutMs: number): Promise<void>;
  /** Pulls `image`; rejects after `timeoutMs` or when `signal` aborts, with the engine's or registry's reason. */
  pullImage(image: string, options: PullOptions): Promise<void>;
  imageExists(image: string): Promise<boolean>;
  /** Removes an image; a missing or still-used image is not an error. */
  removeImage(image: string): Promise<void>;
  /** Creates (does not start) a container; returns its id. */
  createContainer(spec: ContainerSpec): Promise<string>;
  /** Extracts a tar archive into the container's filesystem at `/`. */
  putArchive(containerId: string, tar: Buffer): Promise<void>;
  startContainer(containerId: string): Promise<void>;
  /** undefined when no such container exists. */
  inspectContainer(containerId: string): Promise<ContainerStatus | undefined>;
  /** One reading of the container's CPU and memory; undefined when no such container exists. */
  containerStats(containerId: string): Promise<ContainerStats | undefined>;
  exec(containerId: string, command: string[], options: ExecOptions): Promise<ExecResult>;
  /** SIGTERM, then SIGKILL after `graceSeconds`; a missing or already stopped container is not an error. */
  stopContainer(containerId: string, graceSeconds: number): Promise<void>;
  /** Force-removes with its anonymous volumes; a missing container is not an error. */
  removeContainer(containerId: string): Promise<void>;
  /** Containers (running or not) carrying every given label. */
  listContainers(labels: Record<string, string>): Promise<ContainerSummary[]>;
  /**
   * Follows the container's stdout/stderr from `from`, calling `onData` for every chunk, in order, each once,
   * until closed or the container ends. Resolves once the copy is in place: nothing the container writes from then
   * on is missed. For a running container, what it wrote before is delivered first, a moment later.
   */
  followLogs(
    containerId: string,
    from: LogsFrom,
    onData: (stream: LogStreamName, chunk: Buffer) => void,
  ): Promise<LogFollower>;
}
