import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, test } from 'vitest';
import { MAX_BLOCK, recordListBody, sendRecordList } from '../../../src/controller/api/record-list.js';
import { newInstanceId, success, type LocalServiceInstanceInfo } from '../../../src/model/index.js';
import { instanceInfo } from '../../support/records.js';

const record = (k: number, instanceId = newInstanceId()): LocalServiceInstanceInfo =>
  Object.freeze(instanceInfo({ instanceId, state: k % 3 === 0 ? 'HEALTHY' : 'UNREADY', created: 1, updated: 2 + k }));
const records = (n: number) => Array.from({ length: n }, (_, k) => record(k));

/** A small deterministic generator, so a failure names its seed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

let app: FastifyInstance | undefined;
afterEach(async () => app?.close());

describe('record list bodies', () => {
  test('are byte for byte what JSON.stringify gives the success envelope: no records, one, many', () => {
    for (const list of [[], records(1), records(3), records(5 * MAX_BLOCK)]) {
      expect(recordListBody(list).toString('utf8')).toBe(JSON.stringify(success(list)));
    }
  });

  test('stay so while records are replaced, removed and added between reads, as the working set does', () => {
    for (const seed of [1, 2, 3]) {
      const next = random(seed);
      let list = records(2_000);
      let serial = 0;
      for (let read = 0; read < 40; read++) {
        const changed = [...list];
        for (let c = 0; c < 60; c++) {
          const at = Math.floor(next() * changed.length);
          const roll = next();
          // A heartbeat or a report: a new record object for the same instance, in the same place.
          if (roll < 0.7) changed[at] = Object.freeze({ ...changed[at]!, updated: 10_000 + serial++ });
          else if (roll < 0.85) changed.splice(at, 1);
          else changed.push(record(serial++));
        }
        list = changed;
        expect(recordListBody(list).toString('utf8'), `seed ${seed}, read ${read}`).toBe(JSON.stringify(success(list)));
      }
    }
  });

  test('ids with no block boundary (no id ends in 0) still make the exact body, in blocks of at most MAX_BLOCK', () => {
    const list = Array.from({ length: 3 * MAX_BLOCK + 5 }, (_, k) => record(k, `SI-${k}x`));
    expect(recordListBody(list).toString('utf8')).toBe(JSON.stringify(success(list)));
    list[MAX_BLOCK + 1] = Object.freeze({ ...list[MAX_BLOCK + 1]!, state: 'STOPPED' as const });
    expect(recordListBody(list).toString('utf8')).toBe(JSON.stringify(success(list)));
  });

  test('go out with their Content-Length as JSON', async () => {
    const list = records(3_000);
    app = Fastify();
    app.get('/list', async (_request, reply) => sendRecordList(reply, list));
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const res = await fetch(`${address}/list`);
    const body = await res.text();
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('transfer-encoding')).toBeNull();
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
    expect(body).toBe(JSON.stringify(success(list)));
  });
});
