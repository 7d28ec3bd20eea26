import { newInstanceId } from '../../src/model/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { request, Agent } from 'undici';
import { startControllerServer, type RunningController } from '../../src/controller/server.js';
import { HttpExecutorMessenger } from '../../src/controller/cluster/http-messenger.js';
import { buildControllerApp } from '../../src/controller/api/app.js';
import { parseExecutorConfig } from '../../src/executor/config.js';
import { ControllerClient } from '../../src/executor/controller-client.js';
import { startExecutor, type RunningExecutor } from '../../src/executor/server.js';
import { systemClock, type ExecutorAddress, type ExecutorMessage } from '../../src/model/index.js';
import { loadServerTls, peerTlsOptions, TlsConfigError } from '../../src/model/tls.js';
import { executorConfigInput } from '../support/executor-harness.js';
import { ADMIN, CLUSTER_SECRET, CONTROLLER_SECRET, GUEST, testConfig } from '../support/controller-config.js';
import { FakeCore } from '../support/fake-core.js';
import { DroveApi, healthy } from '../support/drove-api.js';
import { ensureTestImage } from '../support/images.js';
import { fastSpec } from '../support/specs.js';
import { makeCa, makeLeaf, pem, type CertFiles, type TestCa } from '../support/tls.js';
import { waitUntil } from '../support/wait.js';

/**
 * TLS between controller and executor (issue 9, item 5): both listeners serve HTTPS from `server.tls`; each client
 * verifies the peer against `clusterTls.caFile`. A peer whose certificate another CA signed, or that names another
 * host, is refused before any HTTP request leaves, so it never sees a cluster secret.
 */

const NAMES = ['localhost', '127.0.0.1'];

let dir: string;
let clusterCa: TestCa;
let controllerCert: CertFiles;
let executorCert: CertFiles;
/** Right names, wrong CA: an impostor with its own CA. */
let otherCaCert: CertFiles;
/** Right CA, wrong names: another node's (valid) certificate presented at this address. */
let otherHostCert: CertFiles;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'drove-tls-'));
  clusterCa = makeCa(dir, 'cluster-ca');
  const rogueCa = makeCa(dir, 'rogue-ca');
  controllerCert = makeLeaf(clusterCa, 'controller', NAMES);
  executorCert = makeLeaf(clusterCa, 'executor', NAMES);
  otherCaCert = makeLeaf(rogueCa, 'impostor', NAMES);
  otherHostCert = makeLeaf(clusterCa, 'elsewhere', ['other.example']);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture() {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) }));
  return { lines, logger };
}

describe('a controller and an executor over TLS', () => {
  let controller: RunningController | undefined;
  let executor: RunningExecutor | undefined;
  let api: DroveApi | undefined;

  afterAll(async () => {
    await executor?.stop();
    await controller?.close();
    await api?.close();
  });

  it('serve HTTPS, verify each other against the cluster CA, and run an instance to HEALTHY', async () => {
    ensureTestImage();
    const caFile = clusterCa.certFile;
    controller = await startControllerServer(
      testConfig({
        server: { host: '127.0.0.1', port: 0, hostname: 'localhost', tls: controllerCert },
        clusterTls: { caFile },
        store: { type: 'sqlite', path: join(dir, 'controller.db') },
        options: { reconcileInterval: '1 second' },
        logLevel: 'silent',
      }),
    );
    expect(controller.url).toMatch(/^https:\/\//);
    const controllerUrl = `https://localhost:${controller.port}`;
    const config = parseExecutorConfig(
      executorConfigInput(controllerUrl, {
        server: { host: '127.0.0.1', port: 0, hostname: 'localhost', tls: executorCert },
        clusterTls: { caFile },
        clusterAuth: {
          secrets: [
            { nodeType: 'EXECUTOR', secret: CLUSTER_SECRET },
            { nodeType: 'CONTROLLER', secret: CONTROLLER_SECRET },
          ],
        },
      }),
    );
    executor = await startExecutor(config, { logger: pino({ level: 'silent' }) });
    expect(executor.url).toMatch(/^https:\/\//);

    api = new DroveApi(controllerUrl, { username: 'admin', password: 'admin' }, { ca: readFileSync(caFile) });
    const listed = await waitUntil('the executor to register over HTTPS', async () =>
      (await api!.get<Array<{ executorId: string; transportType: string }>>('/apis/v1/cluster/executors')).find(
        (e) => e.executorId === executor!.executorId,
      ),
    );
    expect(listed.transportType).toBe('HTTPS');

    const serviceId = await api.accepted({ type: 'CREATE', spec: fastSpec('node-agent.json', { name: 'TLS_AGENT' }), instancesPerHost: 1 });
    await api.accepted({ type: 'ACTIVATE', serviceId });
    // START goes controller -> executor over HTTPS; the reports come back executor -> controller over HTTPS.
    const [instance] = healthy(await api.waitForInstances(serviceId, 'one HEALTHY instance', (list) => healthy(list).length === 1));
    // The log proxy is the third client: it reaches the executor's HTTPS log API too.
    const files = await request(`${controllerUrl}/apis/v1/logfiles/localservices/${serviceId}/${instance!.instanceId}/list`, {
      headers: GUEST,
      dispatcher: new Agent({ connect: { ca: readFileSync(caFile) } }),
    });
    expect(files.statusCode).toBe(200);
    expect(await files.body.json()).toEqual({ files: expect.arrayContaining(['output.log']) });
    await api.accepted({ type: 'DEACTIVATE', serviceId });
    await api.waitForService(serviceId, 'INACTIVE');
  });
});

/** An HTTPS server that records every HTTP request and counts TCP connections, so "refused" is shown, not assumed. */
class RoguePeer {
  readonly requests: Array<{ url: string; secret: string | undefined }> = [];
  connections = 0;
  private server: HttpsServer | undefined;
  port = 0;

  async start(cert: CertFiles): Promise<this> {
    this.server = createHttpsServer(pem(cert), (req, res) => {
      const secret = req.headers['cluster-authorization'];
      this.requests.push({ url: req.url ?? '', secret: typeof secret === 'string' ? secret : undefined });
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url === '/apis/v1/ping') return res.end('{"status":"SUCCESS","data":"pong","message":"success"}');
      if (req.url?.endsWith('/list')) return res.end('{"files":["output.log"]}');
      res.end('{"status":"ACCEPTED"}');
    });
    this.server.on('connection', () => this.connections++);
    // A client that aborts the handshake shows up here; nothing to answer.
    this.server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

const refusals = [
  { wrong: 'signed by another CA', cert: () => otherCaCert, code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' },
  { wrong: 'issued for another host', cert: () => otherHostCert, code: 'ERR_TLS_CERT_ALTNAME_INVALID' },
];

const message = (address: ExecutorAddress): ExecutorMessage => ({
  type: 'BLACKLIST',
  header: { id: 'm-1', senderType: 'CONTROLLER', direction: 'REQUEST', messageTime: 1 },
  address,
});

describe.each(refusals)('a peer whose certificate is $wrong', ({ cert, code }) => {
  let rogue: RoguePeer;
  beforeAll(async () => {
    rogue = await new RoguePeer().start(cert());
  });
  afterAll(() => rogue.stop());

  it('is refused by the executor looking for its leader, which logs why and sends it no secret', async () => {
    const { lines, logger } = capture();
    const client = new ControllerClient({
      endpoints: [`https://localhost:${rogue.port}`],
      secret: CLUSTER_SECRET,
      nodeId: 'ex1',
      clock: systemClock,
      logger,
      tls: peerTlsOptions({ caFile: clusterCa.certFile, insecure: false }),
    });
    const before = rogue.connections;
    expect(await client.findLeader()).toBeUndefined();
    await client.close();
    expect(rogue.connections).toBeGreaterThan(before);
    expect(rogue.requests).toEqual([]);
    expect(lines.join('')).toContain(`TLS certificate refused (${code}`);
    expect(lines.join('')).toContain('clusterTls');
  });

  it('is refused by the controller messaging it as an executor, with the reason in the FAILED answer', async () => {
    const messenger = new HttpExecutorMessenger({
      controllerHostname: 'ctrl',
      clusterSecret: CONTROLLER_SECRET,
      tls: peerTlsOptions({ caFile: clusterCa.certFile, insecure: false }),
    });
    const before = rogue.connections;
    const answer = await messenger.send(
      { executorId: 'E1', hostname: 'localhost', port: rogue.port, transportType: 'HTTPS' },
      message({ executorId: 'E1', hostname: 'localhost', port: rogue.port, transportType: 'HTTPS' }),
    );
    await messenger.close();
    expect(answer.status).toBe('FAILED');
    expect(answer.message).toContain(`TLS certificate refused (${code}`);
    expect(rogue.connections).toBeGreaterThan(before);
    expect(rogue.requests).toEqual([]);
  });

  it('is refused by the controller proxying log reads to it: a 502 naming the check, no secret sent', async () => {
    const core = new FakeCore();
    core.logTarget = { executorId: 'E1', hostname: 'localhost', port: rogue.port, transportType: 'HTTPS' };
    const app = buildControllerApp({ core, config: testConfig({ clusterTls: { caFile: clusterCa.certFile } }) });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const before = rogue.connections;
      const res = await request(`${address}/apis/v1/logfiles/localservices/S-1/${newInstanceId()}/list`, { headers: ADMIN });
      const body = (await res.body.json()) as { error: string };
      expect(res.statusCode).toBe(502);
      expect(body.error).toContain(`TLS certificate refused (${code}`);
      expect(rogue.connections).toBeGreaterThan(before);
      expect(rogue.requests).toEqual([]);
    } finally {
      await app.close();
    }
  });
});

describe('clusterTls options', () => {
  it('verifies against the system roots when no caFile is given: a cluster-CA certificate is then refused', async () => {
    const rogue = await new RoguePeer().start(executorCert);
    try {
      const messenger = new HttpExecutorMessenger({ controllerHostname: 'ctrl', clusterSecret: CONTROLLER_SECRET, tls: peerTlsOptions(undefined) });
      const address: ExecutorAddress = { executorId: 'E1', hostname: 'localhost', port: rogue.port, transportType: 'HTTPS' };
      const answer = await messenger.send(address, message(address));
      await messenger.close();
      expect(answer.message).toContain('TLS certificate refused (UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      expect(rogue.requests).toEqual([]);
    } finally {
      await rogue.stop();
    }
  });

  it('insecure: true is the explicit opt-out: any certificate is accepted, and that peer then gets the secret', async () => {
    const rogue = await new RoguePeer().start(otherCaCert);
    try {
      const messenger = new HttpExecutorMessenger({
        controllerHostname: 'ctrl',
        clusterSecret: CONTROLLER_SECRET,
        tls: peerTlsOptions({ caFile: clusterCa.certFile, insecure: true }),
      });
      const address: ExecutorAddress = { executorId: 'E1', hostname: 'localhost', port: rogue.port, transportType: 'HTTPS' };
      const answer = await messenger.send(address, message(address));
      await messenger.close();
      expect(answer.status).toBe('ACCEPTED');
      expect(rogue.requests).toEqual([{ url: '/apis/v1/messages', secret: CONTROLLER_SECRET }]);
    } finally {
      await rogue.stop();
    }
  });

  it('refuses at start-up a key that is not the certificate\'s, and a CA file without certificates, naming the file', () => {
    expect(() => loadServerTls({ certFile: controllerCert.certFile, keyFile: executorCert.keyFile })).toThrow(TlsConfigError);
    expect(() => loadServerTls({ certFile: controllerCert.certFile, keyFile: executorCert.keyFile })).toThrow(
      `server.tls.keyFile ${executorCert.keyFile} is not the key of the certificate in ${controllerCert.certFile}`,
    );
    expect(() => peerTlsOptions({ caFile: clusterCa.keyFile, insecure: false })).toThrow(
      `clusterTls.caFile ${clusterCa.keyFile} holds no PEM certificate`,
    );
    expect(() => loadServerTls({ certFile: join(dir, 'missing.crt'), keyFile: controllerCert.keyFile })).toThrow(
      `Cannot read server.tls.certFile ${join(dir, 'missing.crt')}`,
    );
  });

  it('a controller whose server.tls files are wrong does not start, and says which file', async () => {
    const config = testConfig({
      server: { host: '127.0.0.1', port: 0, tls: { certFile: controllerCert.certFile, keyFile: executorCert.keyFile } },
      store: { type: 'sqlite', path: join(dir, 'never.db') },
      logLevel: 'silent',
    });
    await expect(startControllerServer(config)).rejects.toThrow(/server\.tls\.keyFile .* is not the key of the certificate/);
  });
});
