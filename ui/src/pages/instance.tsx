import { useState } from 'preact/hooks';
import type { LocalServiceInstanceInfo } from '../../../src/model/instance.js';
import { INSTANCE_ACTIVE_STATES } from '../../../src/model/states.js';
import { get, seg } from '../api.js';
import { ErrorBox, Facts, Loading, Section, StateBadge } from '../components/common.js';
import { OperationDialog, type PendingOperation } from '../components/operation-dialog.js';
import { allocation, dateTime, duration, ports } from '../format.js';
import { useLive } from '../live.js';
import { download, listLogFiles } from '../logs.js';
import { paths } from '../router.js';
import { usePermissions } from '../session.js';

interface InstanceData {
  instance: LocalServiceInstanceInfo | undefined;
  files: string[];
}

/** One instance: where it runs, its ports and resources, its error, its log files (for roles that may read them). */
export function InstancePage({ serviceId, instanceId }: { serviceId: string; instanceId: string }) {
  const may = usePermissions();
  const [pending, setPending] = useState<PendingOperation | undefined>(undefined);
  const [downloadError, setDownloadError] = useState<unknown>(undefined);
  const live = useLive<InstanceData>(
    async (signal) => {
      const instance = await get<LocalServiceInstanceInfo>(`/apis/v1/localservices/${seg(serviceId)}/instances/${seg(instanceId)}`, signal).catch(() => undefined);
      const files = instance && may.logs ? await listLogFiles(serviceId, instanceId, signal).catch(() => []) : [];
      return { instance, files };
    },
    [serviceId, instanceId, may.logs],
    (e) => e.metadata.INSTANCE_ID === instanceId,
  );
  const i = live.data?.instance;
  const running = i !== undefined && INSTANCE_ACTIVE_STATES.has(i.state);
  return (
    <>
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href={paths.services()}>Local services</a> / <a href={paths.service(serviceId)}>{serviceId}</a> / <span>{instanceId}</span>
      </nav>
      <h1>
        {instanceId} {i && <StateBadge state={i.state} />}
      </h1>
      <ErrorBox error={live.error} />
      {live.loading && <Loading what="the instance" />}
      {live.data && !i && <p class="muted">No such instance of {serviceId}.</p>}
      {i && (
        <>
          {may.write && running && (
            <div class="toolbar" role="toolbar" aria-label="Operations">
              <button type="button" onClick={() => setPending({ kind: 'replace', serviceId, instanceIds: [instanceId] })}>
                Replace
              </button>
              <button type="button" class="danger" onClick={() => setPending({ kind: 'kill', serviceId, instanceIds: [instanceId] })}>
                Kill
              </button>
            </div>
          )}
          <Section title="Instance">
            <Facts
              rows={[
                ['Service', <a href={paths.service(serviceId)}>{serviceId}</a>],
                ['Executor', <a href={paths.executor(i.executorId)}>{i.executorId}</a>],
                ['Host', i.localInfo?.hostname ?? '-'],
                ['Ports', ports(i.localInfo)],
                ['Resources', allocation(i.resources)],
                ['State', <StateBadge state={i.state} />],
                ['Error', i.errorMessage || '-'],
                ['Created', dateTime(i.created)],
                ['Updated', dateTime(i.updated)],
                [running ? 'Running for' : 'Lifetime', duration((running ? Date.now() : i.updated) - i.created)],
              ]}
            />
          </Section>
          {may.logs && (
            <Section title="Log files">
              <ErrorBox error={downloadError} title="Download failed" />
              {live.data!.files.length === 0 ? (
                <p class="muted">No log files (the instance logs elsewhere, or its executor is gone)</p>
              ) : (
                <ul class="files">
                  {live.data!.files.map((file) => (
                    <li key={file}>
                      <code>{file}</code> <a href={paths.logTail(serviceId, instanceId, file)}>Tail</a>{' '}
                      <button type="button" class="link" onClick={() => void download(serviceId, instanceId, file).catch(setDownloadError)}>
                        Download
                      </button>
                    </li>
                  ))}
                </ul>
              )}
            </Section>
          )}
        </>
      )}
      {pending && <OperationDialog pending={pending} onClose={() => setPending(undefined)} onDone={() => live.reload()} />}
    </>
  );
}
