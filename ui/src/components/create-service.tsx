import { useState } from 'preact/hooks';
import { parse as parseYaml } from 'yaml';
import type { LocalServiceSpec } from '../../../src/model/spec.js';
import { ApiError, post } from '../api.js';
import { operations } from '../operations.js';
import { navigate, paths } from '../router.js';
import { SPEC_FIELDS, placeErrors, type PlacedErrors, type SpecField } from '../spec-errors.js';
import { ConfirmDialog } from './confirm.js';

type Check = { kind: 'none' } | { kind: 'unparsable'; message: string } | { kind: 'rejected'; errors: PlacedErrors } | { kind: 'valid' };

/** JSON first (a spec file is usually JSON), then YAML; a text that is neither says why. */
function parseSpec(text: string): { spec: unknown } | { error: string } {
  try {
    return { spec: JSON.parse(text) as unknown };
  } catch (jsonError) {
    try {
      const spec = parseYaml(text) as unknown;
      if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) return { error: 'The spec must be a JSON or YAML object' };
      return { spec };
    } catch (yamlError) {
      const trimmed = text.trimStart();
      const message = trimmed.startsWith('{') ? (jsonError as Error).message : (yamlError as Error).message;
      return { error: `Neither JSON nor YAML: ${message}` };
    }
  }
}

function short(value: unknown): string {
  if (value === undefined) return '(not set)';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * Create a local service from pasted or uploaded JSON or YAML. "Check" is a dry run against the controller's
 * `validate/spec` (the same rules CREATE applies), and each message is shown beside the field it is about.
 */
export function CreateService({ onClose }: { onClose: () => void }) {
  const [text, setText] = useState('');
  const [instancesPerHost, setInstancesPerHost] = useState(1);
  const [check, setCheck] = useState<Check>({ kind: 'none' });
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState<LocalServiceSpec | undefined>(undefined);
  const parsed = text.trim() === '' ? undefined : parseSpec(text);
  const spec = parsed && 'spec' in parsed ? (parsed.spec as Record<string, unknown>) : undefined;

  const runCheck = async (): Promise<boolean> => {
    if (!parsed) {
      setCheck({ kind: 'unparsable', message: 'Paste or upload a spec first' });
      return false;
    }
    if ('error' in parsed) {
      setCheck({ kind: 'unparsable', message: parsed.error });
      return false;
    }
    setBusy(true);
    try {
      await post('/apis/v1/localservices/validate/spec', parsed.spec);
      setCheck({ kind: 'valid' });
      return true;
    } catch (error) {
      const messages = error instanceof ApiError && error.validationErrors.length > 0 ? error.validationErrors : [(error as Error).message];
      setCheck({ kind: 'rejected', errors: placeErrors(messages, parsed.spec) });
      return false;
    } finally {
      setBusy(false);
    }
  };

  const errorsOf = (field: SpecField) => (check.kind === 'rejected' ? (check.errors.byField[field] ?? []) : []);
  const listed = new Set<string>([...SPEC_FIELDS.filter((f) => spec && f in spec), ...(check.kind === 'rejected' ? Object.keys(check.errors.byField) : [])]);
  const fields = SPEC_FIELDS.filter((f) => listed.has(f));

  return (
    <section class="card create" aria-labelledby="create-title">
      <div class="card-head">
        <h2 id="create-title">Create a local service</h2>
        <div class="actions">
          <button type="button" onClick={onClose}>
            Close
          </button>
        </div>
      </div>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void runCheck().then((ok) => {
            if (ok && spec) setConfirming(spec as unknown as LocalServiceSpec);
          });
        }}
      >
        <label for="spec-text">Spec (JSON or YAML)</label>
        <textarea
          id="spec-text"
          rows={14}
          spellcheck={false}
          value={text}
          aria-describedby={check.kind === 'unparsable' ? 'spec-text-error' : undefined}
          aria-invalid={check.kind === 'unparsable' ? true : undefined}
          onInput={(e) => {
            setText(e.currentTarget.value);
            setCheck({ kind: 'none' });
          }}
        />
        {check.kind === 'unparsable' && (
          <p id="spec-text-error" class="field-error" role="alert">
            {check.message}
          </p>
        )}
        <div class="row">
          <label>
            Or upload a file
            <input
              type="file"
              accept=".json,.yaml,.yml,application/json,application/yaml,text/yaml"
              onChange={(e) => {
                const file = e.currentTarget.files?.[0];
                if (file) void file.text().then((t) => (setText(t), setCheck({ kind: 'none' })));
              }}
            />
          </label>
          <label>
            Instances per host
            <input
              type="number"
              min={1}
              max={256}
              value={instancesPerHost}
              aria-describedby={errorsOf('instancesPerHost').length > 0 ? 'field-instancesPerHost-error' : undefined}
              onInput={(e) => setInstancesPerHost(Number(e.currentTarget.value))}
            />
          </label>
          {errorsOf('instancesPerHost').length > 0 && (
            <p id="field-instancesPerHost-error" class="field-error">
              {errorsOf('instancesPerHost').join('; ')}
            </p>
          )}
        </div>
        {check.kind === 'rejected' && (
          <div class="error" role="alert" data-testid="spec-rejected">
            <strong>The controller rejects this spec.</strong> Each problem is shown beside its field below.
            {check.errors.general.length > 0 && (
              <ul>
                {check.errors.general.map((m) => (
                  <li key={m}>{m}</li>
                ))}
              </ul>
            )}
          </div>
        )}
        {check.kind === 'valid' && (
          <p class="ok" role="status" data-testid="spec-valid">
            The controller accepts this spec.
          </p>
        )}
        {fields.length > 0 && (
          <table class="spec-fields">
            <caption>Fields of the spec</caption>
            <thead>
              <tr>
                <th scope="col">Field</th>
                <th scope="col">Value</th>
                <th scope="col">Problems</th>
              </tr>
            </thead>
            <tbody>
              {fields.map((field) => {
                const problems = errorsOf(field);
                return (
                  <tr key={field} data-field={field} class={problems.length > 0 ? 'has-error' : undefined}>
                    <th scope="row">{field}</th>
                    <td>
                      <code>{short(spec?.[field])}</code>
                    </td>
                    <td class="field-error" data-testid={`field-error-${field}`}>
                      {problems.join('; ')}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
        <div class="dialog-buttons">
          <button type="button" disabled={busy} onClick={() => void runCheck()}>
            {busy ? 'Checking…' : 'Check spec'}
          </button>
          <button type="submit" class="primary" disabled={busy}>
            Create…
          </button>
        </div>
      </form>
      {confirming && (
        <ConfirmDialog
          request={operations.create(confirming, instancesPerHost)}
          onClose={() => setConfirming(undefined)}
          onDone={(data) => {
            const serviceId = (data as { serviceId?: string } | undefined)?.serviceId;
            if (serviceId) navigate(paths.service(serviceId));
          }}
        />
      )}
    </section>
  );
}
