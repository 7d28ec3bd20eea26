import type { LocalServiceInstanceInfo } from '../../../src/model/instance.js';
import { allocation, duration, ports } from '../format.js';
import { paths } from '../router.js';
import { StateBadge } from './common.js';

/** The columns every table of running instances shows, in the order InstanceCells fills them. */
export const INSTANCE_COLUMNS = ['Ports', 'Resources', 'State', 'Running for'];

/** An instance's cells under INSTANCE_COLUMNS: where it listens, what it holds, its state, how long it has run. */
export function InstanceCells({ instance, now }: { instance: LocalServiceInstanceInfo; now: number }) {
  return (
    <>
      <td>{ports(instance.localInfo)}</td>
      <td>{allocation(instance.resources)}</td>
      <td>
        <StateBadge state={instance.state} />
      </td>
      <td>{duration(now - instance.created)}</td>
    </>
  );
}

/** An instance's row header: its id, linked to the instance's page. */
export function InstanceHeader({ serviceId, instanceId }: { serviceId: string; instanceId: string }) {
  return (
    <th scope="row">
      <a href={paths.instance(serviceId, instanceId)}>{instanceId}</a>
    </th>
  );
}
