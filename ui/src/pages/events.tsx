import { useState } from 'preact/hooks';
import { DROVE_EVENT_TYPES } from '../../../src/model/event-types.js';
import { Section } from '../components/common.js';
import { EventTimeline } from '../components/timeline.js';

/** The cluster's event timeline, live; one type at a time or all of them. */
export function EventsPage() {
  const [type, setType] = useState('');
  return (
    <>
      <h1>Events</h1>
      <Section
        title="Timeline"
        actions={
          <label>
            Type
            <select value={type} onChange={(e) => setType(e.currentTarget.value)}>
              <option value="">all</option>
              {DROVE_EVENT_TYPES.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </label>
        }
      >
        <EventTimeline key={type} filter={(e) => !type || e.type === type} title="Cluster events" />
      </Section>
    </>
  );
}
