import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { mainJs } from '../../scripts/prepare.mjs';
import { startDev, type DevCluster } from '../support/dev-cluster.js';
import { ensureBinaryBuilt } from '../support/e2e-cluster.js';
import { ensureTestImage, repoRoot } from '../support/images.js';
import { waitUntil } from '../support/wait.js';
import { LABEL_EXECUTOR_ID } from '../../src/executor/instances/container-spec.js';

/**
 * The built `drove` binary against a real `drove dev` (controller + executor on this machine's Docker) on free
 * ports, with a private HOME: `--wait` on the operations (in a pipe, and on a pseudo terminal through
 * script(1)), `activate --wait` then `update` at once, `apply` twice and with a changed spec, the output
 * formats, `drove config` over ~/.drove, passwords from DROVE_PASSWORD and from a prompt, every exit code, and
 * the completion scripts loaded in real bash and zsh completing a service id fetched from the server.
 * `--wait` follows drove dev's event stream where it has one, else (as against a Drove controller) the events
 * poll API; test/integration/cli/wait-stream.test.ts holds each path to its contract.
 */

const SID = 'CLI_WAIT-1';
/** Readiness that never passes: every start fails after about two seconds. */
const FAIL_SID = 'CLI_FAIL-1';
/** Readiness that waits two minutes first: a rollout that stays busy, to time out and to cancel. */
const SLOW_SID = 'CLI_SLOW-1';
const PASSWORD = 'admin';
/**
 * Tests that run the CLI many times: each run costs about a second of CPU and took 6.8 s to print its version on
 * this 2-core machine at load 25 (measured), so a dozen runs plus a rollout do not fit vitest's 120 s default.
 */
const LONG = { timeout: 600_000 };
const ESC = String.fromCharCode(27);
/** Colour and style sequences (SGR); the live display's cursor moves are not among them. */
const SGR = new RegExp(`${ESC}\\[[0-9;]*m`);

let dir: string;
let home: string;
let bin: string;
let api: string;
let executorId: string | undefined;
let dev: DevCluster | undefined;

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment every run gets: the private HOME, `drove` on PATH, no colour preference of the caller's. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env, HOME: home, PATH: `${bin}:${process.env.PATH}`, TZ: 'UTC', TERM: 'xterm' };
  delete base.NO_COLOR;
  delete base.DROVE_PASSWORD;
  return { ...base, ...extra };
}

/** `drove ...` in a pipe, with the password from DROVE_PASSWORD (~/.drove names the cluster and user only). */
function drove(args: string[], extra: Record<string, string> = { DROVE_PASSWORD: PASSWORD }): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [mainJs, ...args], { env: env(extra), cwd: dir });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * A command on a pseudo terminal (script(1)), by default with the password in DROVE_PASSWORD; `input` answers
 * what it asks. Returns everything the terminal showed, and the command's exit code (script -e passes it on).
 * A command still running after `limitMs` is killed (code null), so that a hung one fails its test, not later ones.
 */
function onTerminal(
  command: string,
  extra: Record<string, string> = { DROVE_PASSWORD: PASSWORD },
  input?: { when: string; send: string },
  limitMs = 300_000,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('script', ['-qefc', command, '/dev/null'], { env: env(extra), cwd: dir, detached: true });
    const limit = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), limitMs);
    child.once('close', () => clearTimeout(limit));
    let out = '';
    let answered = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (input && !answered && out.includes(input.when)) {
        answered = true;
        child.stdin.write(input.send);
      }
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

/**
 * An interactive shell on a pseudo terminal, typed into like a person: `type` sends keys once the shell has
 * printed `after`.
 */
class Shell {
  private out = '';
  private readonly child: ChildProcess;

  constructor(command: string) {
    this.child = spawn('script', ['-qfc', command, '/dev/null'], { env: env(), cwd: dir, detached: true });
    this.child.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.out += d.toString()));
  }

  output(): string {
    return this.out;
  }

  async type(keys: string, until: (out: string) => boolean, what: string): Promise<void> {
    this.child.stdin!.write(keys);
    await waitUntil(what, () => until(this.out) || undefined, { timeoutMs: 90_000, detail: () => JSON.stringify(this.out.slice(-2000)) });
  }

  /** `exit`, or after 30 s the whole process group killed: a shell left behind would hold the terminal. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const done = new Promise((resolve) => this.child.once('close', resolve));
    const limit = setTimeout(() => process.kill(-this.child.pid!, 'SIGKILL'), 30_000);
    this.child.stdin!.end('\x03exit\n');
    await done;
    clearTimeout(limit);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function get<T>(path: string): Promise<T> {
  const res = await fetch(`${api}${path}`, { headers: { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}` } });
  const body = (await res.json()) as { status: string; data: T };
  if (body.status !== 'SUCCESS') throw new Error(`GET ${path}: ${JSON.stringify(body)}`);
  return body.data;
}

const instances = (sid: string) => get<Array<{ instanceId: string; state: string }>>(`/apis/v1/localservices/${sid}/instances`);

function ourContainers(): string[] {
  if (!executorId) return [];
  return execFileSync('docker', ['ps', '-aq', '--filter', `label=${LABEL_EXECUTOR_ID}=${executorId}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

function writeSpec(file: string, change: (spec: Record<string, any>) => void): string {
  const spec = JSON.parse(readFileSync(join(repoRoot, 'examples', 'node-agent.json'), 'utf8')) as Record<string, any>;
  change(spec);
  const path = join(dir, file);
  writeFileSync(path, JSON.stringify(spec, null, 2));
  return path;
}

let specFile: string;

beforeAll(async () => {
  ensureTestImage();
  await ensureBinaryBuilt();
  dir = mkdtempSync(join(tmpdir(), 'drove-cli-wait-'));
  home = join(dir, 'home');
  bin = join(dir, 'bin');
  mkdirSync(home);
  mkdirSync(bin);
  // `drove` on PATH, as an installed CLI is: the completion scripts run the command being completed.
  writeFileSync(join(bin, 'drove'), `#!/bin/sh\nexec "${process.execPath}" "${mainJs}" "$@"\n`);
  chmodSync(join(bin, 'drove'), 0o755);
  specFile = writeSpec('cli-wait.json', (s) => (s.name = 'CLI_WAIT'));
  writeSpec('cli-fail.json', (s) => {
    s.name = 'CLI_FAIL';
    s.readiness.mode.path = '/cgi-bin/nope';
    s.readiness.attempts = 2;
  });
  writeSpec('cli-slow.json', (s) => {
    s.name = 'CLI_SLOW';
    s.readiness.initialDelay = '120 seconds';
  });
  dev = await startDev();
  api = dev.url;
  executorId = dev.executorId;
}, 300_000);

afterEach((context) => {
  if (context.task.result?.state === 'fail') process.stderr.write(`----- drove dev output\n${dev?.output().slice(-4000)}\n`);
});

afterAll(async () => {
  // drove dev leaves containers running on purpose (re-adoption); stop() removes this file's.
  await dev?.stop();
}, 120_000);

describe('drove CLI: waiting, formats, config, completion, exit codes', () => {
  test('config: init, add-cluster, get-clusters, use-cluster, current-cluster, view, delete-cluster over ~/.drove', LONG, async () => {
    const init = await drove(['config', 'init', '-e', api, '-n', 'dev', '-u', 'admin']);
    expect([init.code, init.stdout]).toEqual([0, `Config initialized at: ${join(home, '.drove')}\nCurrent cluster set to: dev\n`]);
    // It holds passwords: its owner's alone.
    expect(statSync(join(home, '.drove')).mode & 0o777).toBe(0o600);
    const again = await drove(['config', 'init', '-e', api]);
    expect(again.code).toBe(2);
    // The command's own -e/-u/-p win over the global ones given before it.
    const add = await drove(['-e', api, '-u', 'admin', 'config', 'add-cluster', 'other', '-e', 'http://127.0.0.1:1', '-u', 'x', '-p', 'p%ss;#word', '-i']);
    expect([add.code, add.stdout]).toEqual([0, `Cluster 'other' added to ${join(home, '.drove')}\n`]);
    expect((await drove(['config', 'add-cluster', 'other', '-e', api])).code).toBe(2);
    const list = await drove(['config', 'get-clusters']);
    expect(list.stdout.split('\n')).toEqual([
      `${'CURRENT'.padEnd(10)} ${'NAME'.padEnd(20)} ${'ENDPOINT'.padEnd(50)} ${'AUTH'.padEnd(6)} INSECURE`,
      '-'.repeat(95),
      `${'*'.padEnd(10)} ${'dev'.padEnd(20)} ${api.padEnd(50)} ${'yes'.padEnd(6)} no      `,
      `${''.padEnd(10)} ${'other'.padEnd(20)} ${'http://127.0.0.1:1'.padEnd(50)} ${'yes'.padEnd(6)} yes     `,
      '',
      'Current cluster: dev',
      '',
    ]);
    expect(JSON.parse((await drove(['config', 'get-clusters', '-o', 'json'])).stdout)).toEqual({
      current: 'dev',
      clusters: [
        { name: 'dev', endpoint: api, hasAuth: true, insecure: false },
        { name: 'other', endpoint: 'http://127.0.0.1:1', hasAuth: true, insecure: true },
      ],
    });
    const use = await drove(['config', 'use-cluster', 'other']);
    expect([use.code, use.stdout]).toEqual([0, 'Switched to cluster "other".\n']);
    expect((await drove(['config', 'current-cluster'])).stdout).toBe('other\n');
    expect((await drove(['config', 'use-cluster', 'nope'])).code).toBe(2);
    const view = await drove(['config', 'view']);
    expect(view.stdout).toContain('[other] (current)\n  endpoint = http://127.0.0.1:1\n  username = x\n  password = ****\n  insecure = true\n');
    expect(view.stdout).not.toContain('p%ss');
    // '%' doubled, as configparser reads it; ';' and '#' escaped, as the INI reader of this CLI reads them.
    expect((await drove(['config', 'view', '--raw'])).stdout).toContain('password = p%%ss\\;\\#word\n');
    const removed = await drove(['config', 'delete-cluster', 'other']);
    expect([removed.code, removed.stdout]).toEqual([0, "Cluster 'other' deleted and was current cluster (now unset)\n"]);
    expect((await drove(['config', 'current-cluster'])).code).toBe(2);
    expect((await drove(['config', 'use-cluster', 'dev'])).code).toBe(0);
  });

  test('passwords: DROVE_PASSWORD; on a terminal a prompt that does not echo; neither is a usage error', LONG, async () => {
    const fromEnv = await drove(['cluster', 'ping']);
    expect([fromEnv.code, fromEnv.stdout]).toEqual([0, 'Cluster ping successful\n']);
    const none = await drove(['cluster', 'ping'], {});
    expect(none.code).toBe(2);
    expect(none.stderr).toBe(
      'Error: No password for user admin: set DROVE_PASSWORD, add `password = ...` to the cluster\'s section of ~/.drove, pass -p, or run on a terminal to be asked\n',
    );
    const prompt = `Password for admin at ${api}: `;
    const asked = await onTerminal('drove cluster ping', {}, { when: prompt, send: `${PASSWORD}\r` }, 120_000);
    expect(asked.code, asked.out).toBe(0);
    expect(asked.out).toContain('Cluster ping successful');
    expect(asked.out.slice(asked.out.indexOf(prompt) + prompt.length)).not.toContain(PASSWORD);
  });

  test('apply creates the service, applying again changes nothing, a changed spec shows the diff and exits 5', LONG, async () => {
    const created = await drove(['localservices', 'apply', specFile, '--wait']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(new RegExp(`^Local service created with service id: ${SID}\\n[\\s\\S]*Local service ${SID} is INACTIVE \\(took \\d+s\\)\\n$`));
    const same = await drove(['localservices', 'apply', specFile]);
    expect([same.code, same.stdout, same.stderr]).toEqual([0, `Local service ${SID} is unchanged\n`, '']);
    const changedFile = writeSpec('cli-wait-changed.json', (s) => {
      s.name = 'CLI_WAIT';
      s.env.SCRAPE_INTERVAL = '30s';
    });
    const changed = await drove(['localservices', 'apply', changedFile]);
    expect(changed.code).toBe(5);
    expect(changed.stdout).toContain(`--- ${SID} (stored)\n+++ ${changedFile}\n@@ `);
    expect(changed.stdout).toContain('-    "SCRAPE_INTERVAL": "15s"\n+    "SCRAPE_INTERVAL": "30s"\n');
    expect(changed.stdout).toContain(`  1. set "version" in ${changedFile} to a new value, e.g. "2" (service id CLI_WAIT-2)`);
    expect(changed.stderr).toBe(`Error: Local service ${SID} exists with a different spec; nothing was changed\n`);
    expect(((await get<{ env: Record<string, string> }>(`/apis/v1/localservices/${SID}/spec`)).env).SCRAPE_INTERVAL).toBe('15s');
    const list = await drove(['localservices', 'list', '--json']);
    expect(Object.keys(JSON.parse(list.stdout))).toEqual([SID]);
  });

  test('activate --wait in a pipe prints one plain line per change; update right after it is accepted', LONG, async () => {
    const activate = await drove(['localservices', 'activate', SID, '--wait', '--timeout', '3m']);
    expect(activate.code, activate.stderr).toBe(0);
    const lines = activate.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('Local service activated');
    for (const line of lines.slice(1, -1)) expect(line).toMatch(new RegExp(`^\\[ +\\d+s\\] (${SID} \\w+(, hosts \\d/1, healthy \\d/1)?|failed: .*)$`));
    expect(lines.at(-1)).toMatch(new RegExp(`^Local service ${SID} is ACTIVE, hosts 1/1, healthy 1/1 \\(took \\d+s\\)$`));
    expect(activate.stdout).not.toMatch(SGR);
    expect(activate.stdout).not.toContain(`${ESC}[`);
    // The issue's first step: without --wait this update met "No operations allowed ... ADJUSTING_INSTANCES".
    const update = await drove(['localservices', 'update', SID, '2']);
    expect([update.code, update.stdout, update.stderr]).toEqual([0, 'Local service instance count updated\n', '']);
    await waitUntil('two healthy instances', async () => {
      const list = await instances(SID);
      return list.length === 2 && list.every((i) => i.state === 'HEALTHY');
    }, { timeoutMs: 180_000 });
  });

  test('on a terminal --wait redraws its progress in place, in colour; NO_COLOR keeps the redraw, drops the colour', LONG, async () => {
    const update = await onTerminal(`drove localservices update ${SID} 1 --wait --timeout 3m`);
    expect(update.code, update.out).toBe(0);
    // Cursor up over the last frame, back to its first column, clear to the end of the screen.
    expect(update.out).toMatch(new RegExp(`${ESC}\\[\\d+A\\r${ESC}\\[J`));
    expect(update.out).toContain(`${ESC}[1m${SID}${ESC}[22m update: `);
    // Scaling down: the host is waited on until its surplus instance has gone.
    expect(update.out).toMatch(/ {2}hosts {6}0\/1 done.*waiting on 127\.0\.0\.1/);
    expect(update.out).toMatch(/ {2}hosts {6}1\/1 done\r?\n {2}instances {2}1\/1 healthy/);
    expect(update.out).toContain(`Local service ${SID} is ACTIVE, hosts 1/1, healthy 1/1`);
    const restart = await onTerminal(`drove localservices restart ${SID} --stop --wait -t 60s`, { DROVE_PASSWORD: PASSWORD, NO_COLOR: '1' });
    expect(restart.code, restart.out).toBe(0);
    expect(restart.out).toMatch(new RegExp(`${ESC}\\[\\d+A\\r${ESC}\\[J`));
    expect(restart.out).toContain(`${SID} restart: REPLACING_INSTANCES`);
    expect(restart.out).not.toMatch(SGR);
    expect(restart.out).toMatch(/All instances replaced\r?\n$/);
  });

  test('-o json|yaml|wide on the read commands, --json kept', LONG, async () => {
    const json = JSON.parse((await drove(['localservices', 'list', '-o', 'json'])).stdout) as Record<string, { instancesPerHost: number }>;
    expect(json[SID]!.instancesPerHost).toBe(1);
    expect(JSON.parse((await drove(['localservices', 'list', '--json'])).stdout)).toEqual(json);
    expect(parseYaml((await drove(['localservices', 'summary', SID, '-o', 'yaml'])).stdout)).toMatchObject({ id: SID, state: 'ACTIVE' });
    const wide = await drove(['localservices', 'list', '-o', 'wide']);
    expect(wide.stdout.split('\n')[0]).toMatch(/^Id +Name +State +Activation State +.* +Updated +Tags$/);
    expect(wide.stdout).toContain('role=node-agent');
    const ids = (await instances(SID)).map((i) => i.instanceId).sort();
    const lsWide = await drove(['lsinstances', 'list', SID, '--output', 'wide']);
    expect(lsWide.stdout.split('\n')[0]).toMatch(/^Instance ID +Executor Host +Ports +State +Error Message +Created +Last Updated +Executor ID +CPU Cores +Memory \(MB\) +Container Ports +Restarts +Last Failure +Next Attempt$/);
    expect(lsWide.stdout).toContain(executorId!);
    expect(lsWide.stdout).toMatch(/ main:8000\/http\n/);
    expect((JSON.parse((await drove(['lsinstances', 'list', SID, '--output', 'json'])).stdout) as Array<{ instanceId: string }>).map((i) => i.instanceId).sort()).toEqual(ids);
    expect(parseYaml((await drove(['lsinstances', 'info', SID, ids[0]!, '-o', 'yaml'])).stdout)).toMatchObject({ instanceId: ids[0], state: 'HEALTHY' });
    expect(parseYaml((await drove(['executor', 'list', '-o', 'yaml'])).stdout)).toMatchObject([{ executorId }]);
    expect(JSON.parse((await drove(['cluster', 'summary', '-o', 'json'])).stdout)).toMatchObject({ state: 'NORMAL', numLocalServices: 1 });
    expect(JSON.parse((await drove(['cluster', 'leader', '-o', 'json'])).stdout)).toEqual({ leader: api.replace('http://', '') });
    expect(Object.keys(parseYaml((await drove(['describe', 'localservice', SID, '-o', 'yaml'])).stdout) as object)).toEqual(['summary', 'spec', 'instances']);
    const events = (await drove(['cluster', 'events', '--type', 'LOCAL_SERVICE_STATE_CHANGE', '-o', 'json'])).stdout.trimEnd().split('\n');
    expect(events.map((line) => (JSON.parse(line) as { type: string }).type)).toEqual(events.map(() => 'LOCAL_SERVICE_STATE_CHANGE'));
    const clash = await drove(['localservices', 'list', '--json', '-o', 'yaml']);
    expect([clash.code, clash.stderr]).toEqual([2, 'Error: --json and --output yaml ask for two formats; give one\n']);
  });

  test('lsinstances replace --wait and kill --wait', LONG, async () => {
    const [first] = (await instances(SID)).map((i) => i.instanceId);
    const replace = await drove(['lsinstances', 'replace', SID, first!, '--stop', '--wait', '-t', '60s']);
    expect(replace.code, replace.stderr).toBe(0);
    expect(replace.stdout).toMatch(/^Instance\(s\) replace command accepted\.\n[\s\S]*targeted instances left 1[\s\S]*All instances replaced\n$/);
    const [second] = (await instances(SID)).map((i) => i.instanceId);
    expect(second).not.toBe(first);
    const kill = await drove(['lsinstances', 'kill', SID, second!, '--wait', '-t', '60s']);
    expect(kill.code, kill.stderr).toBe(0);
    expect(kill.stdout).toMatch(/^Instance\(s\) kill command accepted\.\n[\s\S]*All instances stopped\n$/);
    expect((await instances(SID)).map((i) => i.instanceId)).not.toContain(second);
  });

  test('completion scripts load in bash and zsh and complete a service id fetched from the server', LONG, async () => {
    for (const [shell, setup] of [
      ['bash --norc --noprofile -i', 'source <(drove --print-completion bash)'],
      // Emacs keys whatever $EDITOR says (zsh picks vi keys when it names vi, and Ctrl-A below is emacs).
      ['zsh -f -i', 'bindkey -e && autoload -U compinit && compinit -u && source <(drove --print-completion zsh)'],
    ] as const) {
      const sh = new Shell(shell);
      try {
        // Arithmetic in the markers: the echoed input never matches what the shell prints.
        await sh.type(`${setup} && export DROVE_PASSWORD=${PASSWORD} && echo LOADED:$((2+2))\r`, (out) => out.includes('LOADED:4'), `${shell}: the script to load`);
        // Type the start of the id, press TAB: the shell asks `drove __complete`, which asks the controller.
        await sh.type('drove localservices summary CLI_W\t', (out) => out.includes('CLI_WAIT-1'), `${shell}: the completed id`);
        // Run the completed line through echo (Ctrl-A: to the start of the line) to read it back as the shell has it.
        await sh.type('\x01echo COMPLETED:$((1+1)) \r', (out) => /COMPLETED:2 drove localservices summary CLI_WAIT-1\s/.test(out), `${shell}: the echoed line`);
      } finally {
        await sh.close();
      }
    }
  });

  test('exit codes: usage 2, refused 1, failed 3, timed out 3, unreachable 4; cancelop --wait settles a busy rollout', LONG, async () => {
    const usage = await drove(['localservices', 'activate']);
    expect([usage.code, usage.stderr]).toEqual([2, "error: missing required argument 'service-id'\n"]);
    expect((await drove(['localservices', 'update', SID, '0'])).code).toBe(2);
    const badTimeout = await drove(['localservices', 'activate', SID, '--wait', '--timeout', 'soon']);
    expect(badTimeout.code).toBe(2);
    expect(badTimeout.stderr).toContain('--timeout must be a duration such as 5m');
    const refused = await drove(['localservices', 'activate', SID, '--wait']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/Only \[|No operations allowed/);
    const unreachable = await drove(['-e', `http://127.0.0.1:${await freePort()}`, '-u', 'admin', 'cluster', 'ping']);
    expect(unreachable.code).toBe(4);
    expect(unreachable.stderr).toMatch(/^Error: Cannot reach http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);

    // Failed: every start fails its readiness check; the third failure ends the wait with the reason.
    expect((await drove(['localservices', 'create', join(dir, 'cli-fail.json')])).code).toBe(0);
    const failed = await drove(['localservices', 'activate', FAIL_SID, '--wait', '--timeout', '5m']);
    expect(failed.code, failed.stdout).toBe(3);
    expect(failed.stdout).toMatch(/\] failed: SI-[0-9a-f-]+ on 127\.0\.0\.1: READINESS_CHECK_FAILED/);
    // The third failed start, or the first attempt ending with a failure (the reconciler then tries again).
    expect(failed.stderr).toMatch(
      new RegExp(`^Error: activate ${FAIL_SID} failed: (3 new instances failed, last|\\d new instance\\(s\\) failed and the operation ended \\(ACTIVE\\); last): SI-[0-9a-f-]+ on 127\\.0\\.0\\.1: READINESS_CHECK_FAILED`),
    );
    // The reconciler retries it for ever; stopping it races with its next attempt (cancel works while an attempt
    // runs, deactivate between two), so either is tried until one is accepted.
    await waitUntil(`${FAIL_SID} stopped`, async () => {
      for (const op of ['cancelop', 'deactivate']) {
        const r = await drove(['localservices', op, FAIL_SID, '--wait', '--timeout', '3m']);
        if (r.code === 0) return r;
      }
      return undefined;
    }, { timeoutMs: 240_000, intervalMs: 0 });
    expect(await instances(FAIL_SID)).toEqual([]);

    // Timed out: the instance stays UNREADY for two minutes; the wait gives up after its --timeout.
    expect((await drove(['localservices', 'create', join(dir, 'cli-slow.json')])).code).toBe(0);
    const slow = await drove(['localservices', 'conftest', SLOW_SID, '--wait', '--timeout', '5s']);
    expect(slow.code, slow.stdout).toBe(3);
    expect(slow.stderr).toMatch(new RegExp(`^Error: Timed out after \\d+s waiting for conftest ${SLOW_SID}: `));
    // Cancelling the busy rollout: emergency deactivation, then at rest with nothing left running.
    const cancel = await drove(['localservices', 'cancelop', SLOW_SID, '--wait', '--timeout', '3m']);
    expect(cancel.code, cancel.stdout + cancel.stderr).toBe(0);
    expect(cancel.stdout).toMatch(/^Operation cancellation request registered :success\n/);
    expect(await instances(SLOW_SID)).toEqual([]);
    for (const sid of [FAIL_SID, SLOW_SID]) {
      const destroy = await drove(['localservices', 'destroy', sid, '--wait']);
      expect([destroy.code, destroy.stderr]).toEqual([0, '']);
      expect(destroy.stdout).toMatch(new RegExp(`^Local service destroyed\\n[\\s\\S]*Local service ${sid} is gone \\(took \\d+s\\)\\n$`));
    }
  });

  test('deactivate --wait and destroy --wait leave no instance and no container', LONG, async () => {
    await waitUntil(`${SID} at rest`, async () => {
      const s = await get<{ state: string }>(`/apis/v1/localservices/${SID}`);
      const list = await instances(SID);
      return s.state === 'ACTIVE' && list.length === 1 && list[0]!.state === 'HEALTHY';
    }, { timeoutMs: 120_000 });
    const deactivate = await drove(['localservices', 'deactivate', SID, '--wait', '--timeout', '3m']);
    expect(deactivate.code, deactivate.stderr).toBe(0);
    expect(deactivate.stdout).toMatch(new RegExp(`Local service ${SID} is INACTIVE, hosts 1/1 \\(took \\d+s\\)\\n$`));
    expect(await instances(SID)).toEqual([]);
    const destroy = await drove(['localservices', 'destroy', SID, '--wait']);
    expect(destroy.code, destroy.stderr).toBe(0);
    expect((await drove(['localservices', 'list', '--json'])).stdout.trim()).toBe('{}');
    await waitUntil('no container of this executor', () => ourContainers().length === 0 || undefined);
  });
});
