import { eventHash, storedEvents, type EventStore, type ReadModels, type RecordedEvent } from '../../../plugin/index.js';

export interface EventQuery {
  /** Exclusive upper bound: the page holds events before this position (newest first). */
  before: number | null;
  type: string | null;
  user: string | null;
  /** ISO times: events recorded at or after `from`, before `to`. */
  from: string | null;
  to: string | null;
  limit: number;
}

export type Verification = { ok: true } | { ok: false; problem: string };

export interface EventPage {
  events: { event: RecordedEvent; verification: Verification }[];
  /** `before` of the next (older) page, or null at the start of the range. */
  older: number | null;
  /** Events read to fill the page (a type filter over the whole log reads windows of it). */
  scanned: number;
  head: number;
}

/** A type filter without a user reads the log backwards in windows, at most this many events a page. */
export const SCAN_CAP = 5000;
const WINDOW = 500;

const at = async (store: EventStore, position: number): Promise<RecordedEvent | undefined> =>
  (await store.readAll({ after: position - 1, limit: 1 }))[0];

/**
 * The first position recorded at or after `iso` (head + 1 when none): a binary search over
 * positions, ~log2(head) one-event reads, relying on positions being assigned in time order.
 */
export async function positionAt(store: EventStore, head: number, iso: string): Promise<number> {
  let lo = 1;
  let hi = head + 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const e = await at(store, mid);
    if (!e) hi = mid;
    else if (e.metadata.recordedAt < iso) lo = e.position + 1;
    else hi = Math.min(mid, e.position);
  }
  return lo;
}

/**
 * One page of the event log, newest first, by position. A user filter reads the audit index
 * (user -> positions) and then only those events; otherwise the log is read backwards from
 * `before` in windows, filtered by type, until the page is full or SCAN_CAP events were read.
 * Never the whole log on a request.
 */
export async function queryEvents(store: EventStore, read: ReadModels, q: EventQuery): Promise<EventPage> {
  const head = await store.headPosition();
  const lower = q.from ? await positionAt(store, head, q.from) : 1;
  let upper = q.before ?? head + 1;
  if (q.to) upper = Math.min(upper, await positionAt(store, head, q.to));
  const picked: RecordedEvent[] = [];
  let older: number | null = null;
  let scanned = 0;
  if (q.user) {
    const entries = read.audit.timeline(q.user).filter((e) => e.position >= lower && e.position < upper && (!q.type || e.type === q.type));
    const page = entries.slice(-q.limit).reverse();
    for (const entry of page) {
      const e = await at(store, entry.position);
      if (e && e.position === entry.position) picked.push(e);
    }
    scanned = page.length;
    older = entries.length > page.length ? page[page.length - 1].position : null;
  } else {
    let cursor = upper;
    while (cursor > lower && picked.length < q.limit && scanned < SCAN_CAP) {
      const from = Math.max(lower, cursor - WINDOW);
      const window = (await store.readAll({ after: from - 1, limit: cursor - from })).filter((e) => e.position < cursor);
      scanned += window.length;
      let stoppedAt = from;
      for (let i = window.length - 1; i >= 0; i--) {
        const e = window[i];
        if (q.type && e.type !== q.type) continue;
        picked.push(e);
        if (picked.length === q.limit) {
          stoppedAt = e.position;
          break;
        }
      }
      cursor = stoppedAt;
    }
    older = cursor > lower ? cursor : null;
  }
  return { events: await verify(store, picked), older, scanned, head };
}

/**
 * Each event's place in its stream's hash chain: its own hash recomputed, and its `prevHash`
 * equal to the hash of the stream's previous event (read from the stream when not on the page).
 * `broker audit verify` checks the whole log; this checks what the page shows.
 */
async function verify(store: EventStore, shown: RecordedEvent[]): Promise<EventPage['events']> {
  // The hashes cover the events as stored (personal fields sealed): check those, show the opened ones.
  const raw = storedEvents(store);
  const events = raw === store ? shown : await Promise.all(shown.map(async (e) => (await at(raw, e.position)) ?? e));
  const known = new Map<string, RecordedEvent>(events.map((e) => [`${e.streamId}#${e.revision}`, e]));
  // One bounded read per missing link: a stream can be long (lease renewals), its tail is not needed.
  for (const e of events) {
    if (e.revision === 0 || known.has(`${e.streamId}#${e.revision - 1}`)) continue;
    for (const p of await raw.readStream(e.streamId, { fromRevision: e.revision - 1, maxCount: 1 }))
      known.set(`${p.streamId}#${p.revision}`, p);
  }
  return events.map((stored, i) => {
    const event = shown[i];
    if (eventHash(stored) !== stored.hash) return { event, verification: { ok: false, problem: 'its content does not match its hash' } };
    if (stored.revision === 0)
      return {
        event,
        verification: stored.prevHash === '' ? { ok: true } : { ok: false, problem: 'first event of its stream with a previous hash' },
      };
    const prev = known.get(`${stored.streamId}#${stored.revision - 1}`);
    if (!prev) return { event, verification: { ok: false, problem: 'the previous event of its stream is missing' } };
    return {
      event,
      verification:
        prev.hash === stored.prevHash ? { ok: true } : { ok: false, problem: 'it does not link to the previous event of its stream' },
    };
  });
}
