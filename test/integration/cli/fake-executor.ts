import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LocalServiceInstanceInfo } from '../../../src/model/index.js';
import { instanceInfo } from '../../support/records.js';

/**
 * A stand-in executor speaking the real protocol (docs/design/executor-protocol.md) without Docker: it accepts
 * START/STOP/BLACKLIST messages from the controller and reports the resulting states back, heartbeats with its
 * instances, and serves the log-file endpoints from a fixed text. Enough to drive every CLI command against a real
 * controller process.
 */
export class FakeExecutor {
  readonly instances = new Map<string, LocalServiceInstanceInfo>();
  state: 'ACTIVE' | 'BLACKLISTED' = 'ACTIVE';
  log = 'line one\nline two\n';
  /** When set, new instances fail to start (reported START_FAILED), as an image that cannot run would. */
  failStarts = false;
  private server: Server | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  port = 0;

  constructor(
    private readonly controllerUrl: string,
    private readonly secret: string,
  ) {}

  get executorId(): string {
    return this.snapshot().executorId;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void this.handle(req.method ?? 'GET', req.url ?? '/', Buffer.concat(chunks).toString('utf8')).then(({ status, body, type }) => {
          res.writeHead(status, { 'content-type': type ?? 'application/json' }).end(body);
        });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    await this.sendSnapshot();
    this.heartbeat = setInterval(() => void this.sendSnapshot().catch(() => undefined), 1_000);
  }

  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    await new Promise((resolve) => this.server?.close(resolve));
  }

  private snapshot() {
    const used = [...this.instances.values()].filter((i) => i.state === 'HEALTHY').length;
    const all = [0, 1, 2, 3, 4, 5, 6, 7];
    return {
      executorId: `fake-${this.port}`,
      cpus: { type: 'CPU', freeCores: { '0': all.slice(used) }, usedCores: used > 0 ? { '0': all.slice(0, used) } : {} },
      memory: { type: 'MEMORY', freeMemory: { '0': 8192 - used * 512 }, usedMemory: used > 0 ? { '0': used * 512 } : {} },
      layout: { cores: { '0': all }, memory: { '0': 8192 } },
    };
  }

  private header(): Record<string, unknown> {
    return { id: `m-${Math.random()}`, senderType: 'EXECUTOR', direction: 'REQUEST', messageTime: Date.now() };
  }

  async sendSnapshot(): Promise<void> {
    const now = Date.now();
    for (const i of this.instances.values()) i.updated = now;
    await this.post({
      type: 'EXECUTOR_SNAPSHOT',
      header: this.header(),
      nodeData: {
        type: 'EXECUTOR',
        hostname: '127.0.0.1',
        port: this.port,
        transportType: 'HTTP',
        updated: now,
        state: this.snapshot(),
        instances: [],
        tasks: [],
        serviceInstances: [...this.instances.values()].filter((i) => i.state !== 'STOPPED'),
        tags: ['127.0.0.1'],
        metadata: {},
        executorState: this.state,
      },
    });
  }

  private async report(info: LocalServiceInstanceInfo): Promise<void> {
    info.updated = Date.now();
    await this.post({ type: 'LOCAL_SERVICE_INSTANCE_STATE_REPORT', header: this.header(), resourceSnapshot: this.snapshot(), instanceInfo: info });
  }

  private async post(message: unknown): Promise<void> {
    await fetch(`${this.controllerUrl}/apis/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'cluster-authorization': this.secret, nodeid: '127.0.0.1' },
      body: JSON.stringify(message),
    });
  }

  private async handle(method: string, url: string, body: string): Promise<{ status: number; body: string; type?: string }> {
    const accepted = (header: unknown) => ({ status: 200, body: JSON.stringify({ header, status: 'ACCEPTED' }) });
    if (method === 'POST' && url === '/apis/v1/messages') {
      const message = JSON.parse(body) as { type: string; header: unknown; spec?: Record<string, unknown>; instanceId?: string };
      if (message.type === 'START_LOCAL_SERVICE_INSTANCE' && message.spec) {
        const spec = message.spec as { serviceId: string; serviceName: string; instanceId: string; resources: LocalServiceInstanceInfo['resources'] };
        const now = Date.now();
        const info = instanceInfo({
          serviceId: spec.serviceId,
          serviceName: spec.serviceName,
          instanceId: spec.instanceId,
          executorId: this.executorId,
          localInfo: { hostname: '127.0.0.1', ports: { main: { containerPort: 8000, hostPort: 40000 + this.instances.size, portType: 'HTTP' } } },
          resources: spec.resources,
          state: this.failStarts ? 'START_FAILED' : 'HEALTHY',
          errorMessage: this.failStarts ? 'Container exited at start' : '',
          updated: now,
        });
        this.instances.set(info.instanceId, info);
        setTimeout(() => void this.report(info), 20);
        return accepted(message.header);
      }
      if (message.type === 'STOP_LOCAL_SERVICE_INSTANCE' && message.instanceId) {
        const info = this.instances.get(message.instanceId);
        if (!info || info.state !== 'HEALTHY') return { status: 200, body: JSON.stringify({ header: message.header, status: 'FAILED' }) };
        info.state = 'STOPPED';
        setTimeout(() => void this.report(info), 20);
        return accepted(message.header);
      }
      if (message.type === 'BLACKLIST' || message.type === 'BLACKLIST_REQUESTED') this.state = 'BLACKLISTED';
      if (message.type === 'UNBLACKLIST') this.state = 'ACTIVE';
      setTimeout(() => void this.sendSnapshot(), 20);
      return accepted(message.header);
    }
    const logs = /^\/apis\/v1\/logs\/filestream\/[^/]+\/([^/]+)\/(list|read|download)(?:\/([^?]+))?(?:\?(.*))?$/.exec(url);
    if (logs && this.instances.has(decodeURIComponent(logs[1]!))) {
      if (logs[2] === 'list') return { status: 200, body: JSON.stringify({ files: ['output.log'] }) };
      if (logs[2] === 'download') return { status: 200, body: this.log, type: 'application/octet-stream' };
      const query = new URLSearchParams(logs[4] ?? '');
      const offset = Number(query.get('offset') ?? '-1');
      if (offset < 0) return { status: 200, body: JSON.stringify({ data: '', offset: Buffer.byteLength(this.log) }) };
      return { status: 200, body: JSON.stringify({ data: Buffer.from(this.log).subarray(offset, offset + 32768).toString('utf8'), offset }) };
    }
    return { status: 404, body: JSON.stringify({ error: `no such path ${url}` }) };
  }
}
