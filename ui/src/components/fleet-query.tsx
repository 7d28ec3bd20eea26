import { useEffect, useState } from 'preact/hooks';
import type { FleetPage, FleetQuery, FleetSortKey } from '../../../src/model/console.js';
import { EXECUTOR_STATES, type ExecutorState } from '../../../src/model/states.js';
import { get, queryString } from '../api.js';
import { isClusterEvent, isServiceEvent, useLive, type Live } from '../live.js';

/** Rows per page of the executor tables: a screenful at 1280 px, little enough to render at once at any size. */
export const FLEET_PAGE_SIZE = 50;

export type FleetFilter = Pick<FleetQuery, 'from' | 'text' | 'state' | 'sort' | 'order'>;

export const INITIAL_FILTER: FleetFilter = { from: 0, sort: 'hostname', order: 'asc' };

/** A page of the fleet, filtered and sorted by the controller, read again as instances and executors change. */
export function useFleet(filter: FleetFilter, serviceIds?: string[]): Live<FleetPage> {
  const [text, setText] = useState(filter.text);
  // Typing in the filter box asks the controller once the typing pauses.
  useEffect(() => {
    const timer = setTimeout(() => setText(filter.text), 250);
    return () => clearTimeout(timer);
  }, [filter.text]);
  const query = queryString({
    from: filter.from,
    size: FLEET_PAGE_SIZE,
    text,
    state: filter.state,
    sort: filter.sort,
    order: filter.order,
    serviceId: serviceIds,
  });
  return useLive((signal) => get<FleetPage>(`/apis/v1/console/fleet${query}`, signal), [query], (e) => isServiceEvent(e) || isClusterEvent(e));
}

/** Filter box, state choice and sort order of an executor table. */
export function FleetControls({ filter, onChange }: { filter: FleetFilter; onChange: (f: FleetFilter) => void }) {
  return (
    <div class="row controls">
      <label>
        Filter executors
        <input
          type="search"
          placeholder="host, id or tag"
          value={filter.text ?? ''}
          onInput={(e) => onChange({ ...filter, from: 0, text: e.currentTarget.value })}
        />
      </label>
      <label>
        State
        <select
          value={filter.state ?? ''}
          onChange={(e) => onChange({ ...filter, from: 0, state: (e.currentTarget.value || undefined) as ExecutorState | undefined })}
        >
          <option value="">any</option>
          {EXECUTOR_STATES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
    </div>
  );
}

/** A column header that sorts the table (by the controller); says the order to screen readers. */
export function SortHeader({ label, sortKey, filter, onChange }: { label: string; sortKey: FleetSortKey; filter: FleetFilter; onChange: (f: FleetFilter) => void }) {
  const active = filter.sort === sortKey;
  const sort = active ? (filter.order === 'asc' ? 'ascending' : 'descending') : 'none';
  return (
    <th scope="col" aria-sort={sort}>
      <button
        type="button"
        class="sort"
        onClick={() => onChange({ ...filter, from: 0, sort: sortKey, order: active && filter.order === 'asc' ? 'desc' : 'asc' })}
      >
        {label}
        <span aria-hidden="true">{active ? (filter.order === 'asc' ? ' ▲' : ' ▼') : ''}</span>
      </button>
    </th>
  );
}
