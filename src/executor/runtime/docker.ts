import Docker from 'dockerode';
import { PassThrough } from 'node:stream';
import { setImmediate as nextTurn, setTimeout as delay } from 'node:timers/promises';
import type {
  ContainerRuntime,
  ContainerSpec,
  ContainerStats,
  ContainerStatus,
  ContainerSummary,
  ExecOptions,
  ExecResult,
  LogFollower,
  LogsFrom,
  LogStreamName,
  PullOptions,
} from './runtime.js';
import { overlapBytes, storedMessages, type StoredMessage } from './log-splice.js';
import { killExecProcess, type KillOutcome } from './exec-kill.js';

/** `ContainerRuntime` over the Docker Engine API (dockerd, or podman's Docker-compatible socket). */
export class DockerRuntime implements ContainerRuntime {
  private readonly docker: Docker;

  constructor(socketPath = '/var/run/docker.sock') {
    this.docker = new Docker({ socketPath });
  }

  async ping(timeoutMs: number): Promise<void> {
    // dockerode passes abortSignal on to the request (docker.js ping); its type declarations omit the options.
    const ping = this.docker.ping.bind(this.docker) as unknown as (options: { abortSignal: AbortSignal }) => Promise<unknown>;
    await ping({ abortSignal: AbortSignal.timeout(timeoutMs) }).catch((error: unknown) => {
      throw engineError(error);
    });
  }

  async pullImage(image: string, options: PullOptions): Promise<void> {
    const abort = new AbortController();
    const onOuterAbort = () => abort.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onOuterAbort, { once: true });
    const timer = setTimeout(
      () => abort.abort(new Error(`Pull timed out after ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    try {
      const stream = (await this.docker
        .pull(image, { abortSignal: abort.signal, ...(options.auth ? { authconfig: options.auth } : {}) })
        .catch((error: unknown) => {
          throw engineError(error);
        })) as NodeJS.ReadableStream;
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          (stream as unknown as { destroy?: () => void }).destroy?.();
          reject(abort.signal.reason instanceof Error ? abort.signal.reason : new Error('Pull operation interrupted'));
        };
        abort.signal.addEventListener('abort', onAbort, { once: true });
        this.docker.modem.followProgress(
          stream,
          (error: Error | null, output: Array<{ error?: string; errorDetail?: { message?: string } }>) => {
            abort.signal.removeEventListener('abort', onAbort);
            if (error) return reject(error);
            const failed = output?.find((o) => o.error || o.errorDetail);
            if (failed) return reject(new Error(failed.errorDetail?.message ?? failed.error ?? 'pull failed'));
            resolve();
          },
        );
      });
    } catch (error) {
      if (abort.signal.aborted && abort.signal.reason instanceof Error) throw abort.signal.reason;
      throw error;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onOuterAbort);
    }
  }

  async imageExists(image: string): Promise<boolean> {
    try {
      await this.docker.getImage(image).inspect();
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw error;
    }
  }

  async removeImage(image: string): Promise<void> {
    try {
      await this.docker.getImage(image).remove();
    } catch (error) {
      // Not found: already gone. Conflict: another container still uses it, which is fine.
      if (statusOf(error) === 404 || statusOf(error) === 409) return;
      throw error;
    }
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    // Docker wants the CAP_ prefix (API 1.40+ normalizes to it); ALL is spelt as is.
    const capability = (name: string) => (name === 'ALL' ? name : `CAP_${name}`);
    const exposed: Record<string, object> = {};
    const bindings: Record<string, Array<{ HostPort: string }>> = {};
    for (const p of spec.ports) {
      const key = `${p.containerPort}/${p.protocol}`;
      exposed[key] = {};
      bindings[key] = [{ HostPort: String(p.hostPort) }];
    }
    const container = await this.docker.createContainer({
      name: spec.name,
      Image: spec.image,
      Env: spec.env,
      ...(spec.cmd && spec.cmd.length > 0 ? { Cmd: spec.cmd } : {}),
      Labels: spec.labels,
      ExposedPorts: exposed,
      ...(spec.user ? { User: spec.user } : {}),
      HostConfig: {
        PortBindings: bindings,
        ...(spec.cpusetCpus ? { CpusetCpus: spec.cpusetCpus } : {}),
        ...(spec.cpusetMems ? { CpusetMems: spec.cpusetMems } : {}),
        ...(spec.memoryBytes ? { Memory: spec.memoryBytes } : {}),
        Binds: spec.binds.map((b) => `${b.hostPath}:${b.containerPath}:${b.readOnly ? 'ro' : 'rw'}`),
        Devices: spec.devices.map((d) => ({
          PathOnHost: d.pathOnHost,
          PathInContainer: d.pathInContainer,
          CgroupPermissions: d.cgroupPermissions,
        })),
        DeviceRequests: spec.deviceRequests.map((r) => ({
          Driver: r.driver ?? '',
          Count: r.count ?? 0,
          DeviceIDs: r.deviceIds ?? [],
          Capabilities: r.capabilities ?? [],
          Options: r.options ?? {},
        })),
        LogConfig: { Type: spec.logging.type, Config: spec.logging.config },
        ...(spec.maxOpenFiles ? { Ulimits: [{ Name: 'nofile', Soft: spec.maxOpenFiles, Hard: spec.maxOpenFiles }] } : {}),
        ...(spec.hostNetwork ? { NetworkMode: 'host' } : {}),
        ...(spec.hostPid ? { PidMode: 'host' } : {}),
        ...(spec.privileged ? { Privileged: true } : {}),
        ...(spec.capAdd ? { CapAdd: spec.capAdd.map(capability) } : {}),
        ...(spec.capDrop ? { CapDrop: spec.capDrop.map(capability) } : {}),
        ...(spec.readOnlyRootFilesystem ? { ReadonlyRootfs: true } : {}),
      },
    });
    return container.id;
  }

  async putArchive(containerId: string, tar: Buffer): Promise<void> {
    await this.docker.getContainer(containerId).putArchive(tar, { path: '/' });
  }

  async startContainer(containerId: string): Promise<void> {
    await this.docker.getContainer(containerId).start();
  }

  async inspectContainer(containerId: string): Promise<ContainerStatus | undefined> {
    try {
      const info = await this.docker.getContainer(containerId).inspect();
      return {
        id: info.Id,
        name: info.Name.replace(/^\//, ''),
        running: info.State.Running,
        labels: info.Config.Labels ?? {},
        startedAt: info.State.StartedAt,
        restartCount: info.RestartCount,
      };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async containerStats(containerId: string): Promise<ContainerStats | undefined> {
    try {
      // one-shot: one reading now, without the second sample (1 s later) that CPU percentages need.
      const stats = await this.docker.getContainer(containerId).stats({ stream: false, 'one-shot': true });
      const memory = stats.memory_stats;
      const detail = (memory.stats ?? {}) as Record<string, number | undefined>;
      // The page cache the kernel can reclaim, as `docker stats` subtracts it: cgroup v1 and v2 name it differently.
      const cache = detail.total_inactive_file ?? detail.inactive_file ?? 0;
      const usage = memory.usage ?? 0;
      return {
        cpuSeconds: stats.cpu_stats.cpu_usage.total_usage / 1e9,
        memoryBytes: Math.max(0, usage - cache),
        ...(memory.limit ? { memoryLimitBytes: memory.limit } : {}),
      };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async exec(containerId: string, command: string[], options: ExecOptions): Promise<ExecResult> {
    const { signal } = options;
    signal?.throwIfAborted();
    const exec = await this.docker.getContainer(containerId).exec({
      Cmd: command,
      AttachStdout: true,
      AttachStderr: true,
    });
    const output = new KeptOutput(options.maxOutputBytes);
    let stream: NodeJS.ReadWriteStream | undefined;
    try {
      signal?.throwIfAborted();
      const starting = exec.start({ hijack: true, stdin: false });
      // A stream that arrives after the abort has nobody reading it: close it.
      starting.then((late) => signal?.aborted && late.destroy?.(), () => undefined);
      stream = await untilAborted(starting, signal);
      const sink = new PassThrough();
      sink.on('data', (c: Buffer) => output.add(c));
      this.docker.modem.demuxStream(stream, sink, sink);
      const ended = new Promise<void>((resolve, reject) => {
        stream!.on('end', () => resolve());
        stream!.on('close', () => resolve());
        stream!.on('error', reject);
      });
      await untilAborted(ended, signal);
    } catch (error) {
      (stream as { destroy?: () => void } | undefined)?.destroy?.();
      if (!signal?.aborted) throw error;
      // The command may still run: docker closes nothing when its client goes away.
      const outcome = await this.killExec(exec, containerId);
      const reason = signal.reason instanceof Error ? signal.reason : new Error('Exec aborted');
      throw outcome.notKilled ? new Error(`${reason.message}; the command could not be killed: ${outcome.notKilled}`) : reason;
    }
    const info = await exec.inspect();
    return { exitCode: info.ExitCode ?? -1, output: output.text(), truncated: output.truncated };
  }

  private async killExec(exec: Docker.Exec, containerId: string): Promise<KillOutcome> {
    try {
      const info = await exec.inspect();
      if (!info.Running) return { killed: [] };
      return killExecProcess(info.Pid, info.ContainerID || containerId);
    } catch (error) {
      return { killed: [], notKilled: (error as Error).message };
    }
  }

  async stopContainer(containerId: string, graceSeconds: number): Promise<void> {
    try {
      await this.docker.getContainer(containerId).stop({ t: graceSeconds });
    } catch (error) {
      // 304: already stopped; 404: gone.
      if (statusOf(error) === 304 || statusOf(error) === 404) return;
      throw error;
    }
  }

  async removeContainer(containerId: string): Promise<void> {
    try {
      await this.docker.getContainer(containerId).remove({ force: true, v: true });
    } catch (error) {
      // 404: gone; 409: removal already in progress.
      if (statusOf(error) === 404 || statusOf(error) === 409) return;
      throw error;
    }
  }

  async listContainers(labels: Record<string, string>): Promise<ContainerSummary[]> {
    const list = await this.docker.listContainers({
      all: true,
      filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) },
    });
    return list.map((c) => ({ id: c.Id, running: c.State === 'running', labels: c.Labels ?? {} }));
  }

  /**
   * The container's output as it is written, through an attach stream. Following `docker logs` instead loses
   * lines: Docker 20.10's json-file reader misses what was written around each rotation of its own files, and
   * those rotate at the LoggingSpec's maxSize (on this VM 9 of 30 bursts of 7 KB against a 4k maxSize lost their
   * last line; through attach none did). A container not started yet is attached before its start, so the attach
   * has all of it. For a running one (a restarted executor re-adopting it) what it wrote before comes from Docker's
   * log store, read once its non-blocking driver has caught up, and the attach's output is held until then; the
   * part both hold is sent once (log-splice.ts, docs/design/instance-lifecycle.md#instance-logs).
   */
  async followLogs(
    containerId: string,
    from: LogsFrom,
    onData: (stream: LogStreamName, chunk: Buffer) => void,
  ): Promise<LogFollower> {
    const container = this.docker.getContainer(containerId);
    const attachRequestedMs = Date.now();
    const live = (await container.attach({ stream: true, stdout: true, stderr: true, logs: false })) as unknown as NodeJS.ReadableStream & {
      destroy(): void;
    };
    let closed = false;
    let held: Array<[LogStreamName, Buffer]> | undefined = from === 'beforeStart' ? undefined : [];
    const deliver = (stream: LogStreamName) => (chunk: Buffer) => {
      if (closed) return;
      if (held) held.push([stream, chunk]);
      else onData(stream, chunk);
    };
    live.on('error', () => undefined);
    this.docker.modem.demuxStream(live, passThrough(deliver('stdout')), passThrough(deliver('stderr')));
    const follower = {
      close: () => {
        closed = true;
        live.destroy();
      },
    };
    if (from === 'beforeStart') return follower;
    void (async () => {
      await delay(LOG_STORE_SETTLE_MS);
      // Closed meanwhile (the instance stopped): what the store holds would be dropped, so it is not read.
      if (closed) return;
      let stored: StoredMessage[] = [];
      try {
        const before = (await container.logs({ follow: false, stdout: true, stderr: true, since: from, timestamps: true } as Docker.ContainerLogsOptions & {
          follow: false;
        })) as unknown as Buffer;
        stored = storedMessages(before);
      } catch {
        // Removed meanwhile, or a log driver Docker cannot read back: the live output is all there is.
      }
      // Attach frames dockerd sent before the store's answer may still wait in this process's socket buffer.
      await nextTurn();
      const waiting = held ?? [];
      held = undefined;
      if (closed) return;
      const skip = overlapBytes(stored, heldByStream(waiting), attachRequestedMs);
      for (const message of stored) if (!closed) onData(message.stream, message.payload);
      for (const [stream, chunk] of waiting) {
        const drop = Math.min(skip[stream], chunk.length);
        skip[stream] -= drop;
        if (drop < chunk.length && !closed) onData(stream, drop === 0 ? chunk : chunk.subarray(drop));
      }
    })();
    return follower;
  }
}

/**
 * How long after the attach the store is read: Docker's non-blocking log driver writes from a ring buffer, and a
 * line broadcast just before the attach subscribed must be in the file by then. Its lag is normally far below a
 * millisecond; a second leaves room for a starved host and only delays the start of a re-adopted copy.
 */
const LOG_STORE_SETTLE_MS = 1_000;

function heldByStream(chunks: ReadonlyArray<[LogStreamName, Buffer]>): Record<LogStreamName, Buffer> {
  const of = (name: LogStreamName) => Buffer.concat(chunks.filter(([stream]) => stream === name).map(([, chunk]) => chunk));
  return { stdout: of('stdout'), stderr: of('stderr') };
}

function passThrough(onChunk: (chunk: Buffer) => void): PassThrough {
  const stream = new PassThrough();
  stream.on('data', onChunk);
  return stream;
}

/**
 * The engine's own message: dockerode's errors read "(HTTP code 500) server error - unauthorized: ...", and the
 * part after the dash is what the registry or dockerd said (the instance's error message shows it).
 */
function engineError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const json = (error as { json?: { message?: unknown } | null }).json;
  const said = typeof json?.message === 'string' ? json.message : /^\(HTTP code \d+\) [^-]*- ([\s\S]*)$/.exec(error.message)?.[1];
  return said && said.trim() !== '' ? new Error(said.trim()) : error;
}

function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number } | null)?.statusCode;
}

/** The first `limit` bytes of a command's output; what comes after is counted, not kept. */
class KeptOutput {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;

  constructor(private readonly limit: number) {}

  add(chunk: Buffer): void {
    const room = this.limit - this.size;
    if (chunk.length > room) this.truncated = true;
    if (room <= 0) return;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(kept);
    this.size += kept.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** `promise`, or a rejection with the signal's reason as soon as it aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
