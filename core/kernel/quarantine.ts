import type { RecordedEvent } from '../events/envelope.js';
import { declarePersonalFields } from '../events/personal-fields.js';
import { defineEvent } from '../events/schema-versions.js';

declare module '../events/catalog.js' {
  interface EventMap {
    /**
     * Stream `reactor-<name>` (beside its checkpoint): the reactor threw on an event and was
     * stopped. Kept in the log so every node, and every restart, sees it: none runs it again on
     * that event until an operator asks for a retry.
     */
    ReactorQuarantined: { reactor: string; position: number; streamId: string; eventId: string; type: string; error: string };
    /** Stream `component-<name>`: an operator asks the projection or reactor of that name to try again (`broker projections retry`). */
    ComponentRetryRequested: { component: string };
  }
}
defineEvent('ReactorQuarantined', 1);
defineEvent('ComponentRetryRequested', 1);
// A plugin's error message may quote what it choked on (an email, a name): in the log it is sealed
// under the key of its day (no user to tie it to), which retention destroys like other anonymous data.
declarePersonalFields('ReactorQuarantined', ['error']);

/** Where the retry requests for a projection or reactor of that name are appended. */
export function retryStream(name: string): string {
  return `component-${name}`;
}

/**
 * A projection or reactor stopped on an event it threw on (Zitadel's failed_events, with a stop
 * instead of a skip). `position` is the event it failed on (0: it failed outside an event, e.g. in
 * its `start`); for a reactor that fails asynchronously it is the last event handed to it (the
 * failing one, or one before it still in its pipeline).
 */
export interface Quarantine {
  component: string;
  kind: 'projection' | 'reactor';
  position: number;
  streamId: string;
  eventId: string;
  type: string;
  error: string;
  at: string;
}

/** An error as one bounded line for the record: no stack (it goes to the log), no unbounded size. */
export function describeError(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

export function eventRef(e: RecordedEvent | null): Pick<Quarantine, 'position' | 'streamId' | 'eventId' | 'type'> {
  return e
    ? { position: e.position, streamId: e.streamId, eventId: e.id, type: e.type }
    : { position: 0, streamId: '', eventId: '', type: '' };
}
