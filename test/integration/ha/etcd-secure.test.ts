import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { etcdClientOptions } from '../../../src/controller/store/etcd.js';
import { serviceIdOf } from '../../../src/model/index.js';
import { freePort } from '../../support/etcd-cluster.js';
import { waitUntil } from '../../support/wait.js';
import { startHaCluster, type ControllerProcess, type HaCluster } from '../../support/ha-cluster.js';
import { startSecureEtcd, type SecureEtcd } from './fixtures/secure-etcd.js';
import { haServiceSpec } from '../../support/specs.js';
import { operationTakingEffect, summary, waitForLeader } from './steps.js';

/**
 * The `store:` options a production etcd needs: TLS with a private CA and client certificates, and a user that
 * may only touch drove's namespace. Two controller processes elect a leader, store and fail over through it.
 *
 * Which controller leads is asked whenever it matters, never assumed to last: on a loaded host a keep-alive can
 * come back later than a third of the lease TTL, and the leader then steps down and campaigns again, as it must
 * (docs/ha.md, "Choosing leaseTtlSeconds"); seen once at load 25.
 */
describe('HA controllers on an etcd requiring TLS client certificates and a password (real etcd and controllers)', () => {
  const namespace = '/drove-secure/';
  let etcd: SecureEtcd;
  let cluster: HaCluster;
  /** The controller left running once the first test killed the other one. */
  let survivor: ControllerProcess;

  beforeAll(async () => {
    etcd = await startSecureEtcd(namespace);
    cluster = await startHaCluster({
      controllers: 2,
      executors: 0,
      etcd,
      namespace,
      store: { username: etcd.username, password: etcd.password, tls: etcd.tls },
    });
  });

  afterAll(async () => {
    await cluster?.close();
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      process.stderr.write(cluster.controllers.map((p) => `--- ${p.name}\n${p.output().slice(-3000)}`).join('\n'));
    });
  });

  it('elects a leader, stores what it accepts, and fails over, all over TLS with authentication', async () => {
    const spec = haServiceSpec('HA_SECURE');
    const serviceId = serviceIdOf(spec);
    // A leader that steps down right after accepting the CREATE loses it (an accepted operation lives in the
    // leader's memory until it runs): resubmitted to the next leader then, as a client would.
    await operationTakingEffect(
      cluster,
      { type: 'CREATE', spec, instancesPerHost: 1 },
      async (current) => (await summary(current, serviceId))?.state === 'INACTIVE',
    );

    const client = new Etcd3(
      etcdClientOptions({ endpoints: etcd.endpoints, username: etcd.username, password: etcd.password, tls: etcd.tls }),
    );
    try {
      const stored = await client.namespace(namespace).get(`localservices/${serviceId}`).json();
      expect(stored).toMatchObject({ serviceId, activationState: 'INACTIVE', instancesPerHost: 1 });
    } finally {
      client.close();
    }

    const old = await waitForLeader(cluster);
    await old.kill();
    survivor = cluster.controllers.find((c) => c !== old)!;
    expect(await waitForLeader(cluster)).toBe(survivor);
    // Until it answers: it may step down and come back meanwhile, and answers nothing as a non-leader.
    await waitUntil(`${serviceId} INACTIVE on ${survivor.name}, the new leader`, async () => (await summary(survivor, serviceId))?.state === 'INACTIVE');
  });

  it('a controller with a wrong etcd password stops at startup with a clear error, and never leads', async () => {
    const config = parseYaml(readFileSync(cluster.controllers[0]!.configPath, 'utf8')) as {
      server: { port: number };
      store: { password: string };
      logLevel: string;
    };
    config.server.port = await freePort();
    config.store.password = 'not-the-password';
    // The election's moves are logged at info.
    config.logLevel = 'info';
    const path = join(cluster.dir, 'controller-wrong-password.yml');
    writeFileSync(path, toYaml(config));
    const child = spawn(cluster.drove[0]!, [...cluster.drove.slice(1), 'controller', '--config', path], {
      cwd: join(import.meta.dirname, '..', '..', '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    try {
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      expect(code).toBe(1);
      expect(output).toMatch(/drove: etcd refused this controller \(check store.username, store.password and the user's role\): .*authentication failed/);
      // It never campaigned, let alone led; the controller already there still does.
      expect(output).toMatch(/leader election: INITIALIZED -> STOPPED \(etcd refused this controller\)/);
      expect(output).not.toMatch(/CAMPAIGNING|is now the leader/);
      expect(await waitForLeader(cluster)).toBe(survivor);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
