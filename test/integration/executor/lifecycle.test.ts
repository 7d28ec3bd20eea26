import { describe, expect, it } from 'vitest';
import { check, containerOf, docker, itSpec, startInstance, stopInstance, useTestExecutor } from '../../support/executor-harness.js';
import { waitUntil } from '../../support/wait.js';

/** Drove's executor tests against real Docker: the happy path and every failure path of the instance state machine. */
const fixture = useTestExecutor();

describe('instance lifecycle on real Docker', () => {
  it('PENDING -> HEALTHY -> (stop) -> STOPPED with the states Drove\'s executor test observes', async () => {
    const spec = itSpec();
    expect(await startInstance(fixture.executor, spec)).toMatchObject({ status: 'ACCEPTED' });
    // The same START again (a re-send) is accepted and starts nothing: the states below are one instance's. Another
    // spec under that id is refused.
    expect(await startInstance(fixture.executor, spec)).toMatchObject({ status: 'ACCEPTED' });
    expect(await startInstance(fixture.executor, { ...spec, env: { ...spec.env, OTHER: '1' } })).toMatchObject({ status: 'FAILED' });
    const healthy = await fixture.leader.waitForState(spec.instanceId, 'HEALTHY');
    expect(healthy.localInfo?.ports.main?.containerPort).toBe(8000);
    expect(fixture.executor.engine.infos().map((i) => i.instanceId)).toContain(spec.instanceId);
    expect(await stopInstance(fixture.executor, spec.instanceId)).toMatchObject({ status: 'ACCEPTED' });
    const stopped = await fixture.leader.waitForState(spec.instanceId, 'STOPPED');
    expect(stopped.errorMessage).toBe('');
    expect(fixture.leader.states(spec.instanceId)).toEqual([
      'PENDING', 'PROVISIONING', 'STARTING', 'UNREADY', 'READY', 'HEALTHY', 'STOPPING', 'DEPROVISIONING', 'STOPPED',
    ]);
    expect(await containerOf(spec.instanceId)).toBeUndefined();
    expect(fixture.executor.engine.has(spec.instanceId)).toBe(false);
    expect(await stopInstance(fixture.executor, spec.instanceId)).toMatchObject({ status: 'FAILED' });
  });

  it('a missing image is PROVISIONING_FAILED with the reference text', async () => {
    const spec = itSpec({ executable: { type: 'DOCKER', url: 'drove-ts/does-not-exist:404', dockerPullTimeout: '20 seconds' } });
    await startInstance(fixture.executor, spec);
    const stopped = await fixture.leader.waitForState(spec.instanceId, 'STOPPED');
    expect(fixture.leader.states(spec.instanceId)).toEqual(['PENDING', 'PROVISIONING', 'PROVISIONING_FAILED', 'DEPROVISIONING', 'STOPPED']);
    expect(stopped.errorMessage).toMatch(/^Error while pulling image drove-ts\/does-not-exist:404: /);
  });

  it('readiness never passing is READINESS_CHECK_FAILED and the container is removed', async () => {
    const spec = itSpec({ readiness: check('/not-there', 'main', 3) });
    await startInstance(fixture.executor, spec);
    const stopped = await fixture.leader.waitForState(spec.instanceId, 'STOPPED');
    expect(fixture.leader.states(spec.instanceId)).toEqual([
      'PENDING', 'PROVISIONING', 'STARTING', 'UNREADY', 'READINESS_CHECK_FAILED', 'DEPROVISIONING', 'STOPPED',
    ]);
    expect(stopped.errorMessage).toBe('Readiness check failed');
    expect(await containerOf(spec.instanceId)).toBeUndefined();
  });

  it('health failing after HEALTHY (touch /tmp/unhealthy) makes it UNHEALTHY and stops it', async () => {
    const spec = itSpec();
    await startInstance(fixture.executor, spec);
    await fixture.leader.waitForState(spec.instanceId, 'HEALTHY');
    const container = (await containerOf(spec.instanceId))!;
    const exec = await container.exec({ Cmd: ['touch', '/tmp/unhealthy'] });
    await exec.start({});
    const unhealthy = await fixture.leader.waitForState(spec.instanceId, 'UNHEALTHY');
    expect(unhealthy.errorMessage).toMatch(/^Healthcheck failed:Received status 500/);
    await fixture.leader.waitForState(spec.instanceId, 'STOPPED');
    expect(fixture.leader.states(spec.instanceId).slice(-4)).toEqual(['HEALTHY', 'UNHEALTHY', 'DEPROVISIONING', 'STOPPED']);
  });

  it('a connection reset on the health port goes to STOPPING without ever being HEALTHY', async () => {
    // Nothing listens on container port 9999: docker-proxy accepts and resets every connection.
    const spec = itSpec({
      ports: [{ name: 'main', port: 8000, type: 'HTTP' }, { name: 'dead', port: 9999, type: 'HTTP' }],
      healthcheck: check('/', 'dead', 2),
    });
    await startInstance(fixture.executor, spec);
    const stopped = await fixture.leader.waitForState(spec.instanceId, 'STOPPED');
    expect(fixture.leader.states(spec.instanceId)).toEqual([
      'PENDING', 'PROVISIONING', 'STARTING', 'UNREADY', 'READY', 'STOPPING', 'DEPROVISIONING', 'STOPPED',
    ]);
    expect(stopped.errorMessage).toMatch(/^Healthcheck failed:/);
  });

  it('a stop during readiness checks goes to STOPPING and STOPPED, never LOST', async () => {
    const spec = itSpec({ readiness: check('/not-there', 'main', 100) });
    await startInstance(fixture.executor, spec);
    await fixture.leader.waitForState(spec.instanceId, 'UNREADY');
    expect(await stopInstance(fixture.executor, spec.instanceId)).toMatchObject({ status: 'ACCEPTED' });
    await fixture.leader.waitForState(spec.instanceId, 'STOPPED', 20_000);
    expect(fixture.leader.states(spec.instanceId)).toEqual(['PENDING', 'PROVISIONING', 'STARTING', 'UNREADY', 'STOPPING', 'DEPROVISIONING', 'STOPPED']);
  });

  it('sends node data with its instances, tags and resources, authenticated with the cluster secret', async () => {
    const snapshot = await waitUntil('a snapshot', () => fixture.leader.messages.find((m) => m.type === 'EXECUTOR_SNAPSHOT'));
    if (snapshot.type !== 'EXECUTOR_SNAPSHOT') throw new Error('unreachable');
    expect(snapshot.nodeData.tags).toContain('localhost');
    expect(snapshot.nodeData.state.executorId).toBe(fixture.executor.executorId);
    expect(fixture.leader.authHeaders.every((h) => h.secret !== undefined && h.nodeId === 'localhost')).toBe(true);
    // UNREADY -> ACTIVE once nothing is required (readiness gating).
    await waitUntil('ACTIVE', () => fixture.executor.agent.state === 'ACTIVE');
    void docker;
  });
});
