import {
  EXECUTOR_ELIGIBLE_STATES,
  isSteady,
  type ExecutorSummary,
  type LocalServiceInstanceInfo,
  type LocalServiceSummary,
} from '../model/index.js';
import type { DroveClient } from './client.js';
import { CommandFailure } from './runtime.js';

/**
 * `--wait` for restart / replace / kill: polls the local service's summary and instances (the LS endpoint; the Python
 * CLI polled the applications endpoint for replace/kill, docs/design/cli.md#where-it-differs) until every targeted
 * instance is gone and the service is back in a steady state (with every desired instance healthy, for replacements).
 * Prints progress on each change; fails on emergency deactivation, on an operation that ended with targeted instances
 * still running, or on timeout.
 */

export interface WaitOptions {
  /** Poll period: state reports reach the leader in well under a second, so 1 s shows progress promptly. */
  pollIntervalMs: number;
  /**
   * How long a steady state with targeted instances still present is taken as "not started yet" rather than
   * "failed": the service runner picks up an accepted operation at once, so a few seconds are plenty.
   */
  startGraceMs: number;
  /** Added to the computed deadline for the last batch's reports and a reconciler pass (5 s) to land. */
  slackMs: number;
}

export const DEFAULT_WAIT_OPTIONS: WaitOptions = { pollIntervalMs: 1_000, startGraceMs: 10_000, slackMs: 10_000 };

export async function waitForInstancesGone(
  client: DroveClient,
  serviceId: string,
  targetIds: ReadonlySet<string>,
  opts: {
    timeoutMs: number;
    parallelism: number;
    print: (line: string) => void;
    what: string;
    /** Replacements must also be healthy (restart, replace); a kill only needs the instances gone. */
    requireHealthy: boolean;
  },
  options: WaitOptions = DEFAULT_WAIT_OPTIONS,
): Promise<void> {
  const base = `/apis/v1/localservices/${encodeURIComponent(serviceId)}`;
  const batches = Math.max(1, Math.ceil(targetIds.size / Math.max(1, opts.parallelism)));
  const started = Date.now();
  const deadline = started + opts.timeoutMs * batches + options.slackMs;
  const executors = await client.get<ExecutorSummary[]>('/apis/v1/cluster/executors');
  const eligible = executors.filter((e) => EXECUTOR_ELIGIBLE_STATES.has(e.state)).length;
  let seenBusy = false;
  let lastLine = '';
  for (;;) {
    const summary = await client.get<LocalServiceSummary>(base);
    const instances = await client.get<LocalServiceInstanceInfo[]>(`${base}/instances`);
    const state = summary.state ?? summary.activationState;
    const remaining = instances.filter((i) => targetIds.has(i.instanceId)).length;
    const healthy = instances.filter((i) => i.state === 'HEALTHY').length;
    const desired = summary.activationState === 'CONFIG_TESTING' ? 1 : summary.activationState === 'ACTIVE' ? summary.instancesPerHost * eligible : 0;
    const line = `State: ${state}, healthy instances: ${healthy}/${desired}, ${opts.what} remaining: ${remaining}`;
    if (line !== lastLine) {
      opts.print(line);
      lastLine = line;
    }
    const steady = isSteady(state);
    if (!steady) seenBusy = true;
    if (state === 'EMERGENCY_DEACTIVATION_REQUESTED') {
      throw new CommandFailure(`Operation on ${serviceId} was cancelled: the service is being deactivated (emergency)`);
    }
    if (remaining === 0 && steady && (!opts.requireHealthy || healthy >= desired)) return;
    if (steady && remaining > 0 && (seenBusy || Date.now() - started > options.startGraceMs)) {
      throw new CommandFailure(
        `Operation on ${serviceId} ended in state ${state} with ${remaining} ${opts.what} still present; see 'drove cluster events --type LOCAL_SERVICE_STATE_CHANGE'`,
      );
    }
    if (Date.now() > deadline) {
      throw new CommandFailure(`Timed out after ${Math.round((Date.now() - started) / 1000)} s waiting for ${serviceId}: ${line}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollIntervalMs));
  }
}
