import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { containerNames, startE2eCluster, type E2eCluster } from '../support/e2e-cluster.js';
import { ensureTestImage, TEST_IMAGE } from '../support/images.js';
import { createNetnsCluster, type NetnsCluster } from '../support/netns.js';
import { fastSpec } from '../support/specs.js';
import { waitUntil } from '../support/wait.js';

/**
 * Cancelling ADJUST_INSTANCES while the service is ACTIVE is the emergency path of Drove's documentation
 * (docs/design/operations.md#emergency-deactivation):
 * EMERGENCY_DEACTIVATION_REQUESTED, the controller deactivates on its own, and nothing is left running.
 */

const SERVICE = 'SLOW_AGENT-1';

describe('cancel during ADJUST_INSTANCES', () => {
  let net: NetnsCluster;
  let cluster: E2eCluster;

  beforeAll(async () => {
    ensureTestImage();
    net = await createNetnsCluster({ hosts: 2, images: [TEST_IMAGE] });
    cluster = await startE2eCluster(net, { controller: { options: { reconcileInterval: '1 second' } } });
  });

  afterEach((context) => {
    if (context.task.result?.state === 'fail' && cluster) process.stderr.write(`${cluster.logs()}\n`);
  });

  afterAll(async () => {
    await cluster?.close();
    await net?.close();
  });

  const serviceContainers = async () =>
    (await Promise.all(net.hosts.map((h) => containerNames(h, true)))).flat().filter((n) => n.startsWith(`${SERVICE}-SI-`));

  it('moves to EMERGENCY_DEACTIVATION_REQUESTED, deactivates by itself and leaves no container', async () => {
    // Readiness waits a minute before its first probe, so the start jobs (and ADJUST_INSTANCES) are still running
    // when the cancel arrives.
    const base = fastSpec('node-agent.json');
    const spec = { ...base, name: 'SLOW_AGENT', readiness: { ...base.readiness, initialDelay: '60 seconds' } };
    const since = Date.now() - 1;
    await cluster.api.accepted({ type: 'CREATE', spec, instancesPerHost: 1 });
    await cluster.api.waitForService(SERVICE, 'INACTIVE');
    await cluster.api.accepted({ type: 'ACTIVATE', serviceId: SERVICE });
    await cluster.api.waitForService(SERVICE, 'ADJUSTING_INSTANCES');
    await waitUntil('a half-started container', async () => (await serviceContainers()).length > 0 || undefined);

    const cancel = await cluster.api.cancel(SERVICE);
    expect(cancel.statusCode).toBe(200);
    expect(cancel.body.status).toBe('SUCCESS');

    await cluster.api.waitForService(SERVICE, 'INACTIVE', (s) => s.activationState === 'INACTIVE');
    await waitUntil('every container of the service to be gone', async () => (await serviceContainers()).length === 0 || undefined);
    await cluster.api.waitForInstances(SERVICE, 'no running instance', (l) => l.length === 0);

    const states = (await cluster.api.events(since))
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
    await cluster.api.waitForService(SERVICE, 'INACTIVE');
    const reply = await cluster.api.cancel(SERVICE);
    expect(reply.statusCode).toBe(400);
    expect(reply.body).toMatchObject({ status: 'FAILED', message: 'Current operation could not be cancelled' });
  });
});
