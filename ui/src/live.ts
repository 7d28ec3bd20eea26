import { useEffect, useRef, useState } from 'preact/hooks';
import type { DroveEvent } from '../../src/model/events.js';
import { feed } from './events.js';

/**
 * Data of a page that stays current: loaded once, then loaded again whenever an event it cares about arrives
 * (or the feed says events may have been missed). Reloads are coalesced: while one runs, further events only
 * mark the data dirty, and at most one more load follows, at least MIN_RELOAD_GAP_MS after the last.
 */

/** A rollout on 1,000 hosts sends thousands of events a minute; a page re-reads at most this often. */
const MIN_RELOAD_GAP_MS = 300;

export interface Live<T> {
  data: T | undefined;
  error: Error | undefined;
  /** The first load has not answered yet. */
  loading: boolean;
  reload: () => void;
}

export function useLive<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: readonly unknown[],
  relevant: (event: DroveEvent) => boolean = () => true,
): Live<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const relevantRef = useRef(relevant);
  relevantRef.current = relevant;
  const reloadRef = useRef<() => void>(() => undefined);

  useEffect(() => {
    const abort = new AbortController();
    let running = false;
    let dirty = false;
    let lastStart = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setLoading(true);
    setData(undefined);
    setError(undefined);

    const run = async () => {
      running = true;
      dirty = false;
      lastStart = Date.now();
      try {
        const value = await load(abort.signal);
        if (abort.signal.aborted) return;
        setData(() => value);
        setError(undefined);
      } catch (e) {
        if (abort.signal.aborted) return;
        setError(e as Error);
      } finally {
        running = false;
        if (!abort.signal.aborted) setLoading(false);
      }
      if (dirty && !abort.signal.aborted) schedule();
    };
    const schedule = () => {
      if (running) {
        dirty = true;
        return;
      }
      if (timer) return;
      const wait = Math.max(0, lastStart + MIN_RELOAD_GAP_MS - Date.now());
      timer = setTimeout(() => {
        timer = undefined;
        void run();
      }, wait);
    };
    reloadRef.current = schedule;
    const unsubscribe = feed.subscribe({
      event: (event) => {
        if (relevantRef.current(event)) schedule();
      },
      resync: schedule,
    });
    void run();
    return () => {
      abort.abort();
      if (timer) clearTimeout(timer);
      unsubscribe();
    };
    // The caller lists what the load depends on.
  }, deps);

  return { data, error, loading, reload: () => reloadRef.current() };
}

/** Events about one local service (its state or one of its instances). */
export function aboutService(serviceId: string): (event: DroveEvent) => boolean {
  return (event) => event.metadata.LOCAL_SERVICE_ID === serviceId || event.metadata.SERVICE_ID === serviceId;
}

export function isServiceEvent(event: DroveEvent): boolean {
  return event.type === 'LOCAL_SERVICE_STATE_CHANGE' || event.type === 'LOCAL_SERVICE_INSTANCE_STATE_CHANGE';
}

export function isClusterEvent(event: DroveEvent): boolean {
  return event.type.startsWith('EXECUTOR_') || event.type.startsWith('MAINTENANCE_') || event.type.startsWith('LEADERSHIP_');
}
