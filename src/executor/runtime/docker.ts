import Docker from 'dockerode';
import { PassThrough } from 'node:stream';
import type {
  ContainerRuntime,
  ContainerSpec,
  ContainerStatus,
  ContainerSummary,
  ExecResult,
  LogFollower,
  LogStreamName,
} from './runtime.js';

/** `ContainerRuntime` over the Docker Engine API (dockerd, or podman's Docker-compatible socket). */
export class DockerRuntime implements ContainerRuntime {
  private readonly docker: Docker;

  constructor(socketPath = '/var/run/docker.sock') {
    this.docker = new Docker({ socketPath });
  }

  async pullImage(image: string, options: { timeoutMs: number; signal?: AbortSignal }): Promise<void> {
    const abort = new AbortController();
    const onOuterAbort = () => abort.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onOuterAbort, { once: true });
    const timer = setTimeout(
      () => abort.abort(new Error(`Pull timed out after ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    try {
      const stream = (await this.docker.pull(image, { abortSignal: abort.signal })) as NodeJS.ReadableStream;
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

  async exec(containerId: string, command: string[], options: { signal?: AbortSignal } = {}): Promise<ExecResult> {
    const exec = await this.docker.getContainer(containerId).exec({
      Cmd: command,
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = await exec.start({ hijack: true, stdin: false });
    const chunks: Buffer[] = [];
    const sink = new PassThrough();
    sink.on('data', (c: Buffer) => chunks.push(c));
    this.docker.modem.demuxStream(stream, sink, sink);
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        stream.destroy();
        reject(options.signal?.reason instanceof Error ? options.signal.reason : new Error('Exec aborted'));
      };
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      stream.on('end', () => {
        options.signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      stream.on('close', () => resolve());
      stream.on('error', reject);
    });
    const info = await exec.inspect();
    return { exitCode: info.ExitCode ?? -1, output: Buffer.concat(chunks).toString('utf8') };
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

  async followLogs(
    containerId: string,
    sinceSeconds: number,
    onData: (stream: LogStreamName, chunk: Buffer) => void,
  ): Promise<LogFollower> {
    const stream = (await this.docker.getContainer(containerId).logs({
      follow: true,
      stdout: true,
      stderr: true,
      since: sinceSeconds,
    })) as unknown as NodeJS.ReadableStream & { destroy(): void };
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stdout.on('data', (c: Buffer) => onData('stdout', c));
    stderr.on('data', (c: Buffer) => onData('stderr', c));
    this.docker.modem.demuxStream(stream, stdout, stderr);
    stream.on('error', () => undefined);
    return { close: () => stream.destroy() };
  }
}

function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number } | null)?.statusCode;
}
