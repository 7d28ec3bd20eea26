import { useState } from 'preact/hooks';
import type { ExecutorNodeData } from '../../../src/model/executor.js';
import { get, seg } from '../api.js';
import { ErrorBox, Facts, Loading, Section, StateBadge } from '../components/common.js';
import { DataTable } from '../components/data-table.js';
import { INSTANCE_COLUMNS, InstanceCells, InstanceHeader } from '../components/instance-cells.js';
import { OperationDialog, type PendingOperation } from '../components/operation-dialog.js';
import { dateTime, memory } from '../format.js';
import { useLive } from '../live.js';
import { operations } from '../operations.js';
import { paths } from '../router.js';
import { usePermissions } from '../session.js';

const coreCount = (map: Record<string, number[]>) => Object.values(map).reduce((n, ids) => n + ids.length, 0);
const mbSum = (map: Record<string, number>) => Object.values(map).reduce((n, mb) => n + mb, 0);

/** One executor: its host, resources, state and the local service instances it runs. */
export function ExecutorPage({ executorId }: { executorId: string }) {
  const may = usePermissions();
  const [pending, setPending] = useState<PendingOperation | undefined>(undefined);
  const live = useLive(
    (signal) => get<ExecutorNodeData>(`/apis/v1/cluster/executors/${seg(executorId)}`, signal),
    [executorId],
    (e) => e.metadata.EXECUTOR_ID === executorId,
  );
  const n = live.data;
  const blacklisted = n?.executorState === 'BLACKLISTED' || n?.executorState === 'BLACKLIST_REQUESTED';
  const now = Date.now();
  return (
    <>
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href={paths.cluster()}>Cluster</a> / <span>{executorId}</span>
      </nav>
      <h1>
        Executor {n ? `${n.hostname}:${n.port}` : executorId} {n && <StateBadge state={n.executorState} />}
      </h1>
      <ErrorBox error={live.error} />
      {live.loading && <Loading what="the executor" />}
      {n && (
        <>
          {may.maintenance && (
            <div class="toolbar" role="toolbar" aria-label="Operations">
              {blacklisted ? (
                <button type="button" onClick={() => setPending({ kind: 'plain', request: operations.unblacklist(executorId) })}>
                  Unblacklist
                </button>
              ) : (
                <button type="button" class="danger" onClick={() => setPending({ kind: 'plain', request: operations.blacklist(executorId) })}>
                  Blacklist
                </button>
              )}
            </div>
          )}
          <Section title="Executor">
            <Facts
              rows={[
                ['Id', <code>{n.state.executorId}</code>],
                ['Host', `${n.hostname}:${n.port} (${n.transportType})`],
                ['State', <StateBadge state={n.executorState} />],
                ['Cores', `${coreCount(n.state.cpus.usedCores)} used, ${coreCount(n.state.cpus.freeCores)} free`],
                ['Memory', `${memory(mbSum(n.state.memory.usedMemory))} used, ${memory(mbSum(n.state.memory.freeMemory))} free`],
                ['Tags', n.tags.join(', ') || '-'],
                ['Last report', dateTime(n.updated)],
              ]}
            />
          </Section>
          <Section title="Local service instances">
            <DataTable
              caption={`Instances on ${executorId}`}
              columns={['Instance', 'Service', ...INSTANCE_COLUMNS]}
              items={n.serviceInstances}
              empty="None"
              row={(i) => (
                <tr key={i.instanceId}>
                  <InstanceHeader serviceId={i.serviceId} instanceId={i.instanceId} />
                  <td>
                    <a href={paths.service(i.serviceId)}>{i.serviceId}</a>
                  </td>
                  <InstanceCells instance={i} now={now} />
                </tr>
              )}
            />
          </Section>
        </>
      )}
      {pending && <OperationDialog pending={pending} onClose={() => setPending(undefined)} onDone={() => live.reload()} />}
    </>
  );
}
