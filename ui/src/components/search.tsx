import { useEffect, useRef, useState } from 'preact/hooks';
import type { ConsoleSearchResult } from '../../../src/model/console.js';
import { get, queryString } from '../api.js';
import { navigate, paths } from '../router.js';

/** Waits for a pause in typing before asking the controller (each answer scans every instance id). */
const TYPING_PAUSE_MS = 200;

function hrefOf(hit: ConsoleSearchResult['hits'][number]): string {
  if (hit.kind === 'service') return paths.service(hit.id);
  if (hit.kind === 'executor') return paths.executor(hit.id);
  return paths.instance(hit.serviceId ?? '', hit.id);
}

/** One box for services, executors and instance ids (the controller searches: `/apis/v1/console/search`). */
export function SearchBox() {
  const [text, setText] = useState('');
  const [result, setResult] = useState<ConsoleSearchResult | undefined>(undefined);
  const [open, setOpen] = useState(false);
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (text.trim() === '') {
      setResult(undefined);
      return;
    }
    const abort = new AbortController();
    const timer = setTimeout(() => {
      get<ConsoleSearchResult>(`/apis/v1/console/search${queryString({ q: text })}`, abort.signal).then(
        (r) => setResult(r),
        () => undefined,
      );
    }, TYPING_PAUSE_MS);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [text]);

  const close = () => {
    setOpen(false);
    setText('');
  };

  return (
    <div
      class="search"
      ref={box}
      onFocusOut={(e) => {
        if (!box.current?.contains(e.relatedTarget as Node | null)) setOpen(false);
      }}
      onKeyDown={(e) => {
        if (e.key === 'Escape') setOpen(false);
      }}
    >
      <form
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          const first = result?.hits[0];
          if (first) {
            navigate(hrefOf(first));
            close();
          }
        }}
      >
        <label class="visually-hidden" for="search-input">
          Search services, executors and instance ids
        </label>
        <input
          id="search-input"
          type="search"
          placeholder="Search services, executors, instances"
          autocomplete="off"
          value={text}
          onInput={(e) => {
            setText(e.currentTarget.value);
            setOpen(true);
          }}
          onFocus={() => setOpen(true)}
        />
      </form>
      {open && result && (
        <ul class="search-results" aria-label="Search results">
          {result.hits.length === 0 && <li class="muted">Nothing matches</li>}
          {result.hits.map((hit) => (
            <li key={`${hit.kind}:${hit.id}`}>
              <a href={hrefOf(hit)} onClick={close}>
                <strong>{hit.id}</strong> <span class="muted">{hit.label}</span>
              </a>
            </li>
          ))}
          {result.truncated && <li class="muted">More match: type more of the name</li>}
        </ul>
      )}
    </div>
  );
}
