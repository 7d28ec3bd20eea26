import { afterEach, describe, expect, it } from 'vitest';
import {
  ALLOWED_OPERATIONS,
  SERVICE_TRANSITIONS,
  isAllowedTransition,
  workingStateFor,
} from '../../../src/controller/engine/state-machine.js';
import { LOCAL_SERVICE_STATES, isSteady, type LocalServiceOperation } from '../../../src/model/index.js';
import { harness, type Harness } from '../../support/engine-harness.js';
import { testSpec } from '../../support/specs.js';

describe('service transition table', () => {
  it('has an entry for every state, naming only known states', () => {
    expect(Object.keys(SERVICE_TRANSITIONS).sort()).toEqual([...LOCAL_SERVICE_STATES].sort());
    for (const { next } of Object.values(SERVICE_TRANSITIONS)) for (const s of next) expect(LOCAL_SERVICE_STATES).toContain(s);
  });

  it('makes DESTROYED terminal and never enters DEPLOYING_TEST_INSTANCE', () => {
    expect(SERVICE_TRANSITIONS.DESTROYED).toEqual({ action: undefined, next: [] });
    for (const { next } of Object.values(SERVICE_TRANSITIONS)) expect(next).not.toContain('DEPLOYING_TEST_INSTANCE');
  });

  it('lets adjust and replace end in an emergency deactivation, which only leads to DEACTIVATION_REQUESTED', () => {
    expect(isAllowedTransition('ADJUSTING_INSTANCES', 'EMERGENCY_DEACTIVATION_REQUESTED')).toBe(true);
    expect(isAllowedTransition('REPLACING_INSTANCES', 'EMERGENCY_DEACTIVATION_REQUESTED')).toBe(true);
    expect(isAllowedTransition('STOPPING_INSTANCES', 'EMERGENCY_DEACTIVATION_REQUESTED')).toBe(false);
    expect(SERVICE_TRANSITIONS.EMERGENCY_DEACTIVATION_REQUESTED.next).toEqual(['DEACTIVATION_REQUESTED', 'EMERGENCY_DEACTIVATION_REQUESTED']);
  });

  it('routes every operation a steady state accepts to a working state that state may enter', () => {
    for (const state of ['ACTIVE', 'CONFIG_TESTING', 'INACTIVE'] as const) {
      expect(isSteady(state)).toBe(true);
      for (const type of ALLOWED_OPERATIONS[state]!) {
        const target = workingStateFor({ type, serviceId: 'S' } as LocalServiceOperation)!;
        expect(isAllowedTransition(state, target)).toBe(true);
      }
    }
  });
});

describe('job batches', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it('run at most opSpec.parallelism jobs at once', async () => {
    h = await harness({ reconcileInterval: '1 day' });
    await h.controller.term!.reconciler.stop();
    for (let i = 0; i < 10; i++) await h.fleet.add(`ex${i}.local`, { onStart: () => ({ kind: 'hang' }) });
    await h.submit({ type: 'CREATE', spec: testSpec(), instancesPerHost: 1 });
    await h.until(() => h.controller.serviceSummary('TEST_SPEC-00001')?.state === 'INACTIVE');
    await h.submit({ type: 'ACTIVATE', serviceId: 'TEST_SPEC-00001' });
    await h.until(() => h.controller.serviceSummary('TEST_SPEC-00001')?.state === 'ACTIVE');
    await h.submit({
      type: 'ADJUST_INSTANCES',
      serviceId: 'TEST_SPEC-00001',
      opSpec: { timeout: '1 second', parallelism: 3, failureStrategy: 'STOP' },
    });
    const starts = () => h.fleet.sent.filter((m) => m.type === 'START_LOCAL_SERVICE_INSTANCE').length;
    await h.until(() => starts() === 3, 1_000, 10);
    await h.clock.advance(60_000);
    expect(starts()).toBe(3);
  });
});
