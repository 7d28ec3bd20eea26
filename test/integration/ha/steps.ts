import { NOT_LEADER_MESSAGE, type LocalServiceInstanceInfo, type LocalServiceSummary } from '../../../src/model/index.js';
import { waitUntil } from '../../support/wait.js';
import { call, executorContainers, leaders, type ControllerProcess, type HaCluster } from '../../support/ha-cluster.js';
import { haServiceSpec } from '../../support/specs.js';

/** Steps shared by the HA tests, written against the public HTTP API only. */

/**
 * Waits until exactly one running controller answers ping with 200, and every other running one says 400.
 * `paused` controllers (SIGSTOP) answer nothing and are left out.
 */
export async function waitForLeader(cluster: HaCluster, timeoutMs = 60_000, paused: ControllerProcess[] = []): Promise<ControllerProcess> {
  const live = () => cluster.controllers.filter((c) => c.running() && !paused.includes(c));
  return waitUntil(
    'exactly one leader controller',
    async () => {
      const found = await leaders(live());
      if (found.length !== 1) return undefined;
      const others = live().filter((c) => c !== found[0]);
      const answers = await Promise.all(others.map((c) => call(c.url, 'GET', '/apis/v1/ping')));
      return answers.every((a) => a.status === 400) ? found[0] : undefined;
    },
    { timeoutMs, intervalMs: 50 },
  ).catch((error: Error) => {
    // Say what the controllers said: a controller that could not start shows why here.
    const said = cluster.controllers.map((c) => `--- ${c.name} (${c.running() ? 'running' : 'exited'})\n${c.output().slice(-1500)}`);
    throw new Error(`${error.message}\n${said.join('\n')}`);
  });
}

export async function operation(leader: ControllerProcess, body: Record<string, unknown>): Promise<string> {
  const answer = await call<{ serviceId: string }>(leader.url, 'POST', '/apis/v1/localservices/operations', body);
  if (answer.status !== 200 || !answer.body.data) {
    throw new Error(`${String(body.type)} refused: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
  }
  return answer.body.data.serviceId;
}

/**
 * Submits an operation to the leader and waits until `tookEffect` sees it on the leader of the moment. An accepted
 * operation is held in the accepting leader's memory until it runs (as in Drove, docs/ha.md "Operations across a
 * leader change"): a leader that steps down right after accepting it (etcd failing under it) loses it, and a
 * client submits it again to the new leader. So this resubmits, but only when the leader's term began after the
 * submission, or when the controller that was asked had stopped leading between the ping and the submission (it
 * answers "not the leader"); an operation that never takes effect without a leader change fails the wait.
 */
export async function operationTakingEffect(
  cluster: HaCluster,
  body: Record<string, unknown>,
  tookEffect: (leader: ControllerProcess) => Promise<boolean>,
  attempts = 3,
): Promise<ControllerProcess> {
  for (let attempt = 1; ; attempt++) {
    let current = await waitForLeader(cluster);
    const submittedAt = Date.now();
    const answer = await call(current.url, 'POST', '/apis/v1/localservices/operations', body);
    if (answer.status === 400 && answer.body.message === NOT_LEADER_MESSAGE && attempt < attempts) continue;
    if (answer.status !== 200) throw new Error(`${String(body.type)} refused: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
    const outcome = await waitUntil(
      `${String(body.type)} to take effect (attempt ${attempt})`,
      async () => {
        if ((await call(current.url, 'GET', '/apis/v1/ping')).status !== 200) {
          const found = await leaders(cluster.controllers);
          if (found.length !== 1) return undefined;
          current = found[0]!;
        }
        if (await tookEffect(current)) return 'done';
        const events = await call<{ events: Array<{ type: string; time: number }> }>(
          current.url,
          'GET',
          `/apis/v1/cluster/events/latest?lastSyncTime=${submittedAt}&size=1000`,
        );
        const newTerm = events.body.data?.events.some((e) => e.type === 'LEADERSHIP_ACQUIRED' && e.time >= submittedAt);
        return newTerm ? 'lost in a leader change' : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    if (outcome === 'done') return current;
    if (attempt >= attempts) throw new Error(`${String(body.type)} lost in ${attempt} leader changes in a row`);
  }
}

export async function summary(controller: ControllerProcess, serviceId: string): Promise<LocalServiceSummary | undefined> {
  const answer = await call<LocalServiceSummary>(controller.url, 'GET', `/apis/v1/localservices/${serviceId}`);
  return answer.status === 200 && answer.body.status === 'SUCCESS' ? answer.body.data : undefined;
}

export async function instances(controller: ControllerProcess, serviceId: string): Promise<LocalServiceInstanceInfo[]> {
  const answer = await call<LocalServiceInstanceInfo[]>(controller.url, 'GET', `/apis/v1/localservices/${serviceId}/instances`);
  if (answer.status !== 200 || !Array.isArray(answer.body.data)) throw new Error(`instances: HTTP ${answer.status}`);
  return answer.body.data;
}

export async function oldInstances(controller: ControllerProcess, serviceId: string): Promise<LocalServiceInstanceInfo[]> {
  const answer = await call<LocalServiceInstanceInfo[]>(controller.url, 'GET', `/apis/v1/localservices/${serviceId}/instances/old`);
  if (answer.status !== 200 || !Array.isArray(answer.body.data)) throw new Error(`old instances: HTTP ${answer.status}`);
  return answer.body.data;
}

/**
 * Waits until the service is ACTIVE with exactly `count` HEALTHY instances on the controller, and the executor
 * runs exactly those containers. Returns the instances sorted by id.
 */
export async function waitForSteadyService(
  cluster: HaCluster,
  leader: ControllerProcess,
  serviceId: string,
  count: number,
  timeoutMs = 90_000,
): Promise<LocalServiceInstanceInfo[]> {
  // Not ready yet is thrown, so that a timeout reports what was last seen.
  let current = leader;
  return waitUntil(
    `${serviceId} ACTIVE with ${count} HEALTHY instances, and as many running containers`,
    async () => {
      // Leadership may move while we wait (an etcd member lost, a lease renewed late): only the leader answers
      // reads, so follow it rather than asking a follower for the whole wait. Only then are all controllers
      // asked: a paused one answers nothing until the call times out.
      if ((await call(current.url, 'GET', '/apis/v1/ping')).status !== 200) {
        const found = await leaders(cluster.controllers);
        if (found.length !== 1) throw new Error(`${found.length} controllers answer as leader`);
        current = found[0]!;
      }
      const s = await summary(current, serviceId);
      if (s?.state !== 'ACTIVE') throw new Error(`service state ${s?.state} on ${current.name}`);
      const list = await instances(current, serviceId);
      if (list.length !== count || list.some((i) => i.state !== 'HEALTHY')) {
        throw new Error(`instances ${list.map((i) => i.state).join(',')}`);
      }
      const running = cluster.executors.flatMap((e) => executorContainers(e.executorId)).filter((c) => c.running);
      if (running.length !== count) throw new Error(`${running.length} running containers`);
      return [...list].sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
    },
    { timeoutMs, intervalMs: 250 },
  );
}

/** CREATE + ACTIVATE of the test service; returns its id once it is steady. */
export async function activeService(cluster: HaCluster, leader: ControllerProcess, name: string, instancesPerHost: number): Promise<string> {
  const serviceId = await operation(leader, { type: 'CREATE', spec: haServiceSpec(name), instancesPerHost });
  // CREATE completes asynchronously (INIT -> INACTIVE); only then is ACTIVATE allowed.
  await waitUntil(`${serviceId} INACTIVE`, async () => (await summary(leader, serviceId))?.state === 'INACTIVE');
  await operation(leader, { type: 'ACTIVATE', serviceId });
  await waitForSteadyService(cluster, leader, serviceId, instancesPerHost * cluster.executors.length);
  return serviceId;
}
