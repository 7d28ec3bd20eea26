import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdLeaderElector } from '../../../src/controller/leadership/etcd.js';
import { ETCD_ATTEMPT_TIMEOUT_MS, ETCD_AUTH_TIMEOUT_MS, etcdClientOptions, type EtcdStoreOptions } from '../../../src/controller/store/etcd.js';
import { startSecureEtcd, type SecureEtcd } from '../ha/fixtures/secure-etcd.js';

/**
 * Logging in to an etcd with TLS and a password when logins are slow. etcd checks the password with bcrypt at
 * every login, which on a loaded host takes seconds (src/controller/store/etcd.ts, ETCD_AUTH_TIMEOUT_MS). Here
 * etcd hashes with cost 15 instead of 10, 32 times the work: a login takes about 2 s or more whatever the load
 * (measured: 1.9-2.6 s, 5-6 s at load 17), longer than one attempt deadline (1 s) and than the 500 ms the election's
 * calls get below.
 * The login and access-check deadlines are raised to a minute for the test so that the load cannot decide it.
 */
const SLOW_LOGIN_BCRYPT_COST = 15;
const GENEROUS_MS = 60_000;

describe('etcd with TLS and a password whose logins are slow (real etcd)', () => {
  const namespace = '/drove-auth/';
  let etcd: SecureEtcd;
  const options = (password: string): EtcdStoreOptions => ({
    endpoints: etcd.endpoints,
    username: etcd.username,
    password,
    tls: etcd.tls,
    authTimeoutMs: GENEROUS_MS,
  });

  beforeAll(async () => {
    etcd = await startSecureEtcd(namespace, { bcryptCost: SLOW_LOGIN_BCRYPT_COST });
  });
  afterAll(async () => {
    await etcd?.close();
  });

  it('a login gets its own deadline, longer than a request attempt\'s', () => {
    const client = etcdClientOptions({ endpoints: ['https://127.0.0.1:1'], username: 'u', password: 'p' });
    const login = client.auth!.callOptions as () => { deadline: number };
    const request = client.defaultCallOptions as (context: { isStream: boolean }) => { deadline: number };
    const now = Date.now();
    expect(login().deadline - now).toBeGreaterThanOrEqual(ETCD_AUTH_TIMEOUT_MS - 50);
    expect(request({ isStream: false }).deadline - now).toBeLessThanOrEqual(ETCD_ATTEMPT_TIMEOUT_MS + 50);
  });

  it('a login slower than one attempt deadline gets through, and requests are answered after it', { timeout: 120_000 }, async () => {
    const client = new Etcd3(etcdClientOptions(options(etcd.password)));
    try {
      const ns = client.namespace(namespace);
      await ns.put('probe').value('1');
      expect(await ns.get('probe').string()).toBe('1');
    } finally {
      client.close();
    }
  });

  it('a wrong password is a refusal at start even when the login is slower than a call of the election', { timeout: 120_000 }, async () => {
    const client = new Etcd3(etcdClientOptions(options('not-the-password')));
    const warnings: string[] = [];
    const elector = new EtcdLeaderElector({
      client,
      namespace,
      address: '127.0.0.1:1',
      // Every call of the campaign gives up after 500 ms: the access check must wait for the login anyway.
      timings: { callTimeoutMs: 500, accessCheckTimeoutMs: GENEROUS_MS },
      logger: { info: () => undefined, warn: (line) => warnings.push(line) },
    });
    try {
      await expect(elector.start({ onAcquired: async () => undefined, onLost: async () => undefined })).rejects.toThrow(
        /etcd refused this controller .*authentication failed/,
      );
      expect(warnings).toEqual([]);
      expect(elector.state()).toBe('STOPPED');
    } finally {
      await elector.stop();
      client.close();
    }
  });
});
