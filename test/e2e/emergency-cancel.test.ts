import { describe, expect, it } from 'vitest';
import { containerNames, useE2eCluster } from '../support/e2e-cluster.js';
import { fastSpec } from '../support/specs.js';
import { waitUntil } from '../support/wait.js';

/**
 * Cancelling ADJUST_INSTANCES while the service is ACTIVE is the emergency path of Drove's documentation
 * (docs/design/operations.md#emergency-deactivation):
 * EMERGENCY_DEACTIVATION_REQUESTED, the controller deactivates on its own, and nothing is left running.
 */

const SERVICE = 'SLOW_AGENT-1';

describe('cancel during ADJUST_INSTANCES', () => {
  const fixture = useE2eCluster({ hosts: 2, controller: { options: { reconcileInterval: '1 second' } } });

  const serviceContainers = async () =>
    (await Promise.all(fixture.net.hosts.map((h) => containerNames(h, true)))).flat().filter((n) => n.startsWith(`${SERVICE}-SI-`));

  it('moves to EMERGENCY_DEACTIVATION_REQUESTED, deactivates by itself and leaves no container', async () => {
    // Readiness waits a minute before its first probe, so the start jobs (and ADJUST_INSTANCES) are still running
    // when the cancel arrives.
    const base = fastSpec('node-agent.json');
    const spec = { ...base, name: 'SLOW_AGENT', readiness: { ...base.readiness, initialDelay: '60 seconds' } };
    const since = Date.now() - 1;
    await fixture.cluster.api.accepted({ type: 'CREATE', spec, instancesPerHost: 1 });
    await fixture.cluster.api.waitForService(SERVICE, 'INACTIVE');
    await fixture.cluster.api.accepted({ type: 'ACTIVATE', serviceId: SERVICE });
    await fixture.cluster.api.waitForService(SERVICE, 'ADJUSTING_INSTANCES');
    await waitUntil('a half-started container', async () => (await serviceContainers()).length > 0 || undefined);

    const cancel = await fixture.cluster.api.cancel(SERVICE);
    expect(cancel.statusCode).toBe(200);
    expect(cancel.body.status).toBe('SUCCESS');

    await fixture.cluster.api.waitForService(SERVICE, 'INACTIVE', (s) => s.activationState === 'INACTIVE');
    await waitUntil('every container of the service to be gone', async () => (await serviceContainers()).length === 0 || undefined);
    await fixture.cluster.api.waitForInstances(SERVICE, 'no running instance', (l) => l.length === 0);

    const states = (await fixture.cluster.api.events(since))
      .filter((e) => e.type === 'LOCAL_SERVICE_STATE_CHANGE' && e.metadata.LOCAL_SERVICE_ID === SERVICE)
      .map((e) => e.metadata.CURRENT_STATE);
    const emergency = states.indexOf('EMERGENCY_DEACTIVATION_REQUESTED');
    expect(emergency, JSON.stringify(states)).toBeGreaterThan(0);
    expect(states.slice(emergency - 1, emergency + 3)).toEqual([
      'ADJUSTING_INSTANCES',
      'EMERGENCY_DEACTIVATION_REQUESTED',
      'DEACTIVATION_REQUESTED',
      'INACTIVE',
    ]);
  });

  it('answers 400 when nothing cancellable is running (no spurious success)', async () => {
    await fixture.cluster.api.waitForService(SERVICE, 'INACTIVE');
    const reply = await fixture.cluster.api.cancel(SERVICE);
    expect(reply.statusCode).toBe(400);
    expect(reply.body).toMatchObject({ status: 'FAILED', message: 'Current operation could not be cancelled' });
  });
});
