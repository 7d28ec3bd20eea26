import type { DroveEvent } from '../../../src/model/index.js';

/**
 * The leadership terms the soak has seen, built from each leader's event log. A leader clears its log when it
 * gains leadership and writes LEADERSHIP_ACQUIRED first, so every event belongs to the term opened by the last
 * LEADERSHIP_ACQUIRED of the same controller before it; the event's id names the term. A term ends when a
 * newer one is seen (on any controller): the old leader's operation slots and events are gone by then.
 */

export interface Term {
  id: string;
  controller: number;
  /** Time of its LEADERSHIP_ACQUIRED event (the controller's clock: the same machine as ours). */
  acquiredAt: number;
}

export interface TermEvent {
  term: Term | undefined;
  event: DroveEvent;
}

export class TermTracker {
  private readonly terms: Term[] = [];
  /** Per controller: its events in time order, with their term. */
  private readonly history = new Map<number, TermEvent[]>();
  private readonly current = new Map<number, Term>();
  private readonly lastSync = new Map<number, number>();
  private readonly fetched = new Map<number, number>();

  /** The `lastSyncTime` to ask a controller for; 0 after it restarted (a new process starts a new log). */
  syncPoint(controller: number): number {
    return this.lastSync.get(controller) ?? 0;
  }

  restarted(controller: number): void {
    this.lastSync.delete(controller);
    this.current.delete(controller);
    this.fetched.delete(controller);
  }

  /**
   * Adds what `/cluster/events/latest` returned (newest first, as Drove sends them), read at `fetchedAt` (our
   * clock, just before the request went out).
   */
  add(controller: number, events: readonly DroveEvent[], lastSyncTime: number, fetchedAt: number): void {
    const list = this.history.get(controller) ?? [];
    this.history.set(controller, list);
    const seen = new Set(list.slice(-events.length - 10).map((e) => e.event.id));
    for (const event of [...events].sort((a, b) => a.time - b.time)) {
      if (seen.has(event.id)) continue;
      if (event.type === 'LEADERSHIP_ACQUIRED') {
        const term = { id: event.id, controller, acquiredAt: event.time };
        this.terms.push(term);
        this.current.set(controller, term);
      }
      list.push({ term: this.current.get(controller), event });
    }
    this.lastSync.set(controller, Math.max(this.syncPoint(controller), lastSyncTime));
    this.fetched.set(controller, Math.max(this.fetched.get(controller) ?? 0, fetchedAt));
  }

  /** When the controller's log was last read (0: not since its last restart). */
  fetchedAt(controller: number): number {
    return this.fetched.get(controller) ?? 0;
  }

  /** Some term was acquired after `time`: whoever led at `time` does not any more. */
  hasTermAfter(time: number): boolean {
    return this.terms.some((t) => t.acquiredAt > time);
  }

  /** The term a controller is in, as far as its events tell. */
  currentTerm(controller: number): Term | undefined {
    return this.current.get(controller);
  }

  /** The term of `controller` at `time`: its last LEADERSHIP_ACQUIRED at or before then. */
  termAt(controller: number, time: number): Term | undefined {
    let found: Term | undefined;
    for (const term of this.terms) if (term.controller === controller && term.acquiredAt <= time) found = term;
    return found;
  }

  /** A term acquired after `term` (on any controller): `term` is over. */
  hasNewerTerm(term: Term): boolean {
    return this.terms.some((t) => t.acquiredAt > term.acquiredAt);
  }

  eventsOf(term: Term): DroveEvent[] {
    return (this.history.get(term.controller) ?? []).filter((e) => e.term === term).map((e) => e.event);
  }

  allTerms(): readonly Term[] {
    return this.terms;
  }
}
