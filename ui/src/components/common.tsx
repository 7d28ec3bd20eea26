import type { ComponentChildren } from 'preact';
import { ApiError } from '../api.js';

/** A state is always written out; the colour only repeats what the text says (accessible without colour). */
export type Tone = 'ok' | 'moving' | 'bad' | 'idle';

const BAD = /FAILED|UNHEALTHY|LOST|EMERGENCY|BLACKLIST|MAINTENANCE/;
const OK = /^(HEALTHY|ACTIVE|READY|NORMAL|SUCCESS)$/;
const IDLE = /^(INACTIVE|STOPPED|UNKNOWN|INIT|DESTROYED|REMOVED)$/;

export function toneOf(state: string): Tone {
  if (BAD.test(state)) return 'bad';
  if (OK.test(state)) return 'ok';
  if (IDLE.test(state)) return 'idle';
  return 'moving';
}

export function StateBadge({ state, count }: { state: string; count?: number }) {
  return (
    <span class={`badge tone-${toneOf(state)}`} data-state={state}>
      {count === undefined ? state : `${count} ${state}`}
    </span>
  );
}

export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const e = error as Error;
  const details = e instanceof ApiError ? e.validationErrors : [];
  return (
    <div class="error" role="alert">
      <strong>{title ?? 'Failed'}:</strong> {e.message}
      {details.length > 0 && (
        <ul>
          {details.map((d) => (
            <li key={d}>{d}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

export function Section({ title, children, actions, id }: { title: string; children: ComponentChildren; actions?: ComponentChildren; id?: string }) {
  const headingId = id ?? `section-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return (
    <section class="card" aria-labelledby={headingId}>
      <div class="card-head">
        <h2 id={headingId}>{title}</h2>
        {actions && <div class="actions">{actions}</div>}
      </div>
      {children}
    </section>
  );
}

/** Two columns, label and value: summaries of a service, an instance, an executor. */
export function Facts({ rows }: { rows: Array<[string, ComponentChildren]> }) {
  return (
    <dl class="facts">
      {rows.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

export function Pager({ from, size, total, onPage }: { from: number; size: number; total: number; onPage: (from: number) => void }) {
  const last = Math.max(0, Math.ceil(total / size) - 1);
  const page = Math.floor(from / size);
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={page === 0} onClick={() => onPage(Math.max(0, from - size))}>
        Previous
      </button>
      <span aria-live="polite">
        {total === 0 ? 'none' : `${from + 1}-${Math.min(total, from + size)} of ${total}`}
      </span>
      <button type="button" disabled={page >= last} onClick={() => onPage(from + size)}>
        Next
      </button>
    </nav>
  );
}
