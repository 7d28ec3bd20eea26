import { pino, type Logger } from 'pino';
import { ManualClock, type LocalServiceOperation, type LocalServiceState } from '../../src/model/index.js';
import { parseControllerConfig } from '../../src/controller/config.js';
import { createController, type Controller } from '../../src/controller/controller.js';
import { SqliteStateStore } from '../../src/controller/store/sqlite.js';
import type { StateStore } from '../../src/controller/store/store.js';
import type { ControllerMetricsHooks } from '../../src/controller/metrics/hooks.js';
import { FakeExecutorFleet } from './fake-executors.js';
import { advanceUntil } from './wait.js';

/** A controller on a ManualClock with in-process fake executors and an in-memory SQLite store. */
export interface Harness {
  clock: ManualClock;
  store: StateStore;
  fleet: FakeExecutorFleet;
  controller: Controller;
  /** Every LOCAL_SERVICE_STATE_CHANGE, in order, as [serviceId, state]. */
  states: Array<[string, LocalServiceState]>;
  submit(op: LocalServiceOperation): Promise<void>;
  /** Advances virtual time in small steps until `condition` holds; fails after `maxMs` of virtual time. */
  until(condition: () => boolean, maxMs?: number, stepMs?: number): Promise<void>;
  /** Lets pending work run without moving virtual time until `condition` holds (proves nothing waited on a timer). */
  untilNow(condition: () => boolean, rounds?: number): Promise<void>;
  close(): Promise<void>;
}

export async function harness(
  options: Record<string, unknown> = {},
  store?: StateStore,
  logger?: Logger,
  /** Metrics of the controller, made on the harness's clock (so durations are virtual time). */
  metrics?: (clock: ManualClock) => ControllerMetricsHooks,
): Promise<Harness> {
  const clock = new ManualClock();
  const theStore = store ?? new SqliteStateStore(':memory:');
  const config = parseControllerConfig({ options: { reconcileInterval: '5 seconds', ...options }, logLevel: 'silent' });
  let controller: Controller | undefined;
  const fleet = new FakeExecutorFleet(() => controller!, clock);
  controller = await createController({
    config,
    store: theStore,
    clock,
    messenger: fleet,
    logger: logger ?? pino({ level: 'silent' }),
    hostname: 'controller.test',
    port: 4000,
    ...(metrics ? { metrics: metrics(clock) } : {}),
  });
  const states: Array<[string, LocalServiceState]> = [];
  controller.onEvent((event) => {
    if (event.type === 'LOCAL_SERVICE_STATE_CHANGE') {
      states.push([String(event.metadata.LOCAL_SERVICE_ID), event.metadata.CURRENT_STATE as LocalServiceState]);
    }
  });
  await controller.start();
  const h: Harness = {
    clock,
    store: theStore,
    fleet,
    controller,
    states,
    async submit(op) {
      const result = await controller!.submitOperation(op);
      if (!result.ok) throw new Error(`Operation ${op.type} rejected: ${result.errors.join('; ')}`);
    },
    async until(condition, maxMs = 120_000, stepMs = 50) {
      await advanceUntil(clock, 'the condition', condition, { maxMs, stepMs });
    },
    async untilNow(condition, rounds = 500) {
      for (let i = 0; i < rounds; i++) {
        if (condition()) return;
        await clock.advance(0);
      }
      throw new Error(`Condition not met without time passing (${rounds} rounds)`);
    },
    async close() {
      await controller!.stop();
      await theStore.close();
    },
  };
  return h;
}
