import { readFileSync, readdirSync } from 'node:fs';

/**
 * Killing a `docker exec` that outlived its timeout. The Engine API has no call for it (an exec can only be
 * inspected), so the executor kills the process itself: the exec's inspect gives its PID as the host sees it,
 * and the executor, which runs on the host next to dockerd, signals it and everything it started.
 *
 * Why not wrap the command in `timeout(1)`: the image may not have it (distroless images, shellDisabled
 * commands), and a wrapper changes what runs. The price of this way: the executor must share the host's PID
 * namespace (it runs on the host, or in a container with `--pid=host`). Where it does not, nothing is killed (the
 * caller says so) but the check still fails at its timeout and monitoring goes on.
 */

export interface KillOutcome {
  killed: number[];
  /** Why nothing could be killed, when nothing was. */
  notKilled?: string;
}

/** Bound on freeze passes: each one catches the children forked while the previous one was stopping the tree. */
const MAX_FREEZE_PASSES = 5;

/** ppid of every process this executor can see. */
function parentsByPid(proc: string): Map<number, number> {
  const parents = new Map<number, number>();
  for (const entry of readdirSync(proc)) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`${proc}/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // Exited while we looked.
    }
  }
  return parents;
}

function treeOf(root: number, proc: string): number[] {
  const parents = parentsByPid(proc);
  const tree = [root];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, ppid] of parents) if (ppid === tree[i] && !tree.includes(pid)) tree.push(pid);
  }
  return tree;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/**
 * SIGKILLs `pid` and its descendants, after checking that `pid` runs in the container (its cgroup path names the
 * container id), so that a PID the executor cannot see as the host does, or one reused since, is never signalled.
 * The tree is first frozen with SIGSTOP, so a shell forking meanwhile cannot leave an orphan behind.
 */
export function killExecProcess(pid: number, containerId: string, proc = '/proc'): KillOutcome {
  if (!Number.isInteger(pid) || pid <= 0) return { killed: [], notKilled: 'the command has no process (it never started)' };
  let cgroup: string;
  try {
    cgroup = readFileSync(`${proc}/${pid}/cgroup`, 'utf8');
  } catch {
    return { killed: [], notKilled: `process ${pid} is not visible to the executor (run it in the host PID namespace)` };
  }
  if (!cgroup.includes(containerId)) {
    return { killed: [], notKilled: `process ${pid} as the executor sees it is not in container ${containerId.slice(0, 12)}` };
  }
  let tree = [pid];
  for (let pass = 0; pass < MAX_FREEZE_PASSES; pass++) {
    for (const p of tree) signal(p, 'SIGSTOP');
    const found = treeOf(pid, proc);
    const grew = found.some((p) => !tree.includes(p));
    tree = [...new Set([...tree, ...found])];
    if (!grew) break;
  }
  for (const p of tree) signal(p, 'SIGKILL');
  return { killed: tree };
}
