import type { LocalServiceSummary } from '../../../src/model/api.js';
import { dateTime, memory } from '../format.js';
import { paths } from '../router.js';
import { StateBadge } from './common.js';
import { DataTable } from './data-table.js';

/** Drove's services table: id linked, state, instances per host, healthy, CPU, memory, activation. */
export function ServiceTable({ services, caption }: { services: LocalServiceSummary[]; caption: string }) {
  return (
    <DataTable
      caption={caption}
      columns={[
        'Service',
        'State',
        'Activation',
        { label: 'Per host', numeric: true },
        { label: 'Healthy', numeric: true },
        { label: 'CPU', numeric: true },
        { label: 'Memory', numeric: true },
        'Updated',
      ]}
      items={services}
      empty="No local services yet"
      row={(s) => (
        <tr key={s.id} data-service={s.id}>
          <th scope="row">
            <a href={paths.service(s.id)}>{s.id}</a>
          </th>
          <td>{s.state ? <StateBadge state={s.state} /> : '-'}</td>
          <td>
            <StateBadge state={s.activationState} />
          </td>
          <td class="num">{s.instancesPerHost}</td>
          <td class="num" data-testid="healthy">
            {s.healthyInstances}
          </td>
          <td class="num">{s.totalCPUs}</td>
          <td class="num">{memory(s.totalMemory)}</td>
          <td>{dateTime(s.updated)}</td>
        </tr>
      )}
    />
  );
}
