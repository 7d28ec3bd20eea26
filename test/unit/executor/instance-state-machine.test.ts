import { describe, expect, it } from 'vitest';
import { DockerAuth } from '../../../src/executor/docker-auth.js';
import { InstanceStateMachine } from '../../../src/executor/instances/instance.js';
import { recoverySpec } from '../../../src/executor/instances/container-spec.js';
import { INSTANCE_TRANSITIONS, canTransition } from '../../../src/executor/instances/transitions.js';
import type { LocalServiceInstanceInfo } from '../../../src/model/instance.js';
import { LOCAL_SERVICE_INSTANCE_STATES } from '../../../src/model/states.js';
import type { ManualClock } from '../../../src/model/clock.js';
import type { InstanceLogWriter } from '../../../src/executor/logs.js';
import { TEST_IMAGE, instanceDeps, instanceSpec } from './fakes.js';
import { advanceUntil } from '../../support/wait.js';

function until(clock: ManualClock, condition: () => boolean, maxMs = 600_000): Promise<number> {
  return advanceUntil(clock, 'the condition', condition, { maxMs, stepMs: 100 });
}

function setup(specOverrides = {}, depOverrides = {}) {
  const deps = instanceDeps(depOverrides);
  deps.runtime.images.add(TEST_IMAGE);
  const spec = instanceSpec(specOverrides);
  const reports: LocalServiceInstanceInfo[] = [];
  deps.resources.lock(spec.instanceId, spec.resources);
  const sm = new InstanceStateMachine(spec, deps, (i) => reports.push(i));
  const states = () => reports.map((r) => r.state);
  return { deps, spec, sm, reports, states };
}

describe('instance transition table', () => {
  it('covers every non-terminal state and only names real states', () => {
    for (const state of LOCAL_SERVICE_INSTANCE_STATES) {
      if (state === 'STOPPED' || state === 'LOST') continue;
      expect(INSTANCE_TRANSITIONS[state]).toBeDefined();
      for (const next of INSTANCE_TRANSITIONS[state].next) expect(LOCAL_SERVICE_INSTANCE_STATES).toContain(next);
    }
    expect(canTransition('STOPPED', 'LOST')).toBe(false);
    expect(canTransition('HEALTHY', 'STOPPED')).toBe(false);
    expect(canTransition('HEALTHY', 'STOPPING')).toBe(true);
  });
});

describe('instance state machine', () => {
  it('goes PENDING -> HEALTHY, then on stop to STOPPED through STOPPING and DEPROVISIONING, freeing resources', async () => {
    const { deps, spec, sm, states, reports } = setup();
    const done = sm.run();
    await until(deps.clock, () => sm.state === 'HEALTHY');
    expect(sm.requestStop()).toBe(true);
    await until(deps.clock, () => sm.state === 'STOPPED');
    await done;
    expect(states()).toEqual([
      'PENDING', 'PROVISIONING', 'STARTING', 'UNREADY', 'READY', 'HEALTHY', 'STOPPING', 'DEPROVISIONING', 'STOPPED',
    ]);
    expect(deps.resources.isLocked(spec.instanceId)).toBe(false);
    expect(deps.runtime.containers.size).toBe(0);
    const unready = reports.find((r) => r.state === 'UNREADY')!;
    expect(unready.localInfo).toEqual({ hostname: 'ex1.local', ports: { main: { containerPort: 8000, hostPort: 40001, portType: 'HTTP' } } });
    expect(reports.every((r) => r.errorMessage === '')).toBe(true);
    // The image stays: cacheImages is on.
    expect(deps.runtime.calls).not.toContain(`removeImage ${TEST_IMAGE}`);
  });

  it('uses the local image when the pull fails, and fails provisioning with the reference text when there is none', async () => {
    const a = setup();
    void a.sm.run();
    await until(a.deps.clock, () => a.sm.state === 'HEALTHY');
    expect(a.deps.runtime.calls[0]).toBe(`pull ${TEST_IMAGE}`);

    const b = setup({ executable: { type: 'DOCKER', url: 'nope/missing:1', dockerPullTimeout: '10 seconds' } });
    await b.sm.run();
    expect(b.states()).toEqual(['PENDING', 'PROVISIONING', 'PROVISIONING_FAILED', 'DEPROVISIONING', 'STOPPED']);
    expect(b.reports.at(-1)!.errorMessage).toBe('Error while pulling image nope/missing:1: pull access denied for nope/missing:1');
  });

  describe('private registries (dockerAuth)', () => {
    const PRIVATE = 'registry.example.com:5000/agents/collector:2';
    const dockerAuth = new DockerAuth({
      entries: { 'registry.example.com:5000': { type: 'CREDENTIALS', username: 'puller', password: 'pw-123' } },
    });
    const privateSpec = { executable: { type: 'DOCKER', url: PRIVATE, dockerPullTimeout: '10 seconds' } };

    it("sends the entry of the image's registry with the pull, and nothing for other registries", async () => {
      const a = setup(privateSpec, { dockerAuth });
      a.deps.runtime.pullable.add(PRIVATE);
      void a.sm.run();
      await until(a.deps.clock, () => a.sm.state === 'HEALTHY');
      expect(a.deps.runtime.pullAuths).toEqual([{ username: 'puller', password: 'pw-123', serveraddress: 'registry.example.com:5000' }]);
      expect(JSON.stringify(a.reports)).not.toContain('pw-123');

      const b = setup({}, { dockerAuth });
      void b.sm.run();
      await until(b.deps.clock, () => b.sm.state === 'HEALTHY');
      expect(b.deps.runtime.pullAuths).toEqual([undefined]);
    });

    it("refused credentials fail provisioning with the registry's answer even when a local copy exists", async () => {
      const { deps, sm, states, reports } = setup(privateSpec, { dockerAuth });
      deps.runtime.images.add(PRIVATE);
      deps.runtime.pullRefusals.set(PRIVATE, 'unauthorized: authentication required');
      void sm.run();
      await until(deps.clock, () => sm.state === 'STOPPED' || sm.state === 'HEALTHY');
      expect(states()).toEqual(['PENDING', 'PROVISIONING', 'PROVISIONING_FAILED', 'DEPROVISIONING', 'STOPPED']);
      expect(reports.at(-1)!.errorMessage).toBe(
        `Error while pulling image ${PRIVATE}: unauthorized: authentication required (registry registry.example.com:5000 refused ` +
          'the credentials of dockerAuth entry "registry.example.com:5000"; a local copy of the image is not used when the registry refuses them)',
      );
      expect(JSON.stringify(reports)).not.toContain('pw-123');
      expect(deps.runtime.calls.some((c) => c.startsWith('create'))).toBe(false);
    });

    it('any other pull failure still falls back to the local copy, with or without credentials', async () => {
      // The registry is down: the cached image keeps node agents running.
      const a = setup(privateSpec, { dockerAuth });
      a.deps.runtime.images.add(PRIVATE);
      a.deps.runtime.pullRefusals.set(PRIVATE, 'Get "https://registry.example.com:5000/v2/": dial tcp: connect: connection refused');
      void a.sm.run();
      await until(a.deps.clock, () => a.sm.state === 'HEALTHY');
      // No credentials were sent, so "denied" means an image built on this host that no registry has: use it.
      const b = setup();
      b.deps.runtime.pullRefusals.set(TEST_IMAGE, 'pull access denied for drove-ts/httpd, repository does not exist or may require \'docker login\'');
      void b.sm.run();
      await until(b.deps.clock, () => b.sm.state === 'HEALTHY');
    });
  });

  it('START_FAILED removes nothing it did not create and carries the error text to STOPPED', async () => {
    const { deps, sm, states, reports } = setup();
    deps.runtime.failCreate = new Error('Conflict. The container name is already in use');
    await sm.run();
    expect(states()).toEqual(['PENDING', 'PROVISIONING', 'STARTING', 'START_FAILED', 'DEPROVISIONING', 'STOPPED']);
    expect(reports.at(-1)!.errorMessage).toBe('Conflict. The container name is already in use');
  });

  it('picks fresh host ports when Docker finds the chosen one taken', async () => {
    const { deps, sm, reports } = setup();
    const start = deps.runtime.startContainer.bind(deps.runtime);
    let failures = 1;
    deps.runtime.startContainer = async (id) => {
      if (failures-- > 0) throw new Error('driver failed programming external connectivity: Bind for 0.0.0.0:40001 failed: port is already allocated');
      return start(id);
    };
    void sm.run();
    await until(deps.clock, () => sm.state === 'HEALTHY');
    expect(reports.find((r) => r.state === 'UNREADY')!.localInfo!.ports.main!.hostPort).toBe(40002);
    expect(deps.runtime.calls.filter((c) => c.startsWith('remove '))).toEqual(['remove c1']);
    expect(sm.container).toBe('c2');
  });

  it('readiness: two failures then success within three attempts is READY', async () => {
    const { deps, sm } = setup();
    deps.checker.script('/ready', false, false, true);
    void sm.run();
    await until(deps.clock, () => sm.state === 'HEALTHY');
    expect(deps.checker.count('/ready')).toBe(3);
  });

  it('readiness never passing is READINESS_CHECK_FAILED, stopped and removed, error kept', async () => {
    const { deps, sm, states, reports } = setup();
    deps.checker.script('/ready', false);
    const done = sm.run();
    await until(deps.clock, () => sm.state === 'STOPPED');
    await done;
    expect(states()).toEqual([
      'PENDING', 'PROVISIONING', 'STARTING', 'UNREADY', 'READINESS_CHECK_FAILED', 'DEPROVISIONING', 'STOPPED',
    ]);
    expect(reports.at(-1)!.errorMessage).toBe('Readiness check failed');
    expect(deps.runtime.containers.size).toBe(0);
  });

  it('honours the readiness initial delay', async () => {
    const { deps, sm } = setup({ readiness: { ...instanceSpec().readiness, initialDelay: '10 seconds' } });
    void sm.run();
    await until(deps.clock, () => sm.state === 'UNREADY');
    await deps.clock.advance(9_000);
    expect(deps.checker.count('/ready')).toBe(0);
    await until(deps.clock, () => sm.state === 'READY' || sm.state === 'HEALTHY');
    expect(deps.checker.count('/ready')).toBe(1);
  });

  it('initial health failing every attempt goes to STOPPING with the probe message', async () => {
    const { deps, sm, states, reports } = setup();
    deps.checker.script('/health', false);
    await Promise.all([sm.run(), until(deps.clock, () => sm.state === 'STOPPED')]);
    expect(states()).toContain('STOPPING');
    expect(states()).not.toContain('HEALTHY');
    expect(reports.at(-1)!.errorMessage).toBe('Healthcheck failed:probe /health failed');
  });

  it('continuous health: attempts consecutive failures after HEALTHY make it UNHEALTHY (no counter quirk)', async () => {
    const { deps, sm, states, reports } = setup({ healthcheck: { ...instanceSpec().healthcheck, attempts: 1 } });
    // initial OK, continuous OK, then a failure: with attempts 1 one failure is enough (no counter-reset quirk).
    deps.checker.script('/health', true, true, false);
    await Promise.all([sm.run(), until(deps.clock, () => sm.state === 'STOPPED')]);
    expect(states()).toEqual([
      'PENDING', 'PROVISIONING', 'STARTING', 'UNREADY', 'READY', 'HEALTHY', 'UNHEALTHY', 'DEPROVISIONING', 'STOPPED',
    ]);
    expect(reports.at(-1)!.errorMessage).toBe('Healthcheck failed:probe /health failed');
  });

  it('continuous health: failures below attempts followed by a success stay HEALTHY', async () => {
    const { deps, sm } = setup();
    deps.checker.script('/health', true, true, false, false, true, false, false, true);
    void sm.run();
    await until(deps.clock, () => deps.checker.count('/health') >= 8);
    expect(sm.state).toBe('HEALTHY');
    sm.requestStop();
    await until(deps.clock, () => sm.state === 'STOPPED');
  });

  it('a stop request during readiness goes to STOPPING, not to an illegal STOPPED', async () => {
    const { deps, sm, states } = setup({ readiness: { ...instanceSpec().readiness, attempts: 50 } });
    deps.checker.script('/ready', false);
    void sm.run();
    await until(deps.clock, () => deps.checker.count('/ready') >= 2);
    expect(sm.requestStop()).toBe(true);
    await until(deps.clock, () => sm.state === 'STOPPED');
    expect(states()).toEqual(['PENDING', 'PROVISIONING', 'STARTING', 'UNREADY', 'STOPPING', 'DEPROVISIONING', 'STOPPED']);
    expect(states()).not.toContain('LOST');
  });

  it('a stop request while PENDING routes through STOPPING without creating a container', async () => {
    const { deps, sm, states } = setup();
    expect(sm.requestStop()).toBe(true);
    await sm.run();
    expect(states()).toEqual(['PENDING', 'STOPPING', 'DEPROVISIONING', 'STOPPED']);
    expect(deps.runtime.calls.filter((c) => c.startsWith('create'))).toEqual([]);
  });

  it('runs pre-shutdown hooks before stopping the container and waits waitBeforeKill', async () => {
    const { deps, sm } = setup({
      preShutdown: {
        hooks: [{ type: 'HTTP', protocol: 'HTTP', portName: 'main', path: '/prestop', verb: 'GET', successCodes: [200] }],
        waitBeforeKill: '5 seconds',
      },
    });
    void sm.run();
    await until(deps.clock, () => sm.state === 'HEALTHY');
    sm.requestStop();
    await until(deps.clock, () => deps.checker.count('/prestop') === 1);
    const stopsBefore = deps.runtime.calls.filter((c) => c.startsWith('stop ')).length;
    await deps.clock.advance(4_000);
    expect(deps.runtime.calls.filter((c) => c.startsWith('stop ')).length).toBe(stopsBefore);
    await until(deps.clock, () => sm.state === 'STOPPED', 2_000);
    const order = deps.runtime.calls.filter((c) => c.startsWith('stop ') || c.startsWith('remove '));
    expect(order).toEqual(['stop c1', 'remove c1']);
  });

  it('skips pre-shutdown hooks and waitBeforeKill when the container already died', async () => {
    const { deps, sm } = setup({
      preShutdown: {
        hooks: [{ type: 'HTTP', protocol: 'HTTP', portName: 'main', path: '/prestop', verb: 'GET', successCodes: [200] }],
        waitBeforeKill: '5 seconds',
      },
    });
    void sm.run();
    await until(deps.clock, () => sm.state === 'HEALTHY');
    deps.runtime.containers.get('c1')!.running = false;
    sm.requestStop();
    // Well inside the 5 s waitBeforeKill: a dead container is removed at once.
    await until(deps.clock, () => sm.state === 'STOPPED', 1_000);
    expect(deps.checker.count('/prestop')).toBe(0);
    expect(deps.runtime.calls.filter((c) => c.startsWith('stop ') || c.startsWith('remove '))).toEqual(['stop c1', 'remove c1']);
  });

  it('a stop request while pulling aborts the pull and ends through PROVISIONING_FAILED', async () => {
    const { deps, sm, states, reports } = setup();
    let pulling = false;
    deps.runtime.pullImage = (_image, options) =>
      new Promise((_resolve, reject) => {
        pulling = true;
        options.signal?.addEventListener('abort', () => reject(new Error('aborted')));
      });
    const done = sm.run();
    await until(deps.clock, () => pulling);
    expect(sm.requestStop()).toBe(true);
    await done;
    expect(states()).toEqual(['PENDING', 'PROVISIONING', 'PROVISIONING_FAILED', 'DEPROVISIONING', 'STOPPED']);
    expect(reports.at(-1)!.errorMessage).toBe('Pull operation interrupted');
  });

  it('a pull that outlasts dockerPullTimeout fails provisioning with the reference text, on the injected clock', async () => {
    const { deps, sm, states, reports } = setup({ executable: { type: 'DOCKER', url: TEST_IMAGE, dockerPullTimeout: '10 seconds' } });
    // Neither the image nor a registry answer: the pull hangs and ignores its abort signal.
    deps.runtime.images.delete(TEST_IMAGE);
    const pulls: number[] = [];
    deps.runtime.pullImage = () => {
      pulls.push(deps.clock.now());
      return new Promise(() => undefined);
    };
    const done = sm.run();
    await until(deps.clock, () => pulls.length === 1);
    const started = pulls[0]!;
    await until(deps.clock, () => sm.state !== 'PROVISIONING', 20_000);
    expect(deps.clock.now() - started).toBeGreaterThanOrEqual(10_000);
    expect(deps.clock.now() - started).toBeLessThan(10_200);
    await until(deps.clock, () => sm.state === 'STOPPED');
    await done;
    expect(states()).toEqual(['PENDING', 'PROVISIONING', 'PROVISIONING_FAILED', 'DEPROVISIONING', 'STOPPED']);
    expect(reports.find((r) => r.state === 'PROVISIONING_FAILED')!.errorMessage).toBe(
      `Error while pulling image ${TEST_IMAGE}: Pull timed out after 10000 ms`,
    );
  });

  it('removes the image on cleanup when cacheImages is off', async () => {
    const { deps, sm } = setup({}, { cacheImages: false });
    sm.requestStop();
    await sm.run();
    expect(deps.runtime.calls).toContain(`removeImage ${TEST_IMAGE}`);
  });

  it('passes configs, env and labels to the container', async () => {
    const { deps, sm, spec } = setup({
      configs: [{ type: 'INLINE', localFilename: '/files/drove.txt', data: 'RHJvdmUgdGVzdA==' }],
      env: { A: 'b' },
    });
    void sm.run();
    await until(deps.clock, () => sm.state === 'HEALTHY');
    const container = deps.runtime.containers.get('c1')!;
    expect(container.archives).toHaveLength(1);
    expect(container.spec.name).toBe(`${spec.serviceId}-${spec.instanceId}`);
    expect(container.spec.env).toContain('A=b');
    expect(container.spec.labels['drove.instance.id']).toBe(spec.instanceId);
    // Labels carry what recovery needs, never env values or config contents (docker inspect shows labels).
    expect(JSON.parse(container.spec.labels['drove.instance.recovery']!)).toEqual(recoverySpec(spec));
    expect(container.spec.labels['drove.instance.spec']).toBeUndefined();
    expect(deps.runtime.calls.indexOf('putArchive c1')).toBeLessThan(deps.runtime.calls.indexOf('start c1'));
  });

  it('recovery: a running labelled container is re-adopted with no initial delays; a missing one is STOPPED', async () => {
    const first = setup({ readiness: { ...instanceSpec().readiness, initialDelay: '60 seconds' } });
    void first.sm.run();
    await until(first.deps.clock, () => first.sm.state === 'HEALTHY');
    const info = first.reports.find((r) => r.state === 'UNREADY')!;
    first.sm.detach();

    const reports: LocalServiceInstanceInfo[] = [];
    const recovered = new InstanceStateMachine(first.spec, first.deps, (i) => reports.push(i), { info });
    void recovered.run();
    await first.deps.clock.advance(500);
    expect(reports.map((r) => r.state)).toEqual(['UNKNOWN', 'UNREADY', 'READY', 'HEALTHY']);
    expect(recovered.container).toBe('c1');
    expect(first.deps.runtime.calls.filter((c) => c.startsWith('start '))).toEqual(['start c1']);
    expect(reports.at(-1)!.created).toBe(info.created);

    first.deps.runtime.containers.clear();
    const gone: LocalServiceInstanceInfo[] = [];
    await new InstanceStateMachine(first.spec, first.deps, (i) => gone.push(i), { info }).run();
    expect(gone.map((r) => r.state)).toEqual(['UNKNOWN', 'STOPPED']);
    expect(gone.at(-1)!.errorMessage).toBe(`No container found with drove id: ${first.spec.instanceId}`);
  });
});

describe('instance log copy', () => {
  /** A log writer that takes everything and says its last write was at `lastWrite` (epoch seconds). */
  const logWriter = (lastWrite: number) =>
    ({ write: () => undefined, close: () => undefined, lastWriteSeconds: () => lastWrite }) as unknown as InstanceLogWriter;

  it('follows a new container from before its start, so its first line cannot fall between start and attach', async () => {
    const { deps, sm } = setup({}, { openLog: () => logWriter(0) });
    void sm.run();
    await until(deps.clock, () => sm.state === 'HEALTHY');
    const calls = deps.runtime.calls;
    expect(calls).toContain('followLogs c1 beforeStart');
    expect(calls.indexOf('followLogs c1 beforeStart')).toBeLessThan(calls.indexOf('start c1'));
    expect(calls.filter((c) => c.startsWith('followLogs '))).toEqual(['followLogs c1 beforeStart']);
  });

  it('closes the copy of a container whose start failed on a taken port and follows its replacement', async () => {
    const { deps, sm } = setup({}, { openLog: () => logWriter(0) });
    deps.runtime.failStart = new Error('driver failed programming external connectivity: port is already allocated');
    void sm.run();
    await until(deps.clock, () => sm.state === 'HEALTHY');
    const calls = deps.runtime.calls.filter((c) => /^(followLogs|closeLogs|start|remove) /.test(c));
    expect(calls).toEqual(['followLogs c1 beforeStart', 'start c1', 'closeLogs c1', 'remove c1', 'followLogs c2 beforeStart', 'start c2']);
  });

  it('a re-adopted container is followed from the copy\'s last write', async () => {
    const first = setup({}, { openLog: () => logWriter(1_700_000_000) });
    void first.sm.run();
    await until(first.deps.clock, () => first.sm.state === 'HEALTHY');
    const info = first.reports.find((r) => r.state === 'UNREADY')!;
    first.sm.detach();
    const recovered = new InstanceStateMachine(first.spec, first.deps, () => undefined, { info });
    void recovered.run();
    await until(first.deps.clock, () => recovered.state === 'HEALTHY');
    expect(first.deps.runtime.calls.filter((c) => c.startsWith('followLogs '))).toEqual([
      'followLogs c1 beforeStart',
      'followLogs c1 1700000000',
    ]);
  });
});
