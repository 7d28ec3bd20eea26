import { Agent, request } from 'undici';
import type { Clock } from '../model/clock.js';
import { sleep, systemClock } from '../model/clock.js';
import { durationMs } from '../model/duration.js';
import type { InstancePort } from '../model/instance.js';
import type { CheckModeSpec, CmdCheckMode, HttpCheckMode } from '../model/spec.js';
import type { ContainerRuntime } from './runtime/runtime.js';

/** Readiness/health probes (HTTP against the instance's host port, CMD inside the container) and pre-shutdown hooks. */

export interface CheckTarget {
  containerId?: string;
  ports: Record<string, InstancePort>;
}

export interface CheckResult {
  healthy: boolean;
  message: string;
}

export interface Checker {
  /** Never throws: a probe that cannot run is an unhealthy result whose message says why. */
  check(mode: CheckModeSpec, target: CheckTarget, timeoutMs: number, signal?: AbortSignal): Promise<CheckResult>;
}

/** Drove puts at most the first 8 KiB of a failed probe's response body in the message. */
export const MAX_BODY_EXCERPT = 8 * 1024;
/**
 * Output of a CMD probe or hook kept for its message: the same 8 KiB as an HTTP probe's body. The output serves
 * only as the failure message, which travels in every instance report and event, so more would only cost; the
 * rest is read and dropped (a command printing gigabytes must not grow the executor's memory).
 */
export const MAX_OUTPUT_EXCERPT = MAX_BODY_EXCERPT;
const DEFAULT_CONNECTION_TIMEOUT_MS = 1_000;

export class ProbeChecker implements Checker {
  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly host = 'localhost',
    private readonly clock: Clock = systemClock,
  ) {}

  async check(mode: CheckModeSpec, target: CheckTarget, timeoutMs: number, signal?: AbortSignal): Promise<CheckResult> {
    try {
      return mode.type === 'HTTP'
        ? await httpProbe(mode, target, timeoutMs, this.host, signal)
        : await cmdProbe(this.runtime, mode, target, { timeoutMs, clock: this.clock, ...(signal ? { signal } : {}) });
    } catch (error) {
      return { healthy: false, message: errorText(error) };
    }
  }
}

export async function httpProbe(
  mode: HttpCheckMode,
  target: CheckTarget,
  timeoutMs: number,
  host: string,
  signal?: AbortSignal,
): Promise<CheckResult> {
  const port = target.ports[mode.portName];
  if (!port) return { healthy: false, message: `No port named ${mode.portName} on this instance` };
  const scheme = mode.protocol === 'HTTPS' ? 'https' : 'http';
  const path = mode.path.startsWith('/') ? mode.path : `/${mode.path}`;
  const url = `${scheme}://${host}:${port.hostPort}${path}`;
  const agent = new Agent({
    connect: {
      timeout: durationMs(mode.connectionTimeout, DEFAULT_CONNECTION_TIMEOUT_MS),
      rejectUnauthorized: !mode.insecure,
      autoSelectFamily: true,
    },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  try {
    const hasBody = mode.verb !== 'GET' && mode.payload !== undefined && mode.payload !== '';
    // undici's request() never follows redirects unless told to, which is what Drove's checks do.
    const response = await request(url, {
      method: mode.verb,
      dispatcher: agent,
      ...(hasBody ? { body: mode.payload, headers: { 'content-type': 'application/json' } } : {}),
      ...(signal ? { signal } : {}),
    });
    const body = await readExcerpt(response.body, MAX_BODY_EXCERPT);
    if (mode.successCodes.includes(response.statusCode)) return { healthy: true, message: '' };
    return { healthy: false, message: `Received status ${response.statusCode} from ${url}. Response: ${body}` };
  } finally {
    agent.destroy().catch(() => undefined);
  }
}

async function readExcerpt(body: AsyncIterable<Buffer> & { destroy(): void }, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= limit) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

/** `sh -c <command>`, or the command split on single spaces when the shell is disabled. */
export function commandLine(mode: CmdCheckMode, forceShell = false): string[] {
  return mode.shellDisabled && !forceShell ? mode.command.split(' ').filter((p) => p !== '') : ['sh', '-c', mode.command];
}

/** Why a CMD probe was cut short at its timeout (the abort reason the runtime rethrows). */
class CommandTimeout extends Error {}

/**
 * Runs the command in the container, killed at `timeoutMs` (Drove has no timeout for CMD checks, so a hung
 * command froze monitoring with the instance still HEALTHY): a command that overruns is a failed probe, and the
 * next probe runs on schedule.
 */
export async function cmdProbe(
  runtime: ContainerRuntime,
  mode: CmdCheckMode,
  target: CheckTarget,
  options: { timeoutMs: number; clock: Clock; signal?: AbortSignal; forceShell?: boolean },
): Promise<CheckResult> {
  if (!target.containerId) return { healthy: false, message: 'No container to run the command in' };
  const timeout = new AbortController();
  const cancelTimer = options.clock.setTimer(
    () => timeout.abort(new CommandTimeout(`Command timed out after ${options.timeoutMs} ms and was killed`)),
    options.timeoutMs,
  );
  const signal = options.signal ? AbortSignal.any([options.signal, timeout.signal]) : timeout.signal;
  try {
    const result = await runtime.exec(target.containerId, commandLine(mode, options.forceShell), {
      signal,
      maxOutputBytes: MAX_OUTPUT_EXCERPT,
    });
    if (result.exitCode === 0) return { healthy: true, message: '' };
    const output = result.truncated ? `${result.output} [output cut at ${MAX_OUTPUT_EXCERPT} bytes]` : result.output;
    return { healthy: false, message: `Command exited with exit code: ${result.exitCode}. Output: ${output}` };
  } catch (error) {
    if (timeout.signal.aborted) return { healthy: false, message: errorText(error) };
    throw error;
  } finally {
    cancelTimer();
  }
}

export function errorText(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as Error & { cause?: unknown }).cause;
    const causeText = cause instanceof Error && cause.message && !error.message.includes(cause.message) ? `: ${cause.message}` : '';
    return `${error.message || error.name}${causeText}`;
  }
  return String(error);
}

/** Pre-shutdown HTTP hook policy (Drove): retry every 3 s, at most 5 attempts and 30 s, 1 s per request. */
export interface HookOptions {
  httpRetryIntervalMs: number;
  httpMaxAttempts: number;
  httpMaxTotalMs: number;
  httpTimeoutMs: number;
  /**
   * A CMD hook is killed after this long (Drove waits for it without end, so a hung hook kept the instance from
   * ever stopping). 30 s: the most an HTTP hook may take in all, so either kind of hook drains for as long.
   */
  cmdTimeoutMs: number;
}

export const DEFAULT_HOOK_OPTIONS: HookOptions = {
  httpRetryIntervalMs: 3_000,
  httpMaxAttempts: 5,
  httpMaxTotalMs: 30_000,
  httpTimeoutMs: 1_000,
  cmdTimeoutMs: 30_000,
};

export interface HookOutcome {
  hook: CheckModeSpec;
  ok: boolean;
  attempts: number;
  message: string;
}

/**
 * Runs every hook in order; failures are reported but never stop the shutdown. CMD hooks always run through
 * `sh -c` (Drove ignores their shellDisabled flag).
 */
export async function runPreShutdownHooks(
  hooks: readonly CheckModeSpec[],
  target: CheckTarget,
  checker: Checker,
  clock: Clock,
  options: HookOptions = DEFAULT_HOOK_OPTIONS,
): Promise<HookOutcome[]> {
  const outcomes: HookOutcome[] = [];
  for (const hook of hooks) {
    if (hook.type === 'CMD') {
      const result = await checker.check({ ...hook, shellDisabled: false }, target, options.cmdTimeoutMs);
      outcomes.push({ hook, ok: result.healthy, attempts: 1, message: result.message });
      continue;
    }
    if (!target.ports[hook.portName]) {
      outcomes.push({ hook, ok: false, attempts: 0, message: `No port named ${hook.portName}; hook skipped` });
      continue;
    }
    const started = clock.now();
    let attempts = 0;
    let last: CheckResult = { healthy: false, message: '' };
    while (attempts < options.httpMaxAttempts) {
      attempts++;
      last = await checker.check(hook, target, options.httpTimeoutMs);
      if (last.healthy) break;
      if (clock.now() - started + options.httpRetryIntervalMs > options.httpMaxTotalMs) break;
      if (attempts < options.httpMaxAttempts) await sleep(clock, options.httpRetryIntervalMs);
    }
    outcomes.push({ hook, ok: last.healthy, attempts, message: last.message });
  }
  return outcomes;
}
