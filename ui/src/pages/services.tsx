import { useState } from 'preact/hooks';
import type { LocalServiceSummary } from '../../../src/model/api.js';
import { get } from '../api.js';
import { ErrorBox, Loading, Section } from '../components/common.js';
import { CreateService } from '../components/create-service.js';
import { ServiceTable } from '../components/service-table.js';
import { isServiceEvent, useLive } from '../live.js';
import { usePermissions } from '../session.js';

export function ServicesPage() {
  const may = usePermissions();
  const [creating, setCreating] = useState(false);
  const [filter, setFilter] = useState('');
  const live = useLive(
    async (signal) => Object.values(await get<Record<string, LocalServiceSummary>>('/apis/v1/localservices', signal)),
    [],
    isServiceEvent,
  );
  const needle = filter.trim().toLowerCase();
  const shown = (live.data ?? []).filter((s) => !needle || s.id.toLowerCase().includes(needle) || s.name.toLowerCase().includes(needle));
  return (
    <>
      <h1>Local services</h1>
      {creating && <CreateService onClose={() => setCreating(false)} />}
      <Section
        title="Services"
        actions={
          <>
            <label>
              <span class="visually-hidden">Filter services</span>
              <input type="search" placeholder="Filter" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
            </label>
            {may.write && !creating && (
              <button type="button" class="primary" onClick={() => setCreating(true)}>
                Create local service
              </button>
            )}
          </>
        }
      >
        <ErrorBox error={live.error} />
        {live.loading ? <Loading what="local services" /> : <ServiceTable services={shown} caption="Local services" />}
      </Section>
    </>
  );
}
