import { Option, type Command } from 'commander';
import { durationMs } from '../../model/index.js';
import { intOption } from '../runtime.js';
import type { WaitGoal } from '../wait/goal.js';
import { durationArgument } from './wait-options.js';

/** Where every local-service operation is posted. */
export const OPERATIONS = '/apis/v1/localservices/operations';

export type OpSpecOptions = { parallelism: number; timeout: string };

/** The Python CLI's op-spec options of restart, replace and kill: `-t` is the timeout of each instance job. */
export function withOpSpecOptions(command: Command): Command {
  return command
    .addOption(new Option('-p, --parallelism <n>', 'instances handled in parallel').default(1).argParser(intOption('--parallelism', 1, 512)))
    .addOption(
      new Option('-t, --timeout <duration>', 'timeout of each instance job, e.g. 5m, 300 seconds (--wait allows one per batch)')
        .default('5m')
        .argParser(durationArgument('--timeout')),
    );
}

export function opSpecOf(options: OpSpecOptions) {
  return { timeout: options.timeout, parallelism: options.parallelism, failureStrategy: 'STOP' };
}

/**
 * 10 s: added to the op spec's deadline for the last batch's reports and a reconciler pass (5 s) to land.
 */
const OP_SPEC_SLACK_MS = 10_000;

/**
 * How long --wait gives an operation with an op spec: one job timeout per batch of `parallelism` targeted
 * instances, as the controller itself allows, plus slack.
 */
export function opSpecDeadline(opSpec: { timeout: string; parallelism: number }): (goal: WaitGoal) => number {
  return (goal) => {
    const targets = goal.kind === 'replaced' || goal.kind === 'stopped' ? goal.targets.size : 1;
    return durationMs(opSpec.timeout) * Math.max(1, Math.ceil(targets / Math.max(1, opSpec.parallelism))) + OP_SPEC_SLACK_MS;
  };
}
