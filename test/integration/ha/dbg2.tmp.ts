import { Etcd3 } from 'etcd3';
import { startEtcdCluster } from '../../helpers/etcd-cluster.js';
const c = await startEtcdCluster(3);
const cl = new Etcd3({ hosts: c.endpoints, dialTimeout: 3000, defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 1500 }) });
try {
  for (let i = 0; i < 5; i++) { const t = Date.now(); await cl.put('k' + i).value('v'); console.log('put', i, Date.now() - t); }
  await c.stop(c.members[0]);
  console.log('member 0 down');
  for (let i = 0; i < 12; i++) { const t = Date.now(); try { await cl.put('x' + i).value('v'); console.log('put', i, Date.now() - t); } catch (e) { console.log('err', i, Date.now() - t, String(e)); } }
  for (let i = 0; i < 6; i++) { const t = Date.now(); try { await cl.if('k0', 'Version', '>', -1).then(cl.put('y' + i).value('v')).commit(); console.log('txn', i, Date.now() - t); } catch (e) { console.log('err', i, Date.now() - t, String(e)); } }
} finally { cl.close(); await c.close(); }
