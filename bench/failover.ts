/**
 * Failover benchmark: how long the cluster refuses operations after the leader controller dies.
 * A 3-member etcd on loopback, three `drove controller` processes (built binary, default lease settings), one
 * `drove executor` running an ACTIVE local service on the local dockerd. Each run kills the leader with SIGKILL
 * (no resignation: its etcd lease must expire) and measures, from the kill, until
 *  - the first operation (a CREATE) is accepted (HTTP 200) by the new leader: the failover time;
 *  - a controller answers GET /apis/v1/ping with 200.
 * The killed controller is then restarted as a follower for the next run. Prints every run and the median.
 * Goal: median under 5 s with the default leaseTtlSeconds (3).
 * Run: npm run build && bash scripts/images.sh && npm run bench:failover
 */
import { performance } from 'node:perf_hooks';
import {
  call,
  droveCommand,
  executorContainers,
  leaders,
  startHaCluster,
  type ControllerProcess,
  type HaCluster,
} from '../test/support/ha-cluster.js';
import { haServiceSpec } from '../test/support/specs.js';
import { waitUntil } from '../test/support/wait.js';

const RUNS = 5;
/** How often the clients probe during a failover: fine enough for a figure in tenths of a second. */
const PROBE_INTERVAL_MS = 25;
/** A failover that takes longer than this is a failure, not a figure. */
const RUN_DEADLINE_MS = 60_000;
const PROBE = { timeoutMs: RUN_DEADLINE_MS, intervalMs: PROBE_INTERVAL_MS };

async function soleLeader(cluster: HaCluster): Promise<ControllerProcess> {
  return waitUntil('exactly one leader', async () => {
    const found = await leaders(cluster.controllers);
    return found.length === 1 ? found[0] : undefined;
  }, PROBE);
}

async function operation(controller: ControllerProcess, body: unknown): Promise<string | undefined> {
  const answer = await call<{ serviceId: string }>(controller.url, 'POST', '/apis/v1/localservices/operations', body);
  return answer.status === 200 ? answer.body.data?.serviceId : undefined;
}

interface Run {
  acceptedMs: number;
  pingMs: number;
}

async function failoverOnce(cluster: HaCluster, run: number): Promise<Run> {
  const leader = await soleLeader(cluster);
  const create = { type: 'CREATE', spec: haServiceSpec(`FAILOVER_RUN_${run}`), instancesPerHost: 1 };
  const started = performance.now();
  await leader.kill();
  const survivors = cluster.controllers.filter((c) => c !== leader);
  let pingMs: number | undefined;
  const acceptedMs = await waitUntil('an operation accepted by a new leader', async () => {
    const [pings, accepted] = await Promise.all([
      pingMs === undefined ? leaders(survivors) : Promise.resolve([]),
      Promise.all(survivors.map((c) => operation(c, create))),
    ]);
    if (pingMs === undefined && pings.length > 0) pingMs = performance.now() - started;
    return accepted.some((id) => id !== undefined) ? performance.now() - started : undefined;
  }, PROBE);
  // The killed controller rejoins as a follower before the next run.
  leader.start();
  await waitUntil(`${leader.name} to follow the new leader`, async () => {
    const ping = await call(leader.url, 'GET', '/apis/v1/ping');
    return ping.status === 400 && (ping.body.data as { leader?: string } | undefined)?.leader ? true : undefined;
  }, PROBE);
  return { acceptedMs, pingMs: pingMs ?? acceptedMs };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  const cluster = await startHaCluster({ controllers: 3, executors: 1, drove: droveCommand(true) });
  try {
    const leader = await soleLeader(cluster);
    const serviceId = await waitUntil('the service to be created', () => operation(leader, { type: 'CREATE', spec: haServiceSpec('FAILOVER_AGENT'), instancesPerHost: 1 }), PROBE);
    await waitUntil('the service to be INACTIVE', async () => {
      const s = await call<{ state?: string }>(leader.url, 'GET', `/apis/v1/localservices/${serviceId}`);
      return s.body.data?.state === 'INACTIVE' ? true : undefined;
    }, PROBE);
    await waitUntil('the service to be activated', () => operation(leader, { type: 'ACTIVATE', serviceId }), PROBE);
    const executorId = cluster.executors[0]!.executorId;
    await waitUntil('the instance to run', async () => (executorContainers(executorId).some((c) => c.running) ? true : undefined), PROBE);
    const before = executorContainers(executorId);

    const runs: Run[] = [];
    for (let run = 1; run <= RUNS; run++) {
      const result = await failoverOnce(cluster, run);
      runs.push(result);
      process.stdout.write(
        `run ${run}: kill -9 -> first accepted operation ${seconds(result.acceptedMs)} (ping 200 after ${seconds(result.pingMs)})\n`,
      );
    }
    const after = executorContainers(executorId);
    const accepted = runs.map((r) => r.acceptedMs);
    process.stdout.write(
      [
        `failover (kill -9 of the leader -> first accepted operation), ${RUNS} runs, lease TTL 3 s (default):`,
        `  median ${seconds(median(accepted))}, min ${seconds(Math.min(...accepted))}, max ${seconds(Math.max(...accepted))}`,
        `  ping 200 on the new leader: median ${seconds(median(runs.map((r) => r.pingMs)))}`,
        `  instance container untouched through all failovers: ${JSON.stringify(after) === JSON.stringify(before) ? 'yes' : 'NO'}`,
        '',
      ].join('\n'),
    );
  } finally {
    await cluster.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:failover failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
