import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { killExecProcess } from '../../../src/executor/runtime/exec-kill.js';

/**
 * The guard of the exec kill: a PID is signalled only when it runs in the container the exec belongs to. A /proc
 * written by the test stands in for the host's; PIDs far above pid_max make sure no real process could be hit.
 */

const CONTAINER = 'a'.repeat(64);

function fakeProc(entries: Record<number, { cgroup: string; ppid: number }>): string {
  const proc = mkdtempSync(join(tmpdir(), 'fake-proc-'));
  for (const [pid, { cgroup, ppid }] of Object.entries(entries)) {
    mkdirSync(join(proc, pid));
    writeFileSync(join(proc, pid, 'cgroup'), cgroup);
    writeFileSync(join(proc, pid, 'stat'), `${pid} (sh (x)) S ${ppid} 1 1 0 -1\n`);
  }
  return proc;
}

describe('killExecProcess', () => {
  it('signals nothing when the executor cannot see the PID (it does not share the host PID namespace)', () => {
    expect(killExecProcess(999_999_901, CONTAINER, fakeProc({}))).toEqual({
      killed: [],
      notKilled: 'process 999999901 is not visible to the executor (run it in the host PID namespace)',
    });
  });

  it('signals nothing when the PID belongs to another cgroup (reused, or another namespace numbering)', () => {
    const proc = fakeProc({ 999_999_902: { cgroup: '12:pids:/system.slice/sshd.service\n', ppid: 1 } });
    expect(killExecProcess(999_999_902, CONTAINER, proc)).toEqual({
      killed: [],
      notKilled: `process 999999902 as the executor sees it is not in container ${CONTAINER.slice(0, 12)}`,
    });
  });

  it('signals nothing for an exec that never started (PID 0)', () => {
    expect(killExecProcess(0, CONTAINER, fakeProc({})).killed).toEqual([]);
  });
});
