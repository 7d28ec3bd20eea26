import { useState } from 'preact/hooks';
import { ErrorBox, Loading, Pager, Section } from '../components/common.js';
import { FleetGrid, ProgressBar } from '../components/fleet-grid.js';
import { FLEET_PAGE_SIZE, FleetControls, INITIAL_FILTER, useFleet, type FleetFilter } from '../components/fleet-query.js';

/** Every service on every executor, a page of executors at a time, with each service's rollout over the fleet. */
export function FleetPage() {
  const [filter, setFilter] = useState<FleetFilter>(INITIAL_FILTER);
  const fleet = useFleet(filter);
  const data = fleet.data;
  return (
    <>
      <h1>Fleet</h1>
      <ErrorBox error={fleet.error} />
      {fleet.loading && <Loading what="the fleet" />}
      {data && (
        <>
          {data.progress.length > 0 && (
            <Section title="Rollouts">
              <ul class="progress-list">
                {data.progress.map((p) => (
                  <li key={p.serviceId}>
                    <a href={`/localservices/${encodeURIComponent(p.serviceId)}`}>{p.serviceId}</a>
                    <ProgressBar progress={p} />
                  </li>
                ))}
              </ul>
            </Section>
          )}
          <Section title="Instances by executor">
            <FleetControls filter={filter} onChange={setFilter} />
            <FleetGrid page={data} caption="Instance states of every service on each executor" />
            <Pager from={data.from} size={FLEET_PAGE_SIZE} total={data.total} onPage={(from) => setFilter({ ...filter, from })} />
          </Section>
        </>
      )}
    </>
  );
}
