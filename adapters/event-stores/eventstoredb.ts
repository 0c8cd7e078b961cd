import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  START,
  StreamNotFoundError,
  WrongExpectedVersionError,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  type JSONEventType,
  type Position,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { Observable } from 'rxjs';
import {
  checkExpectedRevision,
  sealEvents,
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type NewEvent,
  type ReadAllOptions,
  type RecordedEvent,
  type ReadStreamOptions,
} from '../../core/index.js';
import { exactExpectedRevision, fromEsdbEvent, toEsdbEvent, type EsdbRecorded } from './eventstoredb-mapping.js';

export interface EventStoreDbOptions {
  /** `esdb://host:2113?tls=false` (single node) or `esdb+discover://a,b,c` (cluster via gossip). */
  connectionString: string;
  /**
   * Prefix of every esdb stream name this store writes and reads (default none). Lets several
   * brokers (or test runs) share one server: each sees only its own `$all`.
   */
  streamPrefix?: string;
  /** Backoff bound when a subscription must reconnect (ms). */
  maxReconnectDelayMs?: number;
}

/** Only the broker's streams: EventStoreDB's system streams start with `$`. */
const brokerStreams = (prefix: string) => (prefix ? streamNameFilter({ prefixes: [prefix] }) : streamNameFilter({ regex: '^[^$]' }));

/**
 * EventStoreDB adapter (`@eventstore/db-client`). Appends chain to the last event read and send
 * its exact revision (see exactExpectedRevision); ids are UUIDs, so a retried append is
 * idempotent on the server. Positions are prepare positions: increasing, not dense.
 */
export class EventStoreDbEventStore implements EventStore {
  readonly kind = 'eventstoredb';
  private closed = false;
  /** Close hooks of open subscriptions. */
  private readonly live = new Set<() => void>();
  /** Exact esdb positions of recently seen events, to resume a read of `$all` right after one. */
  private readonly positions = new Map<number, Position>();

  private readonly prefix: string;

  private constructor(
    readonly client: EventStoreDBClient,
    private readonly options: EventStoreDbOptions,
  ) {
    this.prefix = options.streamPrefix ?? '';
  }

  static async open(options: EventStoreDbOptions): Promise<EventStoreDbEventStore> {
    const client = EventStoreDBClient.connectionString(options.connectionString);
    const store = new EventStoreDbEventStore(client, options);
    try {
      await store.headPosition(); // fails fast on a bad address or credentials
    } catch (err) {
      await client.dispose().catch(() => {});
      throw err;
    }
    return store;
  }

  async append(streamId: string, events: NewEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    if (this.closed) throw new Error('event store is closed');
    for (let attempt = 0; ; attempt++) {
      const last = await this.lastEvent(streamId);
      const current = last ? last.revision : -1;
      checkExpectedRevision(streamId, options.expectedRevision, current);
      if (events.length === 0) return { revision: current, position: last ? last.position : 0, events: [] };
      const sealed = sealEvents(streamId, events, current, last ? last.hash : '', 0);
      try {
        await this.client.appendToStream(
          this.prefix + streamId,
          sealed.map((e) => toEsdbEvent(e) as never),
          { expectedRevision: exactExpectedRevision(current) },
        );
      } catch (err) {
        // Someone appended between our read and our write: read again; the caller's mode decides
        // (an exact revision now fails with the actual one, 'any' chains to the new last event).
        if (err instanceof WrongExpectedVersionError && attempt < 20) continue;
        throw err;
      }
      // Positions of each event come from reading them back (the append result only has the last).
      const stored = await this.readStream(streamId, { fromRevision: current + 1 });
      const mine = stored.slice(0, sealed.length);
      const end = mine[mine.length - 1];
      return { revision: end.revision, position: end.position, events: mine };
    }
  }

  private async lastEvent(streamId: string): Promise<RecordedEvent | null> {
    try {
      for await (const r of this.client.readStream<JSONEventType>(this.prefix + streamId, {
        direction: BACKWARDS,
        fromRevision: END,
        maxCount: 1,
      })) {
        return this.map(r);
      }
    } catch (err) {
      if (err instanceof StreamNotFoundError) return null;
      throw err;
    }
    return null;
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const out: RecordedEvent[] = [];
    if (options.maxCount === 0) return out;
    try {
      const from = options.fromRevision ? BigInt(options.fromRevision) : START;
      for await (const r of this.client.readStream<JSONEventType>(this.prefix + streamId, {
        direction: FORWARDS,
        fromRevision: from,
        ...(options.maxCount !== undefined ? { maxCount: BigInt(options.maxCount) } : {}),
      })) {
        const e = this.map(r);
        if (e) out.push(e);
      }
    } catch (err) {
      if (err instanceof StreamNotFoundError) return [];
      throw err;
    }
    return out;
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const after = options.after ?? 0;
    const limit = options.limit ?? 5000;
    const out: RecordedEvent[] = [];
    let from: Position | typeof START =
      after > 0 ? (this.positions.get(after) ?? { commit: BigInt(after), prepare: BigInt(after) }) : START;
    // readAll cannot filter server-side: keep reading until `limit` broker events or the end.
    for (;;) {
      let seen = 0;
      let lastPos: Position | undefined;
      for await (const r of this.client.readAll({ direction: FORWARDS, fromPosition: from, maxCount: limit + 1 })) {
        seen++;
        if (!r.event) continue;
        lastPos = r.event.position;
        const e = this.map(r);
        if (!e || e.position <= after || (out.length && e.position <= out[out.length - 1].position)) continue;
        out.push(e);
        if (out.length === limit) return out;
      }
      if (seen < limit + 1 || !lastPos) return out;
      from = lastPos;
    }
  }

  async headPosition(): Promise<number> {
    let from: Position | typeof END = END;
    for (;;) {
      let seen = 0;
      let lastPos: Position | undefined;
      for await (const r of this.client.readAll({ direction: BACKWARDS, fromPosition: from, maxCount: 200 })) {
        seen++;
        if (!r.event) continue;
        lastPos = r.event.position;
        const e = this.map(r);
        if (e) return e.position;
      }
      if (seen < 200 || !lastPos) return 0;
      from = lastPos;
    }
  }

  /**
   * History then live from one server-side catch-up subscription to `$all`, filtered to the
   * broker's streams. On a dropped connection it resubscribes from the last event delivered, and
   * skips anything at or before it, so the handover has no gap and no duplicate.
   */
  subscribe(after = 0): Observable<RecordedEvent> {
    return new Observable<RecordedEvent>((subscriber) => {
      let cursor = after;
      let sub: AllStreamSubscription | null = null;
      let stopped = false;
      let delay = 50;
      let timer: NodeJS.Timeout | undefined;
      const onClose = (): void => {
        if (this.closed && !stopped) finish();
      };
      const finish = (): void => {
        stopped = true;
        this.live.delete(onClose);
        void sub?.unsubscribe().catch(() => {});
        subscriber.complete();
      };
      const start = (): void => {
        if (stopped) return;
        if (this.closed) return finish();
        const fromPosition = cursor > 0 ? (this.positions.get(cursor) ?? { commit: BigInt(cursor), prepare: BigInt(cursor) }) : START;
        const s = this.client.subscribeToAll({ fromPosition, filter: brokerStreams(this.prefix) });
        sub = s;
        s.on('data', (r: AllStreamResolvedEvent) => {
          if (stopped) return;
          delay = 50;
          const e = this.map(r);
          if (!e || e.position <= cursor) return;
          cursor = e.position;
          subscriber.next(e);
        });
        s.on('error', () => {
          if (stopped || sub !== s) return;
          sub = null;
          if (this.closed) return finish();
          timer = setTimeout(start, delay);
          delay = Math.min(delay * 2, this.options.maxReconnectDelayMs ?? 5_000);
        });
      };
      // close() completes the subscribers (the contract: a store that closes completes them).
      this.live.add(onClose);
      start();
      return () => {
        stopped = true;
        this.live.delete(onClose);
        if (timer) clearTimeout(timer);
        void sub?.unsubscribe().catch(() => {});
      };
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const l of [...this.live]) l();
    await this.client.dispose();
  }

  private map(r: ResolvedEvent<JSONEventType> | AllStreamResolvedEvent): RecordedEvent | null {
    if (!r.event || !r.event.streamId.startsWith(this.prefix)) return null;
    const raw = r.event as unknown as EsdbRecorded;
    const e = fromEsdbEvent(this.prefix ? { ...raw, streamId: raw.streamId.slice(this.prefix.length) } : raw);
    if (e && r.event.position) {
      this.positions.set(e.position, r.event.position);
      // Bounded: the oldest entries go first (a Map iterates in insertion order).
      if (this.positions.size > 100_000) this.positions.delete(this.positions.keys().next().value!);
    }
    return e;
  }
}
