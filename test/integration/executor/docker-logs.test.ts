import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerRuntime } from '../../../src/executor/runtime/docker.js';
import type { LogFollower } from '../../../src/executor/runtime/runtime.js';
import { IMAGE, ensureImage } from '../../support/executor-harness.js';
import { waitUntil } from '../../support/wait.js';

/**
 * DockerRuntime.followLogs against real dockerd, with the log driver the executor gives instances (json-file,
 * non-blocking). A container attached after its start could lose its first line (in 1 start of 80 on a loaded
 * 2-core VM the line reached neither the attach nor Docker's log store as read then); a running container's copy
 * joins the store's part and the attach's without a gap or a repeat.
 */
const docker = new Docker();
const runtime = new DockerRuntime();
const LABEL = 'drove-ts.test.docker-logs';
const LOG_CONFIG = { Type: 'json-file', Config: { mode: 'non-blocking', 'max-buffer-size': '1m', 'max-size': '10m' } };

async function create(cmd?: string[]): Promise<Docker.Container> {
  return docker.createContainer({ Image: IMAGE, ...(cmd ? { Cmd: cmd } : {}), Labels: { [LABEL]: '1' }, HostConfig: { LogConfig: LOG_CONFIG } });
}

beforeAll(() => ensureImage());
afterAll(async () => {
  for (const c of await docker.listContainers({ all: true, filters: { label: [LABEL] } })) await docker.getContainer(c.Id).remove({ force: true });
});

describe('following a container\'s output', () => {
  it('has the first line of every container followed before its start (20 starts)', async () => {
    for (let run = 0; run < 20; run++) {
      const container = await create();
      let text = '';
      const follower = await runtime.followLogs(container.id, 'beforeStart', (_stream, chunk) => (text += chunk.toString()));
      try {
        await container.start();
        await waitUntil(`run ${run}: the first line`, async () => text.includes('starting httpd'), { timeoutMs: 10_000 });
      } finally {
        follower.close();
        await container.remove({ force: true });
      }
    }
  });

  it('joins what a running container wrote before and what it writes on without a gap or a repeat', async () => {
    // 200 lines a second, some on stderr: the attach lands in the middle of them.
    const script = 'i=0; while [ $i -lt 100000 ]; do echo "out-$i"; [ $((i % 7)) -eq 0 ] && echo "err-$i" >&2; i=$((i+1)); sleep 0.005; done';
    const container = await create(['sh', '-c', script]);
    await container.start();
    const lines: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
    let follower: LogFollower | undefined;
    try {
      await waitUntil('some lines written', async () => (await container.logs({ stdout: true, follow: false })).includes('out-100'), { timeoutMs: 10_000 });
      follower = await runtime.followLogs(container.id, 0, (stream, chunk) => (lines[stream] += chunk.toString()));
      // The store's part comes a second after the attach; then lines go on arriving live.
      const count = () => lines.stdout.split('\n').length;
      // Docker's `tail` counts the lines of both streams before it filters by stream: the last line may be an
      // err-N, and a stdout-only tail of 1 is then empty. The last out-N among the final 20 lines is the one.
      const recent = (await container.logs({ stdout: true, follow: false, tail: 20 })).toString();
      const atStart = Math.max(...[...recent.matchAll(/out-(\d+)/g)].map((m) => Number(m[1])));
      expect(Number.isFinite(atStart)).toBe(true);
      await waitUntil('lines past the attach', async () => count() > atStart + 300, { timeoutMs: 20_000 });
    } finally {
      follower?.close();
      await container.remove({ force: true });
    }
    const out = lines.stdout.split('\n').filter(Boolean);
    const err = lines.stderr.split('\n').filter(Boolean);
    expect(out.slice(0, 3)).toEqual(['out-0', 'out-1', 'out-2']);
    const gaps = (got: string[], prefix: string, step: number) =>
      got.flatMap((line, i) => (line === `${prefix}-${i * step}` ? [] : [`#${i}: ${line}, expected ${prefix}-${i * step}`]));
    expect(gaps(out, 'out', 1).slice(0, 5)).toEqual([]);
    expect(gaps(err, 'err', 7).slice(0, 5)).toEqual([]);
  });
});
