import { randomUUID } from 'node:crypto';
import {
  EXECUTOR_BLACKLISTED_STATES,
  EXECUTOR_ELIGIBLE_STATES,
  type BlacklistOperationResponse,
  type Clock,
  type ExecutorMessage,
  type ExecutorState,
} from '../../model/index.js';
import type { ExecutorMessenger } from './messenger.js';
import { addressOf, type ExecutorRegistry } from './registry.js';

/**
 * Executor blacklisting (docs/design/placement.md#blacklisted-executors). Synchronous like Drove's: the controller
 * sends the message, then waits (up to `confirmationTimeoutMs`) until the executor's own heartbeat shows the new
 * state, and answers per executor. A local-services-only cluster has no app instances to move, so
 * `approxCompletionTimeMs` is 0.
 */

export interface BlacklistingOptions {
  /** How long to wait for executors to confirm (Drove: 1 minute; executors heartbeat on every state change). */
  confirmationTimeoutMs?: number;
}

const DEFAULT_CONFIRMATION_TIMEOUT_MS = 60_000;

export const BLACKLIST_MESSAGES = {
  success: 'Blacklisting successful and app movement scheduled',
  notSent: 'Blacklisting messages could not be sent to any of the executors.',
  notReflected: 'Blacklisting did not reflect in cluster resources DB for any of the executors.',
  underway: 'A blacklisting related operation is underway already. Will not accept new requests',
} as const;

export const UNBLACKLIST_MESSAGES = {
  all: 'Unblacklisting successful for all executors',
  some: 'Unblacklisting successful for some executors. Check logs for details.',
  underway: BLACKLIST_MESSAGES.underway,
} as const;

export class BlacklistingService {
  private busy = false;
  private readonly confirmationTimeoutMs: number;

  constructor(
    private readonly deps: {
      registry: ExecutorRegistry;
      messenger: ExecutorMessenger;
      clock: Clock;
      options?: BlacklistingOptions;
    },
  ) {
    this.confirmationTimeoutMs = deps.options?.confirmationTimeoutMs ?? DEFAULT_CONFIRMATION_TIMEOUT_MS;
  }

  async blacklist(executorIds: readonly string[]): Promise<BlacklistOperationResponse> {
    return this.exclusively(executorIds, async (ids) => {
      const { sent, failed } = await this.sendToEach(ids, 'BLACKLIST', (state) => !EXECUTOR_BLACKLISTED_STATES.has(state), (id) =>
        this.deps.registry.requestBlacklist(id),
      );
      if (sent.length === 0) return response([], failed, BLACKLIST_MESSAGES.notSent);
      const confirmed = await this.awaitReportedStates(sent, EXECUTOR_BLACKLISTED_STATES);
      const successful = sent.filter((id) => confirmed.has(id));
      for (const id of sent) {
        if (confirmed.has(id)) continue;
        // Not confirmed in time: stop pretending; the executor's own state is what counts from here on.
        this.deps.registry.cancelBlacklistRequest(id);
        failed.push(id);
      }
      if (successful.length === 0) return response([], failed, BLACKLIST_MESSAGES.notReflected);
      return response(successful, failed, BLACKLIST_MESSAGES.success);
    });
  }

  /**
   * An executor counts as unblacklisted once it reports ACTIVE or UNREADY. Drove waits for ACTIVE, but a
   * freshly unblacklisted executor stays UNREADY until its local services are HEALTHY (readiness gating), which
   * is not part of unblacklisting succeeding.
   */
  async unblacklist(executorIds: readonly string[]): Promise<BlacklistOperationResponse> {
    return this.exclusively(executorIds, async (ids) => {
      const { sent, failed } = await this.sendToEach(ids, 'UNBLACKLIST', (state) => EXECUTOR_BLACKLISTED_STATES.has(state), (id) =>
        this.deps.registry.cancelBlacklistRequest(id),
      );
      const confirmed = sent.length > 0 ? await this.awaitReportedStates(sent, EXECUTOR_ELIGIBLE_STATES) : new Set();
      const successful = sent.filter((id) => confirmed.has(id));
      failed.push(...sent.filter((id) => !confirmed.has(id)));
      return response(successful, failed, failed.length === 0 ? UNBLACKLIST_MESSAGES.all : UNBLACKLIST_MESSAGES.some);
    });
  }

  /** One blacklisting-related operation at a time, as in Drove: a second one meanwhile fails for every executor. */
  private async exclusively(
    executorIds: readonly string[],
    operation: (ids: string[]) => Promise<BlacklistOperationResponse>,
  ): Promise<BlacklistOperationResponse> {
    const ids = unique(executorIds);
    if (this.busy) return response([], ids, BLACKLIST_MESSAGES.underway);
    this.busy = true;
    try {
      return await operation(ids);
    } finally {
      this.busy = false;
    }
  }

  /**
   * Sends `type` to each known executor whose state `applies`, and marks the registry (`accepted`) for each one
   * that took it; unknown executors, ones the operation does not apply to and refusals are `failed`.
   */
  private async sendToEach(
    ids: readonly string[],
    type: 'BLACKLIST' | 'UNBLACKLIST',
    applies: (state: ExecutorState) => boolean,
    accepted: (id: string) => void,
  ): Promise<{ sent: string[]; failed: string[] }> {
    const failed: string[] = [];
    const sent: string[] = [];
    for (const id of ids) {
      const record = this.deps.registry.byId(id);
      if (!record || !applies(record.state)) failed.push(id);
      else if (await this.sendTo(id, type)) {
        accepted(id);
        sent.push(id);
      } else failed.push(id);
    }
    return { sent, failed };
  }

  private async sendTo(executorId: string, type: 'BLACKLIST' | 'UNBLACKLIST'): Promise<boolean> {
    const record = this.deps.registry.byId(executorId);
    if (!record) return false;
    const message: ExecutorMessage = {
      type,
      header: { id: randomUUID(), senderType: 'CONTROLLER', direction: 'REQUEST', messageTime: this.deps.clock.now() },
      address: addressOf(record.nodeData),
    };
    try {
      const answer = await this.deps.messenger.send(message.address, message);
      return answer.status === 'ACCEPTED';
    } catch {
      return false;
    }
  }

  /** Waits until each executor's own reported state is in `wanted`, or the timeout; returns those that got there. */
  private awaitReportedStates(executorIds: readonly string[], wanted: ReadonlySet<ExecutorState>): Promise<Set<string>> {
    const registry = this.deps.registry;
    const reached = () =>
      new Set(executorIds.filter((id) => {
        const state = registry.reportedState(id);
        return state !== undefined && wanted.has(state);
      }));
    return new Promise((resolve) => {
      const initial = reached();
      if (initial.size === executorIds.length) return resolve(initial);
      const finish = () => {
        unsubscribeChanges();
        unsubscribeHeartbeats();
        cancelTimer();
        resolve(reached());
      };
      const check = () => {
        if (reached().size === executorIds.length) finish();
      };
      // Effective-state changes cover most confirmations; heartbeats cover an executor confirming with the
      // very state the overlay already shows (BLACKLIST_REQUESTED).
      const unsubscribeChanges = registry.onChange(check);
      const unsubscribeHeartbeats = registry.onResources(check);
      const cancelTimer = this.deps.clock.setTimer(finish, this.confirmationTimeoutMs);
    });
  }
}

function response(successful: string[], failed: string[], message: string): BlacklistOperationResponse {
  return { successful, failed, approxCompletionTimeMs: 0, message };
}

function unique(ids: readonly string[]): string[] {
  return [...new Set(ids)];
}
