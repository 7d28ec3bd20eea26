import { describe, expect, it } from 'vitest';
import { openBatch, runBatch, type Job } from '../../../src/controller/engine/jobs/batch.js';

/** A job that ends when its `finish` is called, recording how many ran at once. */
function gate(state: { running: number; most: number }) {
  let finish!: (ok: boolean) => void;
  const job: Job = async () => {
    state.running++;
    state.most = Math.max(state.most, state.running);
    try {
      return await new Promise<boolean>((resolve) => (finish = resolve));
    } finally {
      state.running--;
    }
  };
  return { job, finish: (ok = true) => finish(ok) };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('job batches', () => {
  it('runs at most `parallelism` jobs at once, results in order; a throwing job counts as failed', async () => {
    const state = { running: 0, most: 0 };
    const gates = Array.from({ length: 5 }, () => gate(state));
    const jobs: Job[] = [...gates.map((g) => g.job), async () => { throw new Error('boom'); }];
    const done = runBatch(jobs, 2, new AbortController().signal);
    for (const [i, g] of gates.entries()) {
      await tick();
      g.finish(i % 2 === 0);
    }
    expect(await done).toEqual([true, false, true, false, true, false]);
    expect(state.most).toBe(2);
  });

  it('takes jobs added while it runs, in a free slot at once, and refuses them once done', async () => {
    const state = { running: 0, most: 0 };
    const first = gate(state);
    const batch = openBatch([first.job], 3, new AbortController().signal);
    await tick();
    const added = gate(state);
    expect(batch.add(added.job)).toBe(true);
    await tick();
    // Running beside the first, not after it.
    expect(state.running).toBe(2);
    added.finish(true);
    await tick();
    first.finish(false);
    expect(await batch.done).toEqual([false, true]);
    expect(batch.add(async () => true)).toBe(false);
  });

  it('an empty batch is done at once; once aborted, jobs not started are skipped as failed', async () => {
    expect(await openBatch([], 4, new AbortController().signal).done).toEqual([]);
    const abort = new AbortController();
    abort.abort();
    let ran = 0;
    const jobs: Job[] = [async () => (ran++, true), async () => (ran++, true)];
    expect(await runBatch(jobs, 1, abort.signal)).toEqual([false, false]);
    expect(ran).toBe(0);
  });
});
