import type { LocalServiceSummary } from '../../../src/model/api.js';
import { dateTime, memory } from '../format.js';
import { paths } from '../router.js';
import { StateBadge } from './common.js';

/** Drove's services table: id linked, state, instances per host, healthy, CPU, memory, activation. */
export function ServiceTable({ services, caption }: { services: LocalServiceSummary[]; caption: string }) {
  return (
    <div class="table-wrap">
      <table>
        <caption class="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Service</th>
            <th scope="col">State</th>
            <th scope="col">Activation</th>
            <th scope="col" class="num">Per host</th>
            <th scope="col" class="num">Healthy</th>
            <th scope="col" class="num">CPU</th>
            <th scope="col" class="num">Memory</th>
            <th scope="col">Updated</th>
          </tr>
        </thead>
        <tbody>
          {services.length === 0 && (
            <tr>
              <td colSpan={8} class="muted">
                No local services yet
              </td>
            </tr>
          )}
          {services.map((s) => (
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
          ))}
        </tbody>
      </table>
    </div>
  );
}
