/**
 * Which share of a stretch of this process's CPU went to metrics code, from V8's sampling profiler: a figure
 * that does not move with the machine's load, unlike the difference of two rollouts' CPU times (on the shared
 * 2-core VM those swing by 30% from one run to the next, far more than the 5% in question).
 *
 * A sample counts as metrics when the code running is prom-client's or ours under src/controller/metrics/, or a
 * built-in (a clock read, a Map lookup) that one of those called. The instrumented store's wrapper calls the real
 * store, so the store's own work under it is not counted: only what measuring adds.
 */
import { Session } from 'node:inspector/promises';

export interface MetricsShare {
  busyMs: number;
  metricsMs: number;
}

/** 100 µs between samples: a rollout of half a second gives thousands. */
const SAMPLING_INTERVAL_US = 100;

export async function profileMetricsShare<T>(body: () => Promise<T>): Promise<{ result: T; share: MetricsShare }> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: SAMPLING_INTERVAL_US });
    await session.post('Profiler.start');
    const result = await body();
    const { profile } = await session.post('Profiler.stop');
    return { result, share: metricsShare(profile) };
  } finally {
    session.disconnect();
  }
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

function metricsShare(profile: { nodes: ProfileNode[]; samples?: number[]; timeDeltas?: number[] }): MetricsShare {
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const isMetrics = new Map<number, boolean>();
  const classify = (id: number): boolean => {
    const known = isMetrics.get(id);
    if (known !== undefined) return known;
    const { url } = byId.get(id)!.callFrame;
    // A frame without a url is V8's or Node's own code: it counts for whoever called it.
    const parent = parentOf.get(id);
    const answer = url === '' ? parent !== undefined && classify(parent) : isMetricsCode(url);
    isMetrics.set(id, answer);
    return answer;
  };
  let busyUs = 0;
  let metricsUs = 0;
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  samples.forEach((id, i) => {
    const name = byId.get(id)!.callFrame.functionName;
    if (name === '(idle)' || name === '(program)') return;
    const us = deltas[i] ?? 0;
    busyUs += us;
    if (classify(id)) metricsUs += us;
  });
  return { busyMs: busyUs / 1000, metricsMs: metricsUs / 1000 };
}

function isMetricsCode(url: string): boolean {
  return url.includes('/node_modules/prom-client/') || url.includes('/controller/metrics/');
}
