import { Etcd3 } from 'etcd3';
import { startHaCluster, leaders, call } from './cluster.js';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const c = await startHaCluster({ controllers: 2, executors: 0, logLevel: 'warn' });
try {
  const t = Date.now();
  const log = (...a: unknown[]) => console.log(((Date.now() - t) / 1000).toFixed(1), ...a);
  while ((await leaders(c.controllers)).length !== 1) await sleep(200);
  log('leader', (await leaders(c.controllers))[0].name);
  await c.etcd.stop(c.etcd.members[0]);
  await c.etcd.stop(c.etcd.members[1]);
  log('quorum gone');
  for (let i = 0; i < 8; i++) { log((await Promise.all(c.controllers.map((x) => call(x.url, 'GET', '/apis/v1/ping')))).map((p) => p.status + JSON.stringify(p.body.data ?? null)).join(' ')); await sleep(1000); }
  await c.etcd.start(c.etcd.members[0]);
  await c.etcd.start(c.etcd.members[1]);
  log('quorum back');
  const cl = new Etcd3({ hosts: c.etcd.endpoints });
  for (let i = 0; i < 25; i++) {
    const kvs = await cl.namespace(c.namespace).getAll().prefix('election/').exec().catch((e) => ({ kvs: [], err: String(e) } as any));
    log((await Promise.all(c.controllers.map((x) => call(x.url, 'GET', '/apis/v1/ping')))).map((p) => p.status + JSON.stringify(p.body.data ?? null)).join(' '), kvs.kvs.map((k: any) => `${k.key.toString()}@${k.create_revision} lease ${k.lease}`).join(','), kvs.err ?? '');
    await sleep(1000);
  }
  cl.close();
} finally {
  for (const p of c.controllers) { console.log('=====', p.name); console.log(p.output().split('\n').filter((l) => l.includes('leader') || l.includes('Leader')).slice(-30).join('\n')); }
  await c.close();
}
