import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DEV_ADMIN, startDev, type DevCluster } from '../../support/dev-cluster.js';
import { ensureTestImage } from '../../support/images.js';
import { haServiceSpec } from '../../support/specs.js';
import { waitUntil } from '../../support/wait.js';
import { buildBinary, exited, spawnCli } from './harness.js';

/**
 * `drove lsinstances tail` across log rotation: the built binary against `drove dev` on free ports (a real
 * controller and executor, the local Docker daemon) and an instance that writes a numbered line every 20 ms into
 * an output.log rotated at 2 KiB. Before the fix the tail stopped printing at the first rotation.
 */

let dev: DevCluster | undefined;
let url: string;
const admin = ['-u', 'admin', '-p', 'admin'];
const auth = { authorization: DEV_ADMIN };

const SPEC = {
  ...haServiceSpec('TAIL_ROTATION'),
  // httpd for the checks, and a line of about 64 bytes every 20 ms: a 2 KiB file rotates about every second.
  args: [
    '/bin/sh',
    '-c',
    'trap "exit 0" TERM; /bin/httpd -f -p 8000 -h /www & i=0; while true; do echo "line $i ................................................."; i=$((i+1)); sleep 0.02; done',
  ],
  logging: { type: 'LOCAL' as const, maxSize: '2k', maxFiles: 3, compress: false },
};
const SID = `${SPEC.name}-${SPEC.version}`;

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return ((await response.json()) as { data: T }).data;
}

beforeAll(async () => {
  ensureTestImage();
  await buildBinary();
  dev = await startDev({ args: ['--log-level', 'warn'] });
  url = dev.url;
}, 180_000);

afterAll(async () => {
  if (url) {
    await api('POST', '/apis/v1/localservices/operations', { type: 'DEACTIVATE', serviceId: SID }).catch(() => undefined);
    await waitUntil('no instance left', async () => (await api<unknown[]>('GET', `/apis/v1/localservices/${SID}/instances`)).length === 0).catch(() => undefined);
  }
  // drove dev leaves containers running for its next start: stop() removes this test's.
  await dev?.stop();
}, 120_000);

describe('drove lsinstances tail', () => {
  test('keeps following output.log across rotations', async () => {
    await api('POST', '/apis/v1/localservices/operations', { type: 'CREATE', spec: SPEC, instancesPerHost: 1 });
    await api('POST', '/apis/v1/localservices/operations', { type: 'ACTIVATE', serviceId: SID });
    const instanceId = await waitUntil('a healthy instance', async () => {
      const list = await api<Array<{ instanceId: string; state: string }>>('GET', `/apis/v1/localservices/${SID}/instances`);
      return list.find((i) => i.state === 'HEALTHY')?.instanceId;
    });
    const tail = spawnCli(['-e', url, ...admin, 'lsinstances', 'tail', SID, instanceId], {});
    const numbers = () => [...tail.output().matchAll(/^line (\d+) /gm)].map((m) => Number(m[1]));
    await waitUntil('the tail prints lines', () => numbers().length > 0);
    const first = numbers()[0]!;
    // Three rotations later (a file holds about 32 lines), the tail must still be printing fresh lines.
    await waitUntil('lines written three rotations later', () => numbers().some((n) => n > first + 100), {
      detail: () => tail.output().slice(-2000),
    });
    tail.child.kill('SIGINT');
    expect(await exited(tail.child)).toBe(0);
    const files = await fetch(`${url}/apis/v1/logfiles/localservices/${SID}/${instanceId}/list`, { headers: auth }).then((r) => r.json() as Promise<{ files: string[] }>);
    expect(files.files.some((f) => /^output\.log-\d+$/.test(f))).toBe(true);
    expect(tail.output()).toContain('output.log was rotated; following the new file');
    // Every line from the first printed to the last, in order: the rest of each rotated file is read before the
    // new one. Docker's json-file driver, rotating its own copy at the same size, repeats a line in what it streams
    // to the executor now and then, and the executor's file holds that repeat too; so equal neighbours are allowed.
    const seen = numbers();
    expect(seen.filter((n, i) => i > 0 && n < seen[i - 1]!), 'never backwards').toEqual([]);
    const missing = Array.from({ length: seen.at(-1)! - first + 1 }, (_, i) => first + i).filter((n) => !seen.includes(n));
    expect(missing, 'no line skipped').toEqual([]);
  }, 180_000);
});
