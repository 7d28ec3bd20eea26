import type { DashboardData } from '../../../src/model/api.js';
import { get } from '../api.js';
import { ErrorBox, Facts, Loading, Section, StateBadge } from '../components/common.js';
import { ServiceTable } from '../components/service-table.js';
import { memory } from '../format.js';
import { isClusterEvent, isServiceEvent, useLive } from '../live.js';

/** Counts by state and activation, the cluster's resources, the top services (Drove's home page). */
export function DashboardPage() {
  const live = useLive((signal) => get<DashboardData>('/apis/v1/cluster/dashboard', signal), [], (e) => isServiceEvent(e) || isClusterEvent(e));
  const data = live.data;
  return (
    <>
      <h1>Dashboard</h1>
      <ErrorBox error={live.error} />
      {live.loading && <Loading what="the dashboard" />}
      {data && (
        <>
          <div class="grid-2">
            <Section title="Cluster">
              <Facts
                rows={[
                  ['Leader', data.clusterSummary.leader],
                  ['State', <StateBadge state={data.clusterSummary.state} />],
                  ['Executors', data.clusterSummary.numExecutors],
                  ['Local services', `${data.clusterSummary.numLocalServices} (${data.clusterSummary.numActiveLocalServices} running)`],
                  ['Healthy instances', data.serviceStats.totalHealthyInstances],
                  ['Cores used', `${data.clusterSummary.usedCores} of ${data.clusterSummary.totalCores}`],
                  ['Memory used', `${memory(data.clusterSummary.usedMemory)} of ${memory(data.clusterSummary.totalMemory)}`],
                ]}
              />
            </Section>
            <Section title="Services by state">
              <ul class="counts" aria-label="Services by state">
                {Object.entries(data.serviceStats.serviceCountByState)
                  .filter(([, n]) => n > 0)
                  .map(([state, n]) => (
                    <li key={state}>
                      <StateBadge state={state} count={n} />
                    </li>
                  ))}
              </ul>
              <h3>By activation</h3>
              <ul class="counts" aria-label="Services by activation">
                {Object.entries(data.serviceStats.serviceCountByActivationState).map(([state, n]) => (
                  <li key={state}>
                    <StateBadge state={state} count={n} />
                  </li>
                ))}
              </ul>
            </Section>
          </div>
          <Section title="Top services">
            <ServiceTable services={data.serviceStats.topServices} caption="Top services by healthy instances" />
          </Section>
        </>
      )}
    </>
  );
}
