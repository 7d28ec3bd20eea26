import { pino } from 'pino';
import { parseControllerConfig } from '../../src/controller/config.js';
import { createController, type Controller } from '../../src/controller/controller.js';
import { SqliteStateStore } from '../../src/controller/store/sqlite.js';
import { ManualClock } from '../../src/model/index.js';
import { FakeExecutorFleet } from './fake-executors.js';
import { TestElector } from './test-elector.js';
import { advanceUntil } from './wait.js';

/**
 * A controller on a ManualClock with an in-memory SQLite store and in-process fake executors, whose leadership
 * the test hands out and takes away (`elector.gain()` / `elector.lose()`); it does not lead until then. For tests
 * of what a leader change does (engine-harness.ts is the same without an elector: it always leads).
 */
export interface ElectedController {
  clock: ManualClock;
  store: SqliteStateStore;
  elector: TestElector;
  fleet: FakeExecutorFleet;
  controller: Controller;
  /** Advances virtual time in steps until `condition` holds; fails after `maxMs` of virtual time. */
  until: (condition: () => boolean, maxMs?: number) => Promise<void>;
  close: () => Promise<void>;
}

export async function electedController(
  setup: {
    /** The controller's `options` (config file section); none: the defaults. */
    options?: Record<string, unknown>;
    /** Virtual time `until` may advance by default, and its step. */
    untilMaxMs: number;
    untilStepMs: number;
  },
): Promise<ElectedController> {
  const clock = new ManualClock();
  const store = new SqliteStateStore(':memory:');
  const elector = new TestElector();
  // Each test's fleet talks to its own controller only (late reports of an earlier test must not leak in).
  let mine: Controller | undefined;
  const fleet = new FakeExecutorFleet(() => mine!, clock);
  const controller = await createController({
    config: parseControllerConfig({ logLevel: 'silent', ...(setup.options ? { options: setup.options } : {}) }),
    store,
    clock,
    messenger: fleet,
    leadership: elector,
    logger: pino({ level: 'silent' }),
    hostname: 'me',
    port: 4000,
  });
  mine = controller;
  await controller.start();
  return {
    clock,
    store,
    elector,
    fleet,
    controller,
    until: async (condition, maxMs = setup.untilMaxMs) => {
      await advanceUntil(clock, 'the condition', condition, { maxMs, stepMs: setup.untilStepMs });
    },
    close: async () => {
      await controller.stop();
      await store.close();
    },
  };
}
