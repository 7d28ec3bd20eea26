import { useState } from 'preact/hooks';
import type { LocalServiceSummary } from '../../../src/model/api.js';
import type { FleetPage } from '../../../src/model/console.js';
import type { DroveEvent, DroveEventsList } from '../../../src/model/events.js';
import type { LocalServiceInstanceInfo } from '../../../src/model/instance.js';
import type { LocalServiceSpec } from '../../../src/model/spec.js';
import { STEADY_SERVICE_STATES } from '../../../src/model/states.js';
import { get, queryString, seg } from '../api.js';
import { ErrorBox, Facts, Loading, Section, StateBadge } from '../components/common.js';
import { DataTable } from '../components/data-table.js';
import { INSTANCE_COLUMNS, InstanceCells, InstanceHeader } from '../components/instance-cells.js';
import { FleetGrid, ProgressBar } from '../components/fleet-grid.js';
import { OperationDialog, type PendingOperation } from '../components/operation-dialog.js';
import { EventTimeline } from '../components/timeline.js';
import { dateTime, duration, memory } from '../format.js';
import { aboutService, useLive } from '../live.js';
import { operations } from '../operations.js';
import { navigate, paths } from '../router.js';
import { usePermissions } from '../session.js';

/** Hosts shown in the service's own grid; the fleet page pages through all of them. */
const GRID_ROWS = 50;

interface ServiceData {
  summary: LocalServiceSummary | undefined;
  spec: LocalServiceSpec | undefined;
  instances: LocalServiceInstanceInfo[];
  old: LocalServiceInstanceInfo[];
  fleet: FleetPage;
}

/** When the service entered its current state: the rollout counts only instances started since. */
async function stateSince(serviceId: string, signal: AbortSignal): Promise<number | undefined> {
  const page = await get<DroveEventsList>(`/apis/v1/cluster/events/latest${queryString({ lastSyncTime: 0, size: 1024 })}`, signal);
  const newest = page.events.find((e: DroveEvent) => e.type === 'LOCAL_SERVICE_STATE_CHANGE' && e.metadata.LOCAL_SERVICE_ID === serviceId);
  return newest?.time;
}

async function loadService(serviceId: string, signal: AbortSignal): Promise<ServiceData> {
  const base = `/apis/v1/localservices/${seg(serviceId)}`;
  const summary = await get<LocalServiceSummary>(base, signal).catch(() => undefined);
  if (!summary) return { summary, spec: undefined, instances: [], old: [], fleet: { total: 0, from: 0, size: 0, services: [], rows: [], progress: [] } };
  const working = summary.state !== undefined && !(STEADY_SERVICE_STATES as readonly string[]).includes(summary.state);
  const since = working ? await stateSince(serviceId, signal) : undefined;
  const [spec, instances, old, fleet] = await Promise.all([
    get<LocalServiceSpec>(`${base}/spec`, signal),
    get<LocalServiceInstanceInfo[]>(`${base}/instances`, signal),
    get<LocalServiceInstanceInfo[]>(`${base}/instances/old`, signal),
    get<FleetPage>(`/apis/v1/console/fleet${queryString({ serviceId: [serviceId], size: GRID_ROWS, sort: 'hostname', since })}`, signal),
  ]);
  return { summary, spec, instances, old, fleet };
}

/** Which operations make sense in a state; the controller decides in the end (and says why it refuses). */
function operationsFor(s: LocalServiceSummary): Array<{ label: string; pending: PendingOperation }> {
  const id = s.id;
  const plain = (label: string, request: PendingOperation & { kind: 'plain' }) => ({ label, pending: request });
  const steady = s.state === undefined || (STEADY_SERVICE_STATES as readonly string[]).includes(s.state);
  const list: Array<{ label: string; pending: PendingOperation }> = [];
  if (!steady) list.push(plain('Cancel operation', { kind: 'plain', request: operations.cancel(id) }));
  if (s.activationState === 'INACTIVE') list.push(plain('Config test', { kind: 'plain', request: operations.conftest(id) }));
  if (s.activationState !== 'ACTIVE') list.push(plain('Activate', { kind: 'plain', request: operations.activate(id) }));
  list.push({ label: 'Update count', pending: { kind: 'count', serviceId: id, current: s.instancesPerHost } });
  if (s.activationState === 'ACTIVE') list.push({ label: 'Restart', pending: { kind: 'restart', serviceId: id } });
  if (s.activationState !== 'INACTIVE' || !steady) list.push(plain('Deactivate', { kind: 'plain', request: operations.deactivate(id) }));
  if (s.activationState === 'INACTIVE') list.push(plain('Destroy', { kind: 'plain', request: operations.destroy(id) }));
  return list;
}

export function ServicePage({ serviceId }: { serviceId: string }) {
  const may = usePermissions();
  const [pending, setPending] = useState<PendingOperation | undefined>(undefined);
  const live = useLive((signal) => loadService(serviceId, signal), [serviceId], aboutService(serviceId));
  const data = live.data;
  const s = data?.summary;
  const now = Date.now();
  return (
    <>
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href={paths.services()}>Local services</a> / <span>{serviceId}</span>
      </nav>
      <h1>
        {serviceId} {s?.state && <StateBadge state={s.state} />}
      </h1>
      <ErrorBox error={live.error} />
      {live.loading && <Loading what="the service" />}
      {data && !s && (
        <p class="muted" role="status" data-testid="service-gone">
          There is no local service {serviceId} (it was destroyed, or never existed).
        </p>
      )}
      {s && data && (
        <>
          {may.write && (
            <div class="toolbar" role="toolbar" aria-label="Operations">
              {operationsFor(s).map((op) => (
                <button
                  type="button"
                  key={op.label}
                  class={['Deactivate', 'Destroy', 'Cancel operation'].includes(op.label) ? 'danger' : undefined}
                  onClick={() => setPending(op.pending)}
                >
                  {op.label}
                </button>
              ))}
            </div>
          )}
          <div class="grid-2">
            <Section title="Summary">
              <Facts
                rows={[
                  ['Name', s.name],
                  ['State', s.state ? <StateBadge state={s.state} /> : '-'],
                  ['Activation', <StateBadge state={s.activationState} />],
                  ['Instances per host', <span data-testid="instances-per-host">{s.instancesPerHost}</span>],
                  ['Healthy instances', <span data-testid="healthy-instances">{s.healthyInstances}</span>],
                  ['CPU / memory in use', `${s.totalCPUs} CPU, ${memory(s.totalMemory)}`],
                  ['Tags', Object.entries(s.tags).map(([k, v]) => `${k}=${v}`).join(', ') || '-'],
                  ['Created', dateTime(s.created)],
                  ['Updated', dateTime(s.updated)],
                ]}
              />
            </Section>
            <Section title="Rollout">
              {data.fleet.progress[0] ? <ProgressBar progress={data.fleet.progress[0]} /> : <p class="muted">No executor</p>}
              <FleetGrid page={data.fleet} caption={`Instances of ${serviceId} on each executor`} />
              {data.fleet.total > data.fleet.rows.length && (
                <p>
                  <a href={paths.fleet()}>All {data.fleet.total} executors on the fleet page</a>
                </p>
              )}
            </Section>
          </div>
          <Section title="Instances">
            <InstanceTable
              serviceId={serviceId}
              instances={data.instances}
              now={now}
              onKill={may.write ? (id) => setPending({ kind: 'kill', serviceId, instanceIds: [id] }) : undefined}
              onReplace={may.write ? (id) => setPending({ kind: 'replace', serviceId, instanceIds: [id] }) : undefined}
            />
          </Section>
          <Section title="Old instances">
            <OldInstanceTable serviceId={serviceId} instances={data.old} />
          </Section>
          <Section title="Events">
            <EventTimeline key={serviceId} filter={aboutService(serviceId)} title={`Events of ${serviceId}`} />
          </Section>
          <Section title="Spec">
            <details>
              <summary>Spec as JSON (secrets masked)</summary>
              <pre class="code">{JSON.stringify(data.spec, null, 2)}</pre>
            </details>
          </Section>
        </>
      )}
      {pending && (
        <OperationDialog
          pending={pending}
          onClose={() => setPending(undefined)}
          onDone={() => {
            if (pending.kind === 'plain' && pending.request.body && (pending.request.body as { type?: string }).type === 'DESTROY') navigate(paths.services());
            live.reload();
          }}
        />
      )}
    </>
  );
}

function InstanceTable({
  serviceId,
  instances,
  now,
  onKill,
  onReplace,
}: {
  serviceId: string;
  instances: LocalServiceInstanceInfo[];
  now: number;
  onKill: ((instanceId: string) => void) | undefined;
  onReplace: ((instanceId: string) => void) | undefined;
}) {
  const sorted = [...instances].sort((a, b) => (a.localInfo?.hostname ?? '').localeCompare(b.localInfo?.hostname ?? '') || a.created - b.created);
  const actions = onKill || onReplace;
  return (
    <DataTable
      caption={`Instances of ${serviceId}`}
      testId="instances"
      columns={['Instance', 'Executor', ...INSTANCE_COLUMNS, 'Updated', actions ? 'Actions' : false]}
      items={sorted}
      empty="No instance runs"
      row={(i) => (
        <tr key={i.instanceId} data-instance={i.instanceId}>
          <InstanceHeader serviceId={serviceId} instanceId={i.instanceId} />
          <td>
            <a href={paths.executor(i.executorId)}>{i.localInfo?.hostname ?? i.executorId}</a>
          </td>
          <InstanceCells instance={i} now={now} />
          <td>{dateTime(i.updated)}</td>
          {actions && (
            <td class="row-actions">
              {onReplace && (
                <button type="button" onClick={() => onReplace(i.instanceId)} aria-label={`Replace ${i.instanceId}`}>
                  Replace
                </button>
              )}
              {onKill && (
                <button type="button" class="danger" onClick={() => onKill(i.instanceId)} aria-label={`Kill ${i.instanceId}`}>
                  Kill
                </button>
              )}
            </td>
          )}
        </tr>
      )}
    />
  );
}

function OldInstanceTable({ serviceId, instances }: { serviceId: string; instances: LocalServiceInstanceInfo[] }) {
  const sorted = [...instances].sort((a, b) => b.updated - a.updated);
  return (
    <DataTable
      caption={`Old instances of ${serviceId}`}
      testId="old-instances"
      columns={['Instance', 'Executor', 'State', 'Lifetime', 'Final update', 'Error']}
      items={sorted}
      empty="None"
      row={(i) => (
        <tr key={i.instanceId} data-instance={i.instanceId}>
          <InstanceHeader serviceId={serviceId} instanceId={i.instanceId} />
          <td>{i.localInfo?.hostname ?? i.executorId}</td>
          <td>
            <StateBadge state={i.state} />
          </td>
          <td>{duration(i.updated - i.created)}</td>
          <td>{dateTime(i.updated)}</td>
          <td>{i.errorMessage || '-'}</td>
        </tr>
      )}
    />
  );
}
