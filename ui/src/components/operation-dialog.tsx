import { useState } from 'preact/hooks';
import { DEFAULT_OP_SPEC, operations, type ApiRequest, type OpSpecInput } from '../operations.js';
import { ConfirmDialog } from './confirm.js';

/** An operation waiting for its confirmation; those with options get their inputs inside the dialog. */
export type PendingOperation =
  | { kind: 'plain'; request: ApiRequest }
  | { kind: 'count'; serviceId: string; current: number }
  | { kind: 'restart'; serviceId: string }
  | { kind: 'replace'; serviceId: string; instanceIds: string[] }
  | { kind: 'kill'; serviceId: string; instanceIds: string[] };

function OpSpecInputs({ value, onChange }: { value: OpSpecInput; onChange: (v: OpSpecInput) => void }) {
  return (
    <fieldset class="row">
      <legend>Op spec</legend>
      <label>
        Parallelism
        <input type="number" min={1} max={512} value={value.parallelism} onInput={(e) => onChange({ ...value, parallelism: Number(e.currentTarget.value) })} />
      </label>
      <label>
        Timeout per instance
        <input value={value.timeout} onInput={(e) => onChange({ ...value, timeout: e.currentTarget.value })} />
      </label>
    </fieldset>
  );
}

function StopFirst({ value, onChange }: { value: boolean; onChange: (v: boolean) => void }) {
  return (
    <label class="check">
      <input type="checkbox" checked={value} onChange={(e) => onChange(e.currentTarget.checked)} />
      Stop first (required for host-level services: the old instance frees its ports before the new one starts)
    </label>
  );
}

export function OperationDialog({ pending, onClose, onDone }: { pending: PendingOperation; onClose: () => void; onDone?: (data: unknown) => void }) {
  const [count, setCount] = useState(pending.kind === 'count' ? pending.current : 1);
  const [stopFirst, setStopFirst] = useState(false);
  const [spec, setSpec] = useState<OpSpecInput>(DEFAULT_OP_SPEC);
  const done = onDone ?? (() => undefined);
  switch (pending.kind) {
    case 'plain':
      return <ConfirmDialog request={pending.request} onClose={onClose} onDone={done} />;
    case 'count':
      return (
        <ConfirmDialog request={operations.updateCount(pending.serviceId, count)} onClose={onClose} onDone={done}>
          <label>
            Instances per host
            <input type="number" min={1} max={256} value={count} onInput={(e) => setCount(Number(e.currentTarget.value))} />
          </label>
        </ConfirmDialog>
      );
    case 'restart':
      return (
        <ConfirmDialog request={operations.restart(pending.serviceId, stopFirst, spec)} onClose={onClose} onDone={done}>
          <StopFirst value={stopFirst} onChange={setStopFirst} />
          <OpSpecInputs value={spec} onChange={setSpec} />
        </ConfirmDialog>
      );
    case 'replace':
      return (
        <ConfirmDialog request={operations.replace(pending.serviceId, pending.instanceIds, stopFirst, spec)} onClose={onClose} onDone={done}>
          <StopFirst value={stopFirst} onChange={setStopFirst} />
          <OpSpecInputs value={spec} onChange={setSpec} />
        </ConfirmDialog>
      );
    case 'kill':
      return (
        <ConfirmDialog request={operations.kill(pending.serviceId, pending.instanceIds, spec)} onClose={onClose} onDone={done}>
          <OpSpecInputs value={spec} onChange={setSpec} />
        </ConfirmDialog>
      );
  }
}
