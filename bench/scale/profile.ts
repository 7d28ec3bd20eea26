import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

/**
 * The top self-time functions of V8 .cpuprofile files (what node --cpu-prof writes), for the bench:scale report:
 * the profiles of one process, or of the hollow fleet's workers over the same phase, summed.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  /** `name (file:line)`, the file relative to the repository where it is in it. */
  fn: string;
  selfMs: number;
  /** Share of the busy (non-idle) sampled time. */
  percent: number;
}

export function topSelfTime(paths: readonly string[], root: string, count = 15): SelfTime[] {
  const byFunction = new Map<string, number>();
  for (const path of paths) addSelfTime(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, root, byFunction);
  const total = [...byFunction.values()].reduce((a, b) => a + b, 0);
  return [...byFunction]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([fn, us]) => ({ fn, selfMs: us / 1000, percent: total > 0 ? (100 * us) / total : 0 }));
}

/** Adds one profile's self time (microseconds) per function to `byFunction`. */
function addSelfTime(profile: CpuProfile, root: string, byFunction: Map<string, number>): void {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  // Self time per node from the samples and their time deltas (microseconds); hitCount x mean interval without them.
  const selfUs = new Map<number, number>();
  if (profile.samples && profile.timeDeltas && profile.samples.length === profile.timeDeltas.length) {
    // timeDeltas[i] is the time before sample i, so the time of sample i is timeDeltas[i + 1].
    for (let i = 0; i < profile.samples.length; i++) {
      const id = profile.samples[i]!;
      selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
    }
  } else {
    const hits = profile.nodes.reduce((sum, n) => sum + (n.hitCount ?? 0), 0);
    const interval = hits > 0 ? (profile.endTime - profile.startTime) / hits : 0;
    for (const n of profile.nodes) selfUs.set(n.id, (n.hitCount ?? 0) * interval);
  }
  for (const [id, us] of selfUs) {
    const frame = byNode.get(id)?.callFrame;
    // Idle is the event loop waiting: what is left is where the process spent its CPU.
    if (!frame || frame.functionName === '(idle)') continue;
    const file = frame.url.startsWith('file://') ? relative(root, new URL(frame.url).pathname) : frame.url;
    const fn = `${frame.functionName || '(anonymous)'}${file ? ` (${file}:${frame.lineNumber + 1})` : ''}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  }
}
