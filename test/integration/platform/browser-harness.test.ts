import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startDev, type DevCluster } from '../../support/dev-cluster.js';
import { freePort } from '../../support/etcd-cluster.js';

/**
 * The browser tests' `drove dev` (test/support/browser.ts) on a shared machine: a port found free can be taken by
 * another process before drove dev binds it. The harness then starts it again on other ports.
 */
describe('startDev', () => {
  let taken: Server | undefined;
  let dev: DevCluster | undefined;
  afterAll(async () => {
    await dev?.stop();
    taken?.close();
  });

  it('starts drove dev on other ports when one it picked was taken meanwhile', async () => {
    const { server, port } = await new Promise<{ server: Server; port: number }>((resolve, reject) => {
      const occupying = createServer();
      occupying.on('error', reject);
      occupying.listen(0, '127.0.0.1', () => resolve({ server: occupying, port: (occupying.address() as { port: number }).port }));
    });
    taken = server;
    const picked: number[] = [];
    // The first pick is the port another process holds, as if it had bound it right after the check.
    const pickPort = async () => {
      const next = picked.length === 0 ? port : await freePort();
      picked.push(next);
      return next;
    };
    dev = await startDev({ pickPort });
    expect(picked).toHaveLength(4);
    expect(dev.url).toBe(`http://127.0.0.1:${picked[2]}`);
    expect(dev.output()).toContain(`port ${port} on 127.0.0.1 is already in use`);
    const ping = await fetch(`${dev.url}/apis/v1/ping`, { headers: { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` } });
    expect(ping.status).toBe(200);
  });
});
