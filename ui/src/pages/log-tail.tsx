import { useEffect, useRef, useState } from 'preact/hooks';
import { ErrorBox } from '../components/common.js';
import { download, tail } from '../logs.js';
import { paths } from '../router.js';
import { usePermissions } from '../session.js';

/** Lines kept on screen; older ones scroll away (the download has the whole file). */
const MAX_LINES = 5_000;

/** Drove's log pailer: one file of one instance, followed as it grows, across rotations. */
export function LogTailPage({ serviceId, instanceId, fileName }: { serviceId: string; instanceId: string; fileName: string }) {
  const may = usePermissions();
  const [lines, setLines] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  const [follow, setFollow] = useState(true);
  const pre = useRef<HTMLPreElement>(null);

  useEffect(() => {
    if (!may.logs) return;
    const abort = new AbortController();
    let partial = '';
    void tail(
      serviceId,
      instanceId,
      fileName,
      {
        lines: (text) => {
          setError(undefined);
          const parts = (partial + text).split('\n');
          partial = parts.pop() ?? '';
          if (parts.length > 0) setLines((old) => [...old, ...parts].slice(-MAX_LINES));
        },
        rotated: () => {
          if (partial) setLines((old) => [...old, partial].slice(-MAX_LINES));
          partial = '';
          setLines((old) => [...old, `--- ${fileName} was rotated; following the new file ---`].slice(-MAX_LINES));
        },
        error: setError,
      },
      abort.signal,
    );
    return () => abort.abort();
  }, [serviceId, instanceId, fileName, may.logs]);

  useEffect(() => {
    if (follow && pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [lines, follow]);

  return (
    <>
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href={paths.services()}>Local services</a> / <a href={paths.service(serviceId)}>{serviceId}</a> /{' '}
        <a href={paths.instance(serviceId, instanceId)}>{instanceId}</a> / <span>{fileName}</span>
      </nav>
      <h1>Log {fileName}</h1>
      {!may.logs ? (
        <p class="muted">Your role may not read log files.</p>
      ) : (
        <>
          <div class="toolbar">
            <label class="check">
              <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.currentTarget.checked)} />
              Follow new lines
            </label>
            <button type="button" onClick={() => void download(serviceId, instanceId, fileName).catch(setError)}>
              Download {fileName}
            </button>
          </div>
          <ErrorBox error={error} title="Cannot read the log" />
          <pre class="log" ref={pre} tabIndex={0} aria-label={`Log ${fileName}`} aria-live="off" data-testid="log-tail">
            {lines.join('\n')}
          </pre>
        </>
      )}
    </>
  );
}
