import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { testSpec } from '../../support/specs.js';
import { FakeExecutor } from './fake-executor.js';
import {
  EXECUTOR_SECRET,
  buildBinary,
  exited,
  runCli,
  spawnCli,
  startCli,
  startControllerProcess,
  type ControllerProcess,
} from './harness.js';
import { waitUntil } from '../../support/wait.js';

/**
 * The built `drove` binary against a real controller process (SQLite store) and a protocol-level fake executor:
 * every CLI command at least once, with exit codes and output asserted.
 */

let controller: ControllerProcess;
let executor: FakeExecutor;
let home: string;
const SID = 'TEST_SPEC-00001';

const drove = (...args: string[]) => runCli(args, { HOME: home });
const admin = (...args: string[]) => drove('-e', controller.url, '-u', 'admin', '-p', 'admin', ...args);
const root = (...args: string[]) => drove('-e', controller.url, '-u', 'root', '-p', 'root', ...args);

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${controller.url}${path}`, { headers: { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` } });
  return ((await res.json()) as { data: T }).data;
}
const summary = () => api<{ state?: string; healthyInstances: number; instancesPerHost: number }>(`/apis/v1/localservices/${SID}`);
const healthyIds = async () =>
  (await api<Array<{ instanceId: string; state: string }>>(`/apis/v1/localservices/${SID}/instances`)).filter((i) => i.state === 'HEALTHY').map((i) => i.instanceId);
const steady = (state: string) => waitUntil(`service ${state}`, async () => (await summary()).state === state);

beforeAll(async () => {
  await buildBinary();
  controller = await startControllerProcess();
  home = join(controller.dir, 'home');
  mkdirSync(home);
  executor = new FakeExecutor(controller.url, EXECUTOR_SECRET);
  await executor.start();
  const spec = testSpec();
  delete (spec as { volumes?: unknown }).volumes;
  writeFileSync(join(controller.dir, 'spec.json'), JSON.stringify(spec));
  await waitUntil('executor registered', async () => (await api<unknown[]>('/apis/v1/cluster/executors')).length === 1);
}, 180_000);

afterAll(async () => {
  await executor?.stop();
  await controller?.stop();
});

describe('drove CLI against a real controller', () => {
  test('cluster ping, with options and with ~/.drove', async () => {
    const ping = await admin('cluster', 'ping');
    expect([ping.code, ping.stdout]).toEqual([0, 'Cluster ping successful\n']);
    writeFileSync(join(home, '.drove'), `[DEFAULT]\ncurrent_cluster = test\n\n[test]\nendpoint = ${controller.url}\nusername = admin\npassword = admin\n\n[other]\nendpoint = http://127.0.0.1:1\n`);
    expect((await drove('cluster', 'ping')).stdout).toBe('Cluster ping successful\n');
    const other = await drove('-c', 'other', 'cluster', 'ping');
    expect(other.code).toBe(4);
    expect(other.stderr).toContain('Cannot reach http://127.0.0.1:1');
    const missing = await drove('-c', 'nope', 'cluster', 'ping');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('No section [nope]');
  });

  test('authentication errors exit 1 with the server message', async () => {
    const bad = await drove('-e', controller.url, '-u', 'admin', '-p', 'wrong', 'cluster', 'ping');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Credentials are required to access this resource.');
    const header = await drove('-e', controller.url, '-t', `Basic ${Buffer.from('admin:admin').toString('base64')}`, 'cluster', 'ping');
    expect(header.code).toBe(0);
  });

  test('localservices create, duplicate create (validation errors), list, summary, spec', async () => {
    const create = await drove('localservices', 'create', join(controller.dir, 'spec.json'));
    expect([create.code, create.stdout]).toEqual([0, `Local service created with service id: ${SID}\n`]);
    const dup = await drove('localservices', 'create', join(controller.dir, 'spec.json'));
    expect(dup.code).toBe(1);
    expect(dup.stderr).toBe(`Error: [400 - FAILED] Command validation failure\nValidation errors:\n  - Local service ${SID} already exists\n`);
    const list = await drove('localservices', 'list');
    expect(list.code).toBe(0);
    const lines = list.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^Id {15}Name {7}State {5}Activation State {6}Total CPU/);
    expect(lines[2]).toMatch(new RegExp(`^${SID}  TEST_SPEC  INACTIVE  INACTIVE .* \\d\\d/\\d\\d/\\d{4}, \\d\\d:\\d\\d:\\d\\d$`));
    expect(Object.keys(JSON.parse((await drove('localservices', 'list', '--json')).stdout))).toEqual([SID]);
    const sum = await drove('localservices', 'summary', SID);
    expect(sum.stdout).toContain(`id                            ${SID}\n`);
    expect(sum.stdout).toContain('activationState               INACTIVE');
    const spec = JSON.parse((await drove('localservices', 'spec', SID)).stdout);
    expect(spec.configs[0].data).toBe('');
    const unknown = await drove('localservices', 'summary', 'NOPE-1');
    expect([unknown.code, unknown.stderr]).toEqual([1, 'Error: Local service NOPE-1 not found\n']);
  });

  test('read-only users cannot write', async () => {
    const res = await drove('-u', 'guest', '-p', 'guest', 'localservices', 'activate', SID);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('[403 - FAILED] User guest with role EXTERNAL_READ_ONLY is not allowed');
  });

  test('conftest, deactivate, update', async () => {
    const conf = await drove('localservices', 'conftest', SID);
    expect([conf.code, conf.stdout]).toEqual([0, 'Local service config test instance requested\n']);
    await steady('CONFIG_TESTING');
    await waitUntil('test instance healthy', async () => (await healthyIds()).length === 1);
    const deact = await drove('localservices', 'deactivate', SID);
    expect([deact.code, deact.stdout]).toEqual([0, 'Local service deactivated\n']);
    await steady('INACTIVE');
    const update = await drove('localservices', 'update', SID, '1');
    expect([update.code, update.stdout]).toEqual([0, 'Local service instance count updated\n']);
    const bad = await drove('localservices', 'update', SID, '0');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('count must be between 1 and 256');
  });

  test('activate, lsinstances list/info, describe, executor list/info/lsinstances', async () => {
    const act = await drove('localservices', 'activate', SID);
    expect([act.code, act.stdout]).toEqual([0, 'Local service activated\n']);
    await steady('ACTIVE');
    const [id] = await waitUntil('instance healthy', async () => {
      const ids = await healthyIds();
      return ids.length === 1 ? ids : undefined;
    });
    const list = await drove('lsinstances', 'list', SID);
    expect(list.stdout.split('\n')[0]).toBe('Instance ID                              Executor Host    Ports       State    Error Message    Created               Last Updated');
    expect(list.stdout).toMatch(new RegExp(`${id}  127\\.0\\.0\\.1 +main:\\d+ +HEALTHY`));
    expect((await drove('lsinstances', 'list', SID, '--old')).stdout).toContain('Instance ID');
    // --wide is --output wide: the wide columns, then the crash-loop ones (empty: no executor is in a loop), same rows.
    const wide = await drove('lsinstances', 'list', SID, '--wide');
    expect(wide.stdout.split('\n')[0]).toMatch(/Last Updated +Executor ID +CPU Cores +Memory \(MB\) +Container Ports +Restarts +Last Failure +Next Attempt$/);
    expect(wide.stdout).toMatch(new RegExp(`${id}  127\\.0\\.0\\.1 +main:\\d+ +HEALTHY`));
    // The same view (not the same bytes: the instance's Last Updated moves with its health reports).
    expect((await drove('lsinstances', 'list', SID, '--output', 'wide')).stdout.split('\n')[0]).toBe(wide.stdout.split('\n')[0]);
    expect(JSON.parse((await drove('lsinstances', 'list', SID, '--wide', '--json')).stdout)).toMatchObject({ crashLoops: [], instances: [{ instanceId: id }] });
    const info = await drove('lsinstances', 'info', SID, id!);
    expect(info.stdout).toContain(`Instance ID                   ${id}\nService ID                    ${SID}\nState                         HEALTHY\nHost                          127.0.0.1\nCPU                           NUMA Node 0: Cores: [`);
    const di = JSON.parse((await drove('describe', 'lsinstance', SID, id!, '--json')).stdout);
    expect(di.instanceId).toBe(id);
    const ds = await drove('describe', 'localservice', SID);
    expect(ds.stdout).toContain(`  ID:                ${SID}\n  Name:              TEST_SPEC\n  State:             ACTIVE`);
    // The controller's requiredInstances (docs/design/placement.md#tag-constraints): one per host on the one executor.
    expect(ds.stdout).toContain('  Per Host:          1\n  Required:          1\n  Healthy:           1\n');
    expect(ds.stdout).toContain(`Instances (1):\n--------------\n  [OK] ${id}`);
    expect(Object.keys(JSON.parse((await drove('describe', 'localservice', SID, '--json')).stdout))).toEqual(['summary', 'spec', 'instances']);
    const executors = await drove('executor', 'list');
    expect(executors.stdout.split('\n')[0]).toMatch(/^Executor ID +Host +Port  Transport +Free Cores +Used Cores +Free Memory \(MB\) +Used Memory \(MB\)  Tags +State$/);
    expect(executors.stdout).toContain(executor.executorId);
    const einfo = await drove('executor', 'info', executor.executorId);
    expect(einfo.stdout).toContain(`ID                            ${executor.executorId}\nHost                          127.0.0.1\n`);
    // Its tags (docs/design/placement.md#executor-tags): the hostname, always.
    expect(einfo.stdout).toContain('Tags                          127.0.0.1\n');
    expect(executors.stdout).toContain("['127.0.0.1']");
    const els = await drove('executor', 'lsinstances', executor.executorId);
    expect(els.stdout).toMatch(new RegExp(`${id}  TEST_SPEC +${SID} +1 +512  HEALTHY`));
    expect((await drove('executor', 'info', 'nope')).stderr).toBe('Error: No executor found with id: nope\n');
  });

  test('lsinstances logs, tail, download', async () => {
    const [id] = await healthyIds();
    const logs = await drove('lsinstances', 'logs', SID, id!);
    expect([logs.code, logs.stdout]).toEqual([0, "files                         ['output.log']\n"]);
    const tail = await startCli(['lsinstances', 'tail', SID, id!, '-S', '9'], { HOME: home }, /line two\n/);
    executor.log += 'line three\n';
    await waitUntil('tail follows appended text', async () => tail.output().includes('line three'));
    tail.child.kill('SIGINT');
    expect(await exited(tail.child)).toBe(0);
    expect(tail.output()).toBe('line two\nline three\n');
    const out = join(controller.dir, 'downloaded.log');
    const dl = await drove('lsinstances', 'download', SID, id!, 'output.log', '--out', out);
    expect(dl.stdout).toBe(`Downloading log to: ${out}\nDownloaded size: ${Buffer.byteLength(executor.log)} bytes\n`);
    expect(readFileSync(out, 'utf8')).toBe(executor.log);
    const gone = await drove('lsinstances', 'logs', SID, 'SI-00000000-0000-4000-8000-00000000000e');
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('204');
  });

  test('restart --wait replaces every instance', async () => {
    const before = await healthyIds();
    const res = await drove('localservices', 'restart', SID, '--wait', '-t', '30s');
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^Local service restart command accepted\.\n/);
    expect(res.stdout).toMatch(/\[ +\d+s\] TEST_SPEC-00001 REPLACING_INSTANCES, hosts 0\/1, healthy \d\/1, targeted instances left 1\n/);
    expect(res.stdout.trimEnd().split('\n').pop()).toBe('All instances replaced');
    await steady('ACTIVE');
    const after = await healthyIds();
    expect(after.some((id) => before.includes(id))).toBe(false);
  });

  test('lsinstances replace --wait and kill --wait', async () => {
    const [id] = await waitUntil('a healthy instance', async () => {
      const ids = await healthyIds();
      return ids.length === 1 ? ids : undefined;
    });
    const replace = await drove('lsinstances', 'replace', SID, id!, '--wait', '-p', '1', '-t', '30s');
    expect(replace.code, replace.stderr).toBe(0);
    expect(replace.stdout).toMatch(/^Instance\(s\) replace command accepted\.\n[\s\S]*All instances replaced\n$/);
    await steady('ACTIVE');
    const [next] = await waitUntil('replacement healthy', async () => {
      const ids = await healthyIds();
      return ids.length === 1 ? ids : undefined;
    });
    expect(next).not.toBe(id);
    const kill = await drove('lsinstances', 'kill', SID, next!, '--wait', '-t', '30s');
    expect(kill.code, kill.stderr).toBe(0);
    expect(kill.stdout).toMatch(/^Instance\(s\) kill command accepted\.\n[\s\S]*All instances stopped\n$/);
    const wrong = await drove('lsinstances', 'kill', SID, 'SI-nope');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('  - There are no healthy instances with ids: [SI-nope]');
  });

  test('restart --wait exits 3 when the new instances cannot start', async () => {
    await steady('ACTIVE');
    await waitUntil('a healthy instance', async () => (await healthyIds()).length === 1);
    executor.failStarts = true;
    try {
      const res = await drove('localservices', 'restart', SID, '--wait', '-t', '2s');
      expect(res.code, res.stdout).toBe(3);
      // Depending on how the engine handles the failed start, the old instance stays (operation ended), new
      // instances keep failing, or the old one is gone with no healthy replacement (timeout); either way the wait
      // fails and says where things stand.
      expect(res.stderr).toMatch(
        /^Error: (restart TEST_SPEC-00001 failed: (the operation ended in state \w+ with 1 of the targeted instances still present|\d+ new instance)|Timed out after \d+s waiting for restart TEST_SPEC-00001: \w+, hosts 0\/1, healthy 0\/1)/,
      );
    } finally {
      executor.failStarts = false;
    }
  });

  test('cancelop with nothing to cancel', async () => {
    await steady('ACTIVE');
    const res = await drove('localservices', 'cancelop', SID);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('Current operation could not be cancelled');
  });

  test('cluster summary, leader, events', async () => {
    const sum = await drove('cluster', 'summary');
    expect(sum.stdout).toMatch(/^State                         NORMAL\nLeader Controller             127\.0\.0\.1:\d+\nCores                         Utilization: \d+% \(Total: 8 Used: \d Free: \d\)\n/);
    const leader = await drove('cluster', 'leader');
    expect(leader.stdout).toMatch(/^Cluster leader: 127\.0\.0\.1:\d+\n$/);
    const events = await drove('cluster', 'events', '--type', 'LOCAL_SERVICE_STATE_CHANGE', '--count', '5');
    const lines = events.stdout.trimEnd().split('\n');
    // --count is the page size asked of the server; --type filters that page (as the Python CLI does).
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThanOrEqual(5);
    for (const line of lines) expect(line).toMatch(/^LOCAL_SERVICE_STATE_CHANGE \| [0-9a-f-]{36} \| \d\d\/\d\d\/\d{4}, \d\d:\d\d:\d\d \| \{"LOCAL_SERVICE_ID": /);
    const follow = spawnCli(['cluster', 'events', '--follow', '--type', 'MAINTENANCE_MODE_SET'], { HOME: home });
    const on = await root('cluster', 'maintenance-on');
    expect([on.code, on.stdout]).toEqual([0, 'Cluster state: MAINTENANCE\n']);
    await waitUntil('followed event', async () => follow.output().includes('MAINTENANCE_MODE_SET'));
    follow.child.kill('SIGINT');
    expect(await exited(follow.child)).toBe(0);
    const blocked = await drove('localservices', 'deactivate', SID);
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toContain('  - Cluster is in maintenance mode');
    const off = await root('cluster', 'maintenance-off');
    expect(off.code).toBe(0);
    expect(off.stdout).toMatch(/^Cluster state: NORMAL/);
    const forbidden = await drove('cluster', 'maintenance-on');
    expect(forbidden.code).toBe(1);
  });

  test('executor blacklist and unblacklist', async () => {
    const bl = await root('executor', 'blacklist', executor.executorId);
    expect(bl.code, bl.stdout + bl.stderr).toBe(0);
    expect(bl.stdout).toBe(`Successful: ${executor.executorId}\nFailed:\nBlacklisting successful and app movement scheduled\nApproximate completion time: 0.00 seconds\n`);
    const ub = await root('executor', 'unblacklist', executor.executorId, 'bogus');
    expect(ub.code).toBe(1);
    expect(ub.stdout).toBe(`Successful: ${executor.executorId}\nFailed: bogus\nUnblacklisting successful for some executors. Check logs for details.\n`);
  });

  test('deactivate and destroy', async () => {
    await waitUntil('maintenance grace over', async () => (await drove('localservices', 'deactivate', SID)).code === 0);
    await steady('INACTIVE');
    const destroy = await drove('localservices', 'destroy', SID);
    expect([destroy.code, destroy.stdout]).toEqual([0, 'Local service destroyed\n']);
    await waitUntil('service gone', async () => (await drove('localservices', 'list', '--json')).stdout.trim() === '{}');
  });

  test('describe shows the tag constraint and the instances it requires (docs/design/placement.md#tag-constraints)', async () => {
    const spec = { ...testSpec({ name: 'GPU_AGENT', version: '1' }) };
    delete (spec as { volumes?: unknown }).volumes;
    spec.placementPolicy = {
      type: 'COMPOSITE',
      combiner: 'AND',
      policies: [{ type: 'LOCAL', hostLevel: false }, { type: 'COMPOSITE', combiner: 'OR', policies: [{ type: 'MATCH_TAG', tag: 'gpu' }, { type: 'MATCH_TAG', tag: 'tpu' }] }],
    };
    const file = join(controller.dir, 'gpu-spec.json');
    writeFileSync(file, JSON.stringify(spec));
    expect((await drove('localservices', 'create', file)).code).toBe(0);
    await waitUntil('GPU_AGENT-1 INACTIVE', async () => (await api<{ state?: string }>('/apis/v1/localservices/GPU_AGENT-1')).state === 'INACTIVE');
    expect((await drove('localservices', 'activate', 'GPU_AGENT-1')).code).toBe(0);
    await waitUntil('GPU_AGENT-1 ACTIVE', async () => (await api<{ state?: string }>('/apis/v1/localservices/GPU_AGENT-1')).state === 'ACTIVE');
    // The one executor has no such tag: nothing is required, nothing runs.
    const ds = await drove('describe', 'localservice', 'GPU_AGENT-1');
    expect(ds.stdout).toContain('  Per Host:          1\n  Required:          0\n  Healthy:           0\n');
    expect(ds.stdout).toContain('  Type:              COMPOSITE\n  Executors with:    tag gpu or tag tpu\n');
    expect(ds.stdout).toContain('Instances (0):');
    const summary = JSON.parse((await drove('localservices', 'summary', 'GPU_AGENT-1', '--json')).stdout);
    expect(summary).toMatchObject({ requiredInstances: 0, healthyInstances: 0, activationState: 'ACTIVE' });
    // --wait counts hosts and healthy instances against what the constraint requires, not against every executor:
    // the untagged executor is not waited on.
    const restart = await drove('localservices', 'restart', 'GPU_AGENT-1', '--wait', '-t', '5s');
    expect(restart.code, restart.stdout + restart.stderr).toBe(0);
    expect(restart.stdout).toContain('hosts 0/0, healthy 0/0');
    expect(restart.stdout.trimEnd().split('\n').pop()).toBe('All instances replaced');
    expect((await drove('localservices', 'deactivate', 'GPU_AGENT-1')).code).toBe(0);
  });
});
