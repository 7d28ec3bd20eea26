import { InvalidArgumentError, Option, type Command } from 'commander';
import { durationMs, parseDuration } from '../../model/index.js';
import { UsageError } from '../exit-codes.js';
import type { CommandContext } from '../runtime.js';
import { describeProgress, formatElapsed, progressDisplay } from '../wait/display.js';
import type { Snapshot, WaitGoal } from '../wait/goal.js';
import { submitAndWait, type WaitResult } from '../wait/watch.js';

/** `--wait` and `--timeout` on every command that submits an operation, and what running one with them does. */

export type WaitFlags = { wait?: boolean; timeout: string };

/** A Drove duration (`5m`, `300 seconds`), checked when the command line is read. */
export function durationArgument(flag: string) {
  return (value: string): string => {
    if (!parseDuration(value)) throw new InvalidArgumentError(`${flag} must be a duration such as 5m or "300 seconds", got "${value}"`);
    return value;
  };
}

/**
 * 5 minutes: what Drove gives one instance job by default, and so what one batch of a rollout takes at worst;
 * a larger rollout is given a longer `--timeout` by whoever starts it.
 */
export const DEFAULT_WAIT_TIMEOUT = '5m';

/**
 * `-w, --wait` (the Python CLI's flag on restart, replace and kill) and, where the command has no op-spec
 * timeout of its own, `-t, --timeout` for how long to wait.
 */
export function withWaitOptions(command: Command, what: string, { timeout = true }: { timeout?: boolean } = {}): Command {
  command.option('-w, --wait', `wait until ${what}, showing progress`);
  if (timeout) {
    command.addOption(
      new Option('-t, --timeout <duration>', 'how long --wait waits, e.g. 5m, "300 seconds"').default(DEFAULT_WAIT_TIMEOUT).argParser(durationArgument('--timeout')),
    );
  }
  return command;
}

export interface Operation {
  serviceId: string;
  /** The command's name, shown in the progress display. */
  operation: string;
  goal: (before: Snapshot) => WaitGoal;
  /** Posts the operation and prints its acceptance, exactly as without --wait. */
  submit: () => Promise<void>;
  /** Wait deadline for the goal; by default `--timeout`. */
  timeoutMs?: (goal: WaitGoal) => number;
  /** The last line once done; by default the service's state and counts. */
  done?: (result: WaitResult) => string;
}

export async function runOperation(ctx: CommandContext<WaitFlags>, op: Operation): Promise<void> {
  if (!ctx.options.wait) return op.submit();
  // A spec without name or version has no id to follow; the controller refuses it, nothing to wait for.
  if (!op.serviceId) throw new UsageError('--wait needs the service id: the spec file needs "name" and "version"');
  const result = await submitAndWait(
    { client: ctx.client, clock: ctx.clock, display: progressDisplay(process.stdout, ctx.terminal) },
    { serviceId: op.serviceId, operation: op.operation, goal: op.goal, submit: op.submit, timeoutMs: op.timeoutMs ?? (() => durationMs(ctx.options.timeout)) },
  );
  ctx.print(op.done ? op.done(result) : `Local service ${op.serviceId} is ${describeProgress(result.progress)} (took ${formatElapsed(result.elapsedMs)})`);
}

/** The healthy instances a restart replaces, as they were before it was submitted. */
export function healthyOf(before: Snapshot): Set<string> {
  return new Set(before.instances.filter((i) => i.state === 'HEALTHY').map((i) => i.instanceId));
}
