import { randomUUID } from 'node:crypto';
import {
  sleep,
  type ExecutorAddress,
  type ExecutorMessage,
  type LocalServiceInstanceSpec,
  type MessageHeader,
  type MessageResponse,
} from '../../../model/index.js';
import type { EngineDeps } from '../deps.js';

export function requestHeader(now: number): MessageHeader {
  return { id: randomUUID(), senderType: 'CONTROLLER', direction: 'REQUEST', messageTime: now };
}

export function startMessage(address: ExecutorAddress, spec: LocalServiceInstanceSpec, now: number): ExecutorMessage {
  return { type: 'START_LOCAL_SERVICE_INSTANCE', header: requestHeader(now), address, spec };
}

export function stopMessage(address: ExecutorAddress, instanceId: string, now: number): ExecutorMessage {
  return { type: 'STOP_LOCAL_SERVICE_INSTANCE', header: requestHeader(now), address, instanceId };
}

/**
 * Drove's controller send policy (docs/design/executor-protocol.md#controller-to-executor-messages): re-send every
 * second for up to 30 s until the executor answers ACCEPTED. Returns the last response (FAILED with a reason when it
 * never accepted). Aborting `signal` stops the retries (the response so far is returned). `requestId` goes with
 * every attempt (docs/request-ids.md).
 */
export async function sendUntilAccepted(
  deps: Pick<EngineDeps, 'messenger' | 'clock' | 'timings' | 'logger'>,
  address: ExecutorAddress,
  build: (now: number) => ExecutorMessage,
  signal?: AbortSignal,
  requestId?: string,
): Promise<MessageResponse> {
  const deadline = deps.clock.now() + deps.timings.messageRetryWindowMs;
  let last: MessageResponse | undefined;
  for (;;) {
    const message = build(deps.clock.now());
    try {
      last = await deps.messenger.send(address, message, requestId === undefined ? {} : { requestId });
    } catch (error) {
      last = { header: message.header, status: 'FAILED', message: (error as Error).message };
    }
    if (last.status === 'ACCEPTED') return last;
    deps.logger.debug(
      { executorId: address.executorId, type: message.type, status: last.status, reason: last.message, requestId },
      'Executor did not accept message',
    );
    if (signal?.aborted || deps.clock.now() + deps.timings.messageRetryIntervalMs > deadline) return last;
    try {
      await sleep(deps.clock, deps.timings.messageRetryIntervalMs, signal);
    } catch {
      return last;
    }
  }
}
