import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, test } from 'vitest';
import { CHUNK, STREAM_FROM, recordJson, recordListBody, sendRecordList } from '../../../src/controller/api/record-list.js';
import { success, type LocalServiceInstanceInfo } from '../../../src/model/index.js';
import { instanceInfo } from '../../support/records.js';

const records = (n: number): LocalServiceInstanceInfo[] =>
  Array.from({ length: n }, (_, k) => instanceInfo({ instanceId: `SI-${k}`, state: k % 3 === 0 ? 'HEALTHY' : 'UNREADY', created: 1, updated: 2 + k }));

let app: FastifyInstance | undefined;
afterEach(async () => app?.close());

async function serve(list: () => readonly object[]): Promise<FastifyInstance> {
  app = Fastify();
  app.get('/list', async (_request, reply) => sendRecordList(reply, list()));
  await app.ready();
  return app;
}

describe('record list bodies', () => {
  test("are byte for byte what JSON.stringify gives the success envelope, for no records, one, and many", () => {
    for (const list of [[], records(1), records(3)]) expect(recordListBody(list)).toBe(JSON.stringify(success(list)));
  });

  test("a record's JSON is made once per record object; a changed record is a new object with its own JSON", () => {
    const [record] = records(1);
    const first = recordJson(record!);
    expect(recordJson(record!)).toBe(first);
    const changed = { ...record!, state: 'STOPPED' as const };
    expect(JSON.parse(recordJson(changed)).state).toBe('STOPPED');
    expect(JSON.parse(recordJson(record!)).state).toBe('HEALTHY');
  });

  test('a short list goes out as one body with its Content-Length', async () => {
    const list = records(STREAM_FROM);
    const res = await (await serve(() => list)).inject({ method: 'GET', url: '/list' });
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(res.body)));
    expect(res.body).toBe(JSON.stringify(success(list)));
  });

  test('a long list is streamed in chunks and its bytes are still the envelope of every record, in order', async () => {
    const list = records(STREAM_FROM + 2 * CHUNK + 7);
    const server = await serve(() => list);
    const address = await server.listen({ host: '127.0.0.1', port: 0 });
    const res = await fetch(`${address}/list`);
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await res.text()).toBe(JSON.stringify(success(list)));
  });
});
