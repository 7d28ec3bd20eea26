import { useState } from 'preact/hooks';
import type { ClusterSummary } from '../../../src/model/api.js';
import { get } from '../api.js';
import { ErrorBox, Facts, Loading, Pager, Section, StateBadge } from '../components/common.js';
import { DataTable } from '../components/data-table.js';
import { FLEET_PAGE_SIZE, FleetControls, INITIAL_FILTER, SortHeader, useFleet, type FleetFilter } from '../components/fleet-query.js';
import { OperationDialog, type PendingOperation } from '../components/operation-dialog.js';
import { memory } from '../format.js';
import { isClusterEvent, useLive } from '../live.js';
import { operations } from '../operations.js';
import { paths } from '../router.js';
import { usePermissions } from '../session.js';

/** The cluster: leader, maintenance, resources, and every executor (a page at a time, sorted by the controller). */
export function ClusterPage() {
  const may = usePermissions();
  const [pending, setPending] = useState<PendingOperation | undefined>(undefined);
  const [filter, setFilter] = useState<FleetFilter>(INITIAL_FILTER);
  const summary = useLive((signal) => get<ClusterSummary>('/apis/v1/cluster', signal), [], isClusterEvent);
  const fleet = useFleet(filter);
  const s = summary.data;
  return (
    <>
      <h1>Cluster</h1>
      <ErrorBox error={summary.error} />
      {summary.loading && <Loading what="the cluster" />}
      {s && (
        <Section
          title="Summary"
          actions={
            may.maintenance &&
            (s.state === 'MAINTENANCE' ? (
              <button type="button" onClick={() => setPending({ kind: 'plain', request: operations.maintenanceOff() })}>
                End maintenance
              </button>
            ) : (
              <button type="button" class="danger" onClick={() => setPending({ kind: 'plain', request: operations.maintenanceOn() })}>
                Start maintenance
              </button>
            ))
          }
        >
          <Facts
            rows={[
              ['Leader', s.leader],
              ['State', <StateBadge state={s.state} />],
              ['Executors', s.numExecutors],
              ['Local services', `${s.numLocalServices} (${s.numActiveLocalServices} running)`],
              ['Cores', `${s.usedCores} used, ${s.freeCores} free, ${s.totalCores} in all`],
              ['Memory', `${memory(s.usedMemory)} used, ${memory(s.freeMemory)} free, ${memory(s.totalMemory)} in all`],
            ]}
          />
        </Section>
      )}
      <Section title="Executors">
        <FleetControls filter={filter} onChange={setFilter} />
        <ErrorBox error={fleet.error} />
        {fleet.loading && <Loading what="executors" />}
        {fleet.data && (
          <>
            <DataTable
              caption="Executors"
              testId="executors"
              columns={[
                <SortHeader label="Host" sortKey="hostname" filter={filter} onChange={setFilter} />,
                <SortHeader label="Executor id" sortKey="executorId" filter={filter} onChange={setFilter} />,
                <SortHeader label="State" sortKey="state" filter={filter} onChange={setFilter} />,
                <SortHeader label="Free cores" sortKey="freeCores" filter={filter} onChange={setFilter} />,
                <SortHeader label="Free memory" sortKey="freeMemory" filter={filter} onChange={setFilter} />,
                <SortHeader label="Instances" sortKey="instances" filter={filter} onChange={setFilter} />,
                'Tags',
                may.maintenance && 'Actions',
              ]}
              items={fleet.data.rows}
              row={({ executor: e, instances }) => (
                <tr key={e.executorId} data-executor={e.executorId}>
                  <th scope="row">
                    <a href={paths.executor(e.executorId)}>
                      {e.hostname}:{e.port}
                    </a>
                  </th>
                  <td>
                    <code>{e.executorId}</code>
                  </td>
                  <td>
                    <StateBadge state={e.state} />
                  </td>
                  <td class="num">
                    {e.freeCores} / {e.freeCores + e.usedCores}
                  </td>
                  <td class="num">
                    {memory(e.freeMemory)} / {memory(e.freeMemory + e.usedMemory)}
                  </td>
                  <td class="num">{instances}</td>
                  <td>{e.tags.join(', ') || '-'}</td>
                  {may.maintenance && (
                    <td class="row-actions">
                      {e.state === 'BLACKLISTED' || e.state === 'BLACKLIST_REQUESTED' ? (
                        <button type="button" onClick={() => setPending({ kind: 'plain', request: operations.unblacklist(e.executorId) })}>
                          Unblacklist
                        </button>
                      ) : (
                        <button type="button" class="danger" onClick={() => setPending({ kind: 'plain', request: operations.blacklist(e.executorId) })}>
                          Blacklist
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              )}
            />
            <Pager from={fleet.data.from} size={FLEET_PAGE_SIZE} total={fleet.data.total} onPage={(from) => setFilter({ ...filter, from })} />
          </>
        )}
      </Section>
      {pending && (
        <OperationDialog
          pending={pending}
          onClose={() => setPending(undefined)}
          onDone={() => {
            summary.reload();
            fleet.reload();
          }}
        />
      )}
    </>
  );
}
