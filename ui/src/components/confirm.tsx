import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { cliCommand, type ApiRequest } from '../operations.js';
import { useSession } from '../session.js';
import { ErrorBox } from './common.js';

/**
 * The confirmation every write goes through: what will happen, the exact API request (method, path, JSON body)
 * and the equivalent `drove` command; nothing is sent before "confirm". A modal <dialog>: the browser keeps the
 * keyboard focus inside it and Escape closes it.
 */
export function ConfirmDialog({
  request,
  onClose,
  onDone,
  children,
}: {
  request: ApiRequest;
  onClose: () => void;
  onDone?: (data: unknown) => void;
  /** Inputs that shape the request (counts, op spec, stop-first). */
  children?: ComponentChildren;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const session = useSession();

  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
    return () => element?.close();
  }, []);

  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const data = await api<unknown>(request.method, request.path, request.body === undefined ? {} : { body: request.body });
      onDone?.(data);
      onClose();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const titleId = 'confirm-title';
  return (
    <dialog ref={dialog} class="confirm" aria-labelledby={titleId} onClose={onClose} onCancel={onClose}>
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          void confirm();
        }}
      >
        <h2 id={titleId}>{request.title}</h2>
        <p>{request.effect}</p>
        {children}
        <h3>API request</h3>
        <pre class="code" data-testid="confirm-payload">
          {`${request.method} ${request.path}`}
          {request.body === undefined ? '' : `\n${JSON.stringify(request.body, null, 2)}`}
        </pre>
        <h3>Same with the CLI</h3>
        <pre class="code" data-testid="confirm-cli">
          {cliCommand(request, window.location.origin, session.whoami?.authEnabled ? session.whoami.name : undefined)}
        </pre>
        <ErrorBox error={error} title="Refused" />
        <div class="dialog-buttons">
          <button type="button" onClick={onClose} disabled={busy}>
            Close
          </button>
          <button type="submit" class={request.destructive ? 'danger' : 'primary'} disabled={busy}>
            {busy ? 'Sending…' : request.verb}
          </button>
        </div>
      </form>
    </dialog>
  );
}
