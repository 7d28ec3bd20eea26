import { useEffect, useState } from 'preact/hooks';
import type { DroveEvent, DroveEventsList } from '../../../src/model/events.js';
import { get, queryString } from '../api.js';
import { feed } from '../events.js';
import { dateTime } from '../format.js';
import { paths } from '../router.js';
import { ErrorBox, StateBadge } from './common.js';

/** Events kept on screen: the newest ones; older ones are in `drove cluster events` and the events API. */
const SHOWN_EVENTS = 200;
/** The events API's page: what the controller keeps is bounded by maxEventsStorageDuration anyway. */
const FIRST_LOAD = 1024;

function eventText(event: DroveEvent): string {
  const m = event.metadata;
  switch (event.type) {
    case 'LOCAL_SERVICE_STATE_CHANGE':
      return `${m.LOCAL_SERVICE_ID} is ${m.CURRENT_STATE}`;
    case 'LOCAL_SERVICE_INSTANCE_STATE_CHANGE':
      return `${m.INSTANCE_ID} of ${m.SERVICE_ID} is ${m.CURRENT_STATE}${m.EXECUTOR_HOST ? ` on ${m.EXECUTOR_HOST}` : ''}${m.ERROR ? `: ${m.ERROR}` : ''}`;
    default: {
      const details = Object.entries(m)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ');
      return details || event.type;
    }
  }
}

function linkOf(event: DroveEvent): string | undefined {
  const m = event.metadata;
  if (typeof m.SERVICE_ID === 'string' && typeof m.INSTANCE_ID === 'string') return paths.instance(m.SERVICE_ID, m.INSTANCE_ID);
  if (typeof m.LOCAL_SERVICE_ID === 'string') return paths.service(m.LOCAL_SERVICE_ID);
  if (typeof m.EXECUTOR_ID === 'string') return paths.executor(m.EXECUTOR_ID);
  return undefined;
}

/** Newest first: what the events API had when the page opened, then every new event as the feed brings it. */
export function EventTimeline({ filter, title }: { filter: (event: DroveEvent) => boolean; title: string }) {
  const [events, setEvents] = useState<DroveEvent[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    const abort = new AbortController();
    const load = () =>
      get<DroveEventsList>(`/apis/v1/cluster/events/latest${queryString({ lastSyncTime: 0, size: FIRST_LOAD })}`, abort.signal).then(
        (page) => setEvents(page.events.filter(filter).slice(0, SHOWN_EVENTS)),
        (e: unknown) => !abort.signal.aborted && setError(e),
      );
    void load();
    const unsubscribe = feed.subscribe({
      event: (event) => {
        if (!filter(event)) return;
        setEvents((list) => (list.some((e) => e.id === event.id) ? list : [event, ...list].slice(0, SHOWN_EVENTS)));
      },
      resync: () => void load(),
    });
    return () => {
      abort.abort();
      unsubscribe();
    };
    // The filter is fixed for the lifetime of the timeline (its owner re-keys it to change it).
  }, []);
  return (
    <div class="timeline">
      <ErrorBox error={error} />
      {events.length === 0 && <p class="muted">No events yet</p>}
      <ol aria-label={title}>
        {events.map((event) => {
          const href = linkOf(event);
          const state = typeof event.metadata.CURRENT_STATE === 'string' ? event.metadata.CURRENT_STATE : undefined;
          return (
            <li key={event.id} data-event-type={event.type}>
              <time dateTime={new Date(event.time).toISOString()}>{dateTime(event.time)}</time>
              <span class="event-type">{event.type}</span>
              {state && <StateBadge state={state} />}
              {href ? <a href={href}>{eventText(event)}</a> : <span>{eventText(event)}</span>}
            </li>
          );
        })}
      </ol>
    </div>
  );
}
