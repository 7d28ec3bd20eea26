import type { FleetCell, FleetPage, FleetServiceProgress } from '../../../src/model/console.js';
import { paths } from '../router.js';
import { StateBadge } from './common.js';

/** "37/1000 hosts, 2 failed, 5 moving": a rollout's progress over the whole fleet, in words. */
export function progressText(p: FleetServiceProgress): string {
  const parts = [`${p.done}/${p.hosts} hosts`];
  if (p.failed > 0) parts.push(`${p.failed} failed`);
  if (p.moving > 0) parts.push(`${p.moving} moving`);
  return parts.join(', ');
}

export function ProgressBar({ progress }: { progress: FleetServiceProgress }) {
  const percent = progress.hosts === 0 ? 100 : Math.round((progress.done / progress.hosts) * 100);
  return (
    <div class="progress" data-testid="rollout-progress">
      <progress max={Math.max(1, progress.hosts)} value={progress.done} aria-label={`Rollout of ${progress.serviceId}`}>
        {percent}%
      </progress>
      <span>{progressText(progress)}</span>
    </div>
  );
}

function Cell({ cell }: { cell: FleetCell | undefined }) {
  if (!cell) return <span class="muted">-</span>;
  return (
    <span class="cell">
      {Object.entries(cell).map(([state, count]) => (
        <StateBadge key={state} state={state} count={count} />
      ))}
    </span>
  );
}

/** Services x executors: each cell the instance states of that service on that host, in colour and in text. */
export function FleetGrid({ page, caption }: { page: FleetPage; caption: string }) {
  return (
    <div class="table-wrap">
      <table class="fleet">
        <caption class="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Executor</th>
            <th scope="col">State</th>
            {page.services.map((id) => (
              <th scope="col" key={id}>
                <a href={paths.service(id)}>{id}</a>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {page.rows.length === 0 && (
            <tr>
              <td colSpan={2 + page.services.length} class="muted">
                No executors match
              </td>
            </tr>
          )}
          {page.rows.map((row) => (
            <tr key={row.executor.executorId} data-executor={row.executor.executorId}>
              <th scope="row">
                <a href={paths.executor(row.executor.executorId)}>
                  {row.executor.hostname}:{row.executor.port}
                </a>
              </th>
              <td>
                <StateBadge state={row.executor.state} />
              </td>
              {page.services.map((id) => (
                <td key={id} data-cell={id}>
                  <Cell cell={row.cells[id]} />
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
