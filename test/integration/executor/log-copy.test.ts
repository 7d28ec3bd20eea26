import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { CONTROLLER_SECRET, containerOf, itSpec, startInstance, stopInstance, useTestExecutor } from '../../support/executor-harness.js';
import { waitUntil } from '../../support/wait.js';

/**
 * The executor's copy of an instance's output (output.log and its rotations, what the log API, `drove lsinstances
 * tail` and the console read) holds every line the container wrote, also while Docker's own json-file log
 * rotates under it: the LoggingSpec's maxSize is Docker's max-size too, so a service logging in bursts rotates
 * Docker's files many times a second. Following `docker logs` lost lines there (9 of 30 bursts' last lines on the
 * 2-core VM); the executor now takes the live output through an attach.
 */
const fixture = useTestExecutor();

const BURSTS = 30;
const LINES = 120;

async function api(path: string): Promise<string> {
  const res = await request(`${fixture.executor.url}${path}`, { headers: { 'Cluster-Authorization': CONTROLLER_SECRET } });
  const body = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${path}: HTTP ${res.statusCode} ${body}`);
  return body;
}

describe('the executor copy of instance output', () => {
  it('keeps every line of bursts that rotate Docker\'s json-file log many times over', async () => {
    const spec = itSpec({ loggingSpec: { type: 'LOCAL', maxSize: '4k', maxFiles: 100, compress: false } });
    await startInstance(fixture.executor, spec);
    await fixture.leader.waitForState(spec.instanceId, 'HEALTHY');
    const container = (await containerOf(spec.instanceId))!;
    for (let b = 0; b < BURSTS; b++) {
      // 120 lines of 60 bytes at once: 7 KB of output, ~14 KB of Docker's JSON, three of its rotations.
      const script = `i=0; while [ $i -lt ${LINES} ]; do echo "burst-${b}-line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; i=$((i+1)); done > /proc/1/fd/1; echo "end-of-burst-${b}" > /proc/1/fd/1`;
      const exec = await container.exec({ Cmd: ['sh', '-c', script] });
      await exec.start({});
      await waitUntil('the burst to be written', async () => (await exec.inspect()).Running === false, { timeoutMs: 10_000 });
    }
    const base = `/apis/v1/logs/filestream/${spec.serviceId}/${spec.instanceId}`;
    const copied = async () => {
      // Oldest first (output.log-<n> by n, output.log last): a line can be split across a rotation.
      const index = (file: string) => (file === 'output.log' ? Infinity : Number(file.slice('output.log-'.length)));
      const files = (JSON.parse(await api(`${base}/list`)) as { files: string[] }).files.sort((a, b) => index(a) - index(b));
      let text = '';
      for (const file of files) text += (JSON.parse(await api(`${base}/read/${file}?length=1000000`)) as { data: string }).data;
      return text.split('\n').filter((line) => line.startsWith('burst-') || line.startsWith('end-of-burst-'));
    };
    // The copy is written as the output arrives; the last burst's end marks it complete.
    await waitUntil('the last burst in the copy', async () => (await copied()).includes(`end-of-burst-${BURSTS - 1}`), { timeoutMs: 20_000 });
    const lines = new Set(await copied());
    const missing: string[] = [];
    for (let b = 0; b < BURSTS; b++) {
      for (let i = 0; i < LINES; i++) if (!lines.has(`burst-${b}-line-${i}-${'x'.repeat(42)}`)) missing.push(`burst ${b} line ${i}`);
      if (!lines.has(`end-of-burst-${b}`)) missing.push(`end of burst ${b}`);
    }
    expect(missing.length, `${missing.length} lines missing, the first: ${missing.slice(0, 5).join(', ')}`).toBe(0);
    await stopInstance(fixture.executor, spec.instanceId);
    await fixture.leader.waitForState(spec.instanceId, 'STOPPED');
  });
});
