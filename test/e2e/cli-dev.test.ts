import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { mainJs } from '../../scripts/prepare.mjs';
import { startDev, type DevCluster } from '../support/dev-cluster.js';
import { ensureBinaryBuilt } from '../support/e2e-cluster.js';
import { ensureTestImage, repoRoot } from '../support/images.js';
import { seedCurlExamples, shellWords } from '../support/seeds.js';
import { waitUntil } from '../support/wait.js';
import { LABEL_EXECUTOR_ID } from '../../src/executor/instances/container-spec.js';

/**
 * The built `drove` binary against a real `drove dev` process (controller + executor on this machine's Docker,
 * image drove-ts/httpd:1): every CLI command at least once, exit codes and output asserted. The dev cluster runs
 * on port 7000, as the seed documents' curl examples assume, so the same process also runs those examples
 * verbatim (only `--connect-to` resolves drove.local). Port 7000 taken on this machine fails the file: the
 * examples are a compatibility contract and must not be skipped.
 */

const PORT = 7000;
const API = `http://127.0.0.1:${PORT}`;
const SID = 'NODE_EXPORTER-1';
/** A second, never activated service, so that sorting the list has something to order. */
const SID2 = 'NODE_EXPORTER-2';

let dir: string;
let home: string;
let configFile: string;
let dev: DevCluster | undefined;

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [mainJs, ...args], { env: { ...process.env, HOME: home, TZ: 'UTC' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Credentials on the command line. */
const drove = (...args: string[]) => run(['-e', API, '-u', 'admin', '-p', 'admin', ...args]);
/** Endpoint and credentials from an INI file (`-f`), as with the Python CLI's ~/.drove. */
const droveFile = (...args: string[]) => run(['-f', configFile, ...args]);

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${API}${path}`, { headers: { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` } });
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { data: T }).data;
}

interface Summary {
  state: string;
  activationState: string;
  healthyInstances: number;
  instancesPerHost: number;
}
interface Instance {
  instanceId: string;
  state: string;
}
const summary = () => api<Summary>(`/apis/v1/localservices/${SID}`);
const instances = () => api<Instance[]>(`/apis/v1/localservices/${SID}/instances`);
const healthyIds = async () => (await instances()).filter((i) => i.state === 'HEALTHY').map((i) => i.instanceId);
/** The service at rest in `state` with exactly `healthy` healthy instances and nothing else running. */
const settled = (state: string, healthy: number) =>
  waitUntil(`${SID} ${state} with ${healthy} healthy instance(s)`, async () => {
    const s = await summary();
    const list = await instances();
    return s.state === state && list.length === healthy && list.every((i) => i.state === 'HEALTHY') ? list.map((i) => i.instanceId) : undefined;
  });

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('close', (code) => resolve(code))));
}

/** Containers of this file's executor (its id is unique to its port), on the machine's dockerd. */
function ourContainers(): string[] {
  if (!executorId) return [];
  return execFileSync('docker', ['ps', '-aq', '--filter', `label=${LABEL_EXECUTOR_ID}=${executorId}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

let executorId: string | undefined;

beforeAll(async () => {
  if (!(await portIsFree(PORT))) {
    throw new Error(`port ${PORT} on 127.0.0.1 is in use: the seed documents' curl examples need \`drove dev --port ${PORT}\`; free the port`);
  }
  ensureTestImage();
  await ensureBinaryBuilt();
  dir = mkdtempSync(join(tmpdir(), 'drove-cli-dev-'));
  home = join(dir, 'home');
  mkdirSync(home);
  configFile = join(dir, 'drove.ini');
  writeFileSync(configFile, `[DEFAULT]\ncurrent_cluster = dev\n\n[dev]\nendpoint = ${API}\nusername = admin\npassword = admin\n`);
  const spec2 = JSON.parse(readFileSync(join(repoRoot, 'examples', 'node-agent.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'node-agent-2.json'), JSON.stringify({ ...spec2, version: '2' }));
  dev = await startDev({ port: PORT });
  executorId = dev.executorId;
}, 300_000);

afterEach((context) => {
  if (context.task.result?.state === 'fail') {
    let log = '';
    try {
      log = readFileSync(join(dev!.dataDir, 'drove.log'), 'utf8').slice(-6000);
    } catch {
      // no log yet
    }
    process.stderr.write(`----- drove dev output\n${dev?.output()}\n----- drove.log (tail)\n${log}\n`);
  }
});

afterAll(async () => {
  // The dev cluster leaves containers running on purpose (re-adoption); stop() removes this test's.
  await dev?.stop();
}, 60_000);

describe('drove CLI against a real drove dev', () => {
  test('cluster ping: with a config file (-f) and with -e/-u/-p; a wrong password exits 1', async () => {
    const fromFile = await droveFile('cluster', 'ping');
    expect([fromFile.code, fromFile.stdout]).toEqual([0, 'Cluster ping successful\n']);
    const fromFlags = await drove('cluster', 'ping');
    expect([fromFlags.code, fromFlags.stdout]).toEqual([0, 'Cluster ping successful\n']);
    const wrong = await run(['-e', API, '-u', 'admin', '-p', 'wrong', 'cluster', 'ping']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('Credentials are required to access this resource.');
  });

  test('localservices create --instances, list --sort/--reverse, summary, spec', async () => {
    const create = await droveFile('localservices', 'create', join(repoRoot, 'examples', 'node-agent.json'), '--instances', '2');
    expect([create.code, create.stdout, create.stderr]).toEqual([0, `Local service created with service id: ${SID}\n`, '']);
    const create2 = await drove('localservices', 'create', join(dir, 'node-agent-2.json'));
    expect([create2.code, create2.stdout]).toEqual([0, `Local service created with service id: ${SID2}\n`]);

    const ids = (out: string) => out.trimEnd().split('\n').slice(2).map((line) => line.split(/\s+/)[0]);
    const list = await drove('localservices', 'list', '--sort', '0');
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^Id +Name +State +Activation State +Total CPU/);
    expect(ids(list.stdout)).toEqual([SID, SID2]);
    expect(list.stdout).toMatch(new RegExp(`${SID} +NODE_EXPORTER +INACTIVE +INACTIVE `));
    const reversed = await drove('localservices', 'list', '--sort', '0', '--reverse');
    expect(reversed.code).toBe(0);
    expect(ids(reversed.stdout)).toEqual([SID2, SID]);
    const badSort = await drove('localservices', 'list', '--sort', '10');
    expect(badSort.code).not.toBe(0);
    expect(badSort.stderr).toContain('--sort');

    const sum = await drove('localservices', 'summary', SID);
    expect(sum.code).toBe(0);
    expect(sum.stdout).toContain(`id                            ${SID}\n`);
    expect(sum.stdout).toMatch(/instancesPerHost +2\n/);
    expect(sum.stdout).toMatch(/activationState +INACTIVE\n/);
    const spec = await drove('localservices', 'spec', SID);
    expect(spec.code).toBe(0);
    const parsed = JSON.parse(spec.stdout) as { name: string; version: string; executable: { url: string } };
    expect([parsed.name, parsed.version, parsed.executable.url]).toEqual(['NODE_EXPORTER', '1', 'drove-ts/httpd:1']);
  });

  test('conftest runs one test instance; deactivate ends it', async () => {
    const conf = await drove('localservices', 'conftest', SID);
    expect([conf.code, conf.stdout]).toEqual([0, 'Local service config test instance requested\n']);
    await settled('CONFIG_TESTING', 1);
    const deact = await drove('localservices', 'deactivate', SID);
    expect([deact.code, deact.stdout]).toEqual([0, 'Local service deactivated\n']);
    await settled('INACTIVE', 0);
  });

  test('activate starts instancesPerHost instances; activating again prints the validation errors and exits 1', async () => {
    const act = await droveFile('localservices', 'activate', SID);
    expect([act.code, act.stdout]).toEqual([0, 'Local service activated\n']);
    await settled('ACTIVE', 2);
    const again = await drove('localservices', 'activate', SID);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    expect(again.stderr).toMatch(/^Error: \[400 - FAILED\] Command validation failure\nValidation errors:\n {2}- Only \[.*\] allowed for local service NODE_EXPORTER-1 as it is in ACTIVE state\n$/);
  });

  test('update scales to one instance per host', async () => {
    const update = await drove('localservices', 'update', SID, '1');
    expect([update.code, update.stdout]).toEqual([0, 'Local service instance count updated\n']);
    await settled('ACTIVE', 1);
    expect((await summary()).instancesPerHost).toBe(1);
    const bad = await drove('localservices', 'update', SID, '0');
    // A bad argument is a usage error (docs/cli.md#exit-codes).
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('count must be between 1 and 256');
  });

  test('restart --stop --wait replaces the instance; cancelop with nothing running exits 1', async () => {
    const [before] = await settled('ACTIVE', 1);
    const restart = await drove('localservices', 'restart', SID, '--stop', '--wait', '-t', '60s');
    expect(restart.code, restart.stderr).toBe(0);
    expect(restart.stdout).toMatch(/^Local service restart command accepted\.\n/);
    expect(restart.stdout.trimEnd().split('\n').pop()).toBe('All instances replaced');
    const [after] = await settled('ACTIVE', 1);
    expect(after).not.toBe(before);
    const cancel = await drove('localservices', 'cancelop', SID);
    expect(cancel.code).toBe(1);
    expect(cancel.stderr).toContain('Current operation could not be cancelled');
  });

  test('lsinstances list (and --old), info, logs, tail --log, download --out', async () => {
    const [id] = await settled('ACTIVE', 1);
    const list = await drove('lsinstances', 'list', SID);
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^Instance ID +Executor Host +Ports +State +Error Message +Created +Last Updated$/);
    expect(list.stdout).toMatch(new RegExp(`${id} +127\\.0\\.0\\.1 +main:\\d+ +HEALTHY`));
    const old = await drove('lsinstances', 'list', SID, '--old');
    expect(old.code).toBe(0);
    // The conftest instance, the two scaled down or restarted: all stopped by now.
    expect(old.stdout.trimEnd().split('\n').slice(2).length).toBeGreaterThanOrEqual(3);
    expect(old.stdout).toContain('STOPPED');
    expect(old.stdout).not.toContain(id!);

    const info = await drove('lsinstances', 'info', SID, id!);
    expect(info.code).toBe(0);
    expect(info.stdout).toContain(`Instance ID                   ${id}\nService ID                    ${SID}\nState                         HEALTHY\nHost                          127.0.0.1\n`);

    const logs = await drove('lsinstances', 'logs', SID, id!);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/^files +\[.*'output\.log'.*\]\n$/);

    // The image prints one start line; tail from far enough back to see it, then stop the follower.
    const tail = spawn(process.execPath, [mainJs, '-e', API, '-u', 'admin', '-p', 'admin', 'lsinstances', 'tail', SID, id!, '--log', 'output.log', '-S', '100000'], {
      env: { ...process.env, HOME: home },
    });
    let tailed = '';
    tail.stdout.on('data', (d: Buffer) => (tailed += d.toString()));
    tail.stderr.on('data', (d: Buffer) => (tailed += d.toString()));
    try {
      await waitUntil('tail output', () => {
        if (tail.exitCode !== null) throw new Error(`tail exited (${tail.exitCode}): ${tailed}`);
        return tailed.includes('starting httpd on port 8000') || undefined;
      }, { timeoutMs: 30_000 });
    } finally {
      tail.kill('SIGINT');
    }
    expect(await exited(tail)).toBe(0);

    const out = join(dir, 'downloaded.log');
    const dl = await drove('lsinstances', 'download', SID, id!, 'output.log', '--out', out);
    expect(dl.code, dl.stderr).toBe(0);
    const content = readFileSync(out, 'utf8');
    expect(content).toContain('starting httpd on port 8000');
    expect(dl.stdout).toMatch(new RegExp(`^Downloading log to: ${out}\\nDownloaded size: \\d+ bytes\\n$`));
    expect(Number(/Downloaded size: (\d+)/.exec(dl.stdout)![1])).toBe(Buffer.byteLength(content));
  });

  test('executor list, info, lsinstances', async () => {
    const [id] = await settled('ACTIVE', 1);
    const [executor] = await api<Array<{ executorId: string }>>('/apis/v1/cluster/executors');
    const list = await drove('executor', 'list');
    expect(list.code).toBe(0);
    expect(list.stdout.split('\n')[0]).toMatch(/^Executor ID +Host +Port +Transport +Free Cores +Used Cores +Free Memory \(MB\) +Used Memory \(MB\) +Tags +State$/);
    expect(list.stdout).toMatch(new RegExp(`${executor!.executorId} +127\\.0\\.0\\.1 +${dev!.executorPort} `));
    const info = await drove('executor', 'info', executor!.executorId);
    expect(info.code).toBe(0);
    expect(info.stdout).toContain(`ID                            ${executor!.executorId}\nHost                          127.0.0.1\n`);
    // The executor's instance list is its node data, refreshed by heartbeats (every 20 s), as in Drove.
    const ls = await waitUntil('executor lsinstances to show the instance HEALTHY', async () => {
      const r = await drove('executor', 'lsinstances', executor!.executorId);
      return r.code === 0 && new RegExp(`${id} +NODE_EXPORTER +${SID} +1 +64 +HEALTHY`).test(r.stdout) ? r : undefined;
    });
    expect(ls.stdout.split('\n')[0]).toMatch(/^Instance ID +Service name +Service ID +CPU +Memory \(MB\) +State +Error Message +Created +Last Updated$/);
    const missing = await drove('executor', 'info', 'nope');
    expect([missing.code, missing.stderr]).toEqual([1, 'Error: No executor found with id: nope\n']);
  });

  test('cluster summary, leader, events --type --count', async () => {
    const sum = await droveFile('cluster', 'summary');
    expect(sum.code).toBe(0);
    expect(sum.stdout).toMatch(/^State +NORMAL\nLeader Controller +127\.0\.0\.1:7000\n/);
    const leader = await drove('cluster', 'leader');
    expect([leader.code, leader.stdout]).toEqual([0, 'Cluster leader: 127.0.0.1:7000\n']);
    const events = await drove('cluster', 'events', '--type', 'LOCAL_SERVICE_STATE_CHANGE', '--count', '200');
    expect(events.code).toBe(0);
    const lines = events.stdout.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/^LOCAL_SERVICE_STATE_CHANGE \| [0-9a-f-]{36} \| \d\d\/\d\d\/\d{4}, \d\d:\d\d:\d\d \| \{"LOCAL_SERVICE_ID": /);
    expect(events.stdout).toContain(`"LOCAL_SERVICE_ID": "${SID}"`);
    const few = await drove('cluster', 'events', '--count', '2');
    expect(few.code).toBe(0);
    expect(few.stdout.trimEnd().split('\n')).toHaveLength(2);
  });

  test('describe localservice and lsinstance, as text and --json', async () => {
    const [id] = await settled('ACTIVE', 1);
    const ds = await drove('describe', 'localservice', SID);
    expect(ds.code).toBe(0);
    expect(ds.stdout).toContain(`  ID:                ${SID}\n  Name:              NODE_EXPORTER\n  State:             ACTIVE`);
    expect(ds.stdout).toContain(`Instances (1):\n--------------\n  [OK] ${id}`);
    const dsJson = JSON.parse((await drove('describe', 'localservice', SID, '--json')).stdout) as Record<string, unknown>;
    expect(Object.keys(dsJson)).toEqual(['summary', 'spec', 'instances']);
    const di = await drove('describe', 'lsinstance', SID, id!);
    expect(di.code).toBe(0);
    expect(di.stdout).toContain(id!);
    expect(di.stdout).toContain('HEALTHY');
    const diJson = JSON.parse((await drove('describe', 'lsinstance', SID, id!, '--json')).stdout) as { instanceId: string; state: string };
    expect([diJson.instanceId, diJson.state]).toEqual([id, 'HEALTHY']);
  });

  test('lsinstances replace --stop --wait, then kill --wait', async () => {
    const [id] = await settled('ACTIVE', 1);
    const replace = await drove('lsinstances', 'replace', SID, id!, '--stop', '--wait', '-t', '60s');
    expect(replace.code, replace.stderr).toBe(0);
    expect(replace.stdout).toMatch(/^Instance\(s\) replace command accepted\.\n[\s\S]*All instances replaced\n$/);
    const [next] = await settled('ACTIVE', 1);
    expect(next).not.toBe(id);
    const kill = await drove('lsinstances', 'kill', SID, next!, '--wait', '-t', '60s');
    expect(kill.code, kill.stderr).toBe(0);
    expect(kill.stdout).toMatch(/^Instance\(s\) kill command accepted\.\n[\s\S]*All instances stopped\n$/);
    expect(await healthyIds()).not.toContain(next);
    // The reconciler brings the killed instance back with ADJUST_INSTANCES, and while that runs the validator
    // refuses every command by the service's state before it looks at ids (as Drove's does): wait it out, so
    // what is checked next is the unknown id.
    await settled('ACTIVE', 1);
    const wrong = await drove('lsinstances', 'kill', SID, 'SI-nope');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('  - There are no healthy instances with ids: [SI-nope]');
  });

  test("the seed documents' curl examples run verbatim against drove dev --port 7000", async () => {
    // The reconciler brings the killed instance back; the seeds deactivate a running service.
    await settled('ACTIVE', 1);
    const [deactivate, cancel, ...rest] = seedCurlExamples();
    expect(rest).toEqual([]);
    const curl = async (command: string) => {
      const args = shellWords(command);
      expect(args[0]).toBe('curl');
      const { stdout } = await promisify(execFile)('curl', ['-sS', '-w', '\n%{http_code}', '--connect-to', `drove.local:${PORT}:127.0.0.1:${PORT}`, ...args.slice(1)], { encoding: 'utf8' });
      const cut = stdout.lastIndexOf('\n');
      return { code: stdout.slice(cut + 1), body: JSON.parse(stdout.slice(0, cut)) as unknown };
    };
    expect(deactivate).toContain('"type": "DEACTIVATE"');
    expect(await curl(deactivate!)).toEqual({ code: '200', body: { status: 'SUCCESS', data: { serviceId: SID }, message: 'success' } });
    await settled('INACTIVE', 0);
    expect(cancel).toContain(`/operations/${SID}/cancel`);
    // With the deactivation finished there is nothing to cancel: a well-formed refusal.
    expect(await curl(cancel!)).toEqual({ code: '400', body: { status: 'FAILED', message: 'Current operation could not be cancelled' } });
  });

  test('deactivate (already inactive: validation errors), destroy; no container is left', async () => {
    const deact = await drove('localservices', 'deactivate', SID);
    expect(deact.code).toBe(1);
    expect(deact.stderr).toContain('Validation errors:\n  - Only [');
    for (const sid of [SID, SID2]) {
      const destroy = await drove('localservices', 'destroy', sid);
      expect([destroy.code, destroy.stdout]).toEqual([0, 'Local service destroyed\n']);
    }
    await waitUntil('both services gone', async () => (await drove('localservices', 'list', '--json')).stdout.trim() === '{}');
    const gone = await drove('localservices', 'summary', SID);
    expect([gone.code, gone.stderr]).toEqual([1, `Error: Local service ${SID} not found\n`]);
    await waitUntil('no container of this executor', () => ourContainers().length === 0 || undefined);
  });
});
