import type { Observable } from 'rxjs';
import type { NewEvent, RecordedEvent } from '../events/envelope.js';
import type { TransparencyTree } from '../tlog/tree-port.js';
import type { DataKeyTable } from './data-keys.js';

/**
 * Expected revision for an append (optimistic concurrency):
 * - `'any'`: no check;
 * - `'no_stream'`: the stream must not exist (how reservations make email and sub@issuer unique);
 * - `'stream_exists'`: the stream must have at least one event;
 * - a number: the revision of the stream's last event must be exactly this.
 */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | number;

export interface AppendOptions {
  expectedRevision?: ExpectedRevision;
  /**
   * New data keys to store in the append's own transaction (stores with `keysInAppend`), for the
   * personal-data decorator. An id that already holds another key fails the whole append with
   * DataKeyConflict.
   */
  dataKeys?: readonly { id: string; wrapped: Buffer }[];
}

export interface AppendResult {
  /** Revision of the last event written. */
  revision: number;
  /** Global position of the last event written. */
  position: number;
  events: RecordedEvent[];
}

export interface ReadStreamOptions {
  fromRevision?: number;
  /** At most this many events (a look at one event of a long stream need not read the rest). */
  maxCount?: number;
}

export interface ReadAllOptions {
  /** Exclusive: events with position > after. 0 reads from the start. */
  after?: number;
  /** Page size; the store may return fewer. */
  limit?: number;
}

/**
 * The event store port. Every adapter (memory, SQLite, PostgreSQL, EventStoreDB) passes the same
 * contract suite (test/adapters/event-stores/contract.ts).
 */
export interface EventStore {
  readonly kind: string;
  /** Appends atomically; all or none. Throws WrongExpectedRevision on a concurrency conflict. */
  append(streamId: string, events: NewEvent[], options?: AppendOptions): Promise<AppendResult>;
  /**
   * The stream's events in revision order ([] when it does not exist), from `fromRevision`, at
   * most `maxCount` of them (all when absent).
   */
  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** One page of `$all` in global order. */
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /** Position of the last event in the store (0 when empty). */
  headPosition(): Promise<number>;
  /**
   * Every event with position > `after`, in order: history first, then live, with no gap and no
   * duplicate across the handover. Completes when the store closes.
   */
  subscribe(after?: number): Observable<RecordedEvent>;
  close(): Promise<void>;
  /**
   * Whether appends can be written now (readiness): the outcome of the last commit, refreshed by a
   * cheap write outside the log when older than `maxAgeMs`. Optional: a store that cannot tell omits it.
   */
  writeHealth?(maxAgeMs?: number): Promise<WriteHealth>;
  /** Connection faults a networked store rode out since it opened (for /metrics); absent on embedded stores. */
  readonly faults?: StoreFaults;
  /**
   * Bulk import (`broker events copy`): writes events recorded by another store in one
   * transaction, all or none, unchanged but for their positions, which this store assigns after
   * its head in the given order. Each must continue its stream here (revision one past the
   * stream's last, prevHash equal to its last hash), else ImportBreaksChain and nothing is
   * written. The hashes are stored as given: the caller verifies them. Returns the last position
   * written. Optional: a store without it is copied into by appends.
   */
  importEvents?(events: readonly RecordedEvent[]): Promise<number>;
  /**
   * The Merkle tree over the whole log, kept in the store's own database (issue 18). Absent on a
   * store that does not keep one (memory, EventStoreDB) or when turned off.
   */
  readonly tree?: TransparencyTree;
  /**
   * The keys personal fields are encrypted under (issue 19), in the store's own database beside
   * the log. Absent on a store that cannot keep them (EventStoreDB): its events are written in clear.
   */
  readonly dataKeys?: DataKeyTable;
  /** Whether `append` honours `AppendOptions.dataKeys` (in the same transaction as the events). */
  readonly keysInAppend?: boolean;
  /**
   * Set by a decorator that changes what readers see (adapters/crypto/personal-data.ts decrypts
   * personal fields): the store beneath, whose events are what the hashes cover. Chain and tree
   * verification, copies and imports read this one.
   */
  readonly raw?: EventStore;
  /**
   * Crypto-shredding: destroys the data key of a user, so every personal field about them in the
   * log reads `[erased]` from now on (the personal-data decorator implements it). True if a key was there.
   */
  destroyUserKey?(userId: string): Promise<boolean>;
}

/** The events as stored, hashes and all: beneath any decorator. */
export function storedEvents(store: EventStore): EventStore {
  let s = store;
  while (s.raw) s = s.raw;
  return s;
}

export interface StoreFaults {
  readonly connectionsLost: number;
  readonly listenerReconnects: number;
  readonly retries: number;
}

export type WriteHealth = { ok: true } | { ok: false; reason: string };

export class WrongExpectedRevision extends Error {
  override readonly name = 'WrongExpectedRevision';
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedRevision,
    /** Revision of the stream's last event, or -1 when it does not exist. */
    readonly actual: number,
  ) {
    super(`stream ${streamId}: expected revision ${String(expected)}, actual ${actual === -1 ? 'no stream' : actual}`);
  }
}

/** An imported event does not continue its stream's chain in the target store. */
export class ImportBreaksChain extends Error {
  override readonly name = 'ImportBreaksChain';
  constructor(
    readonly event: Pick<RecordedEvent, 'id' | 'streamId' | 'revision'>,
    /** The target stream's last revision (-1 when it does not exist). */
    readonly actual: number,
  ) {
    super(
      `imported event ${event.id} (stream ${event.streamId} revision ${event.revision}) does not continue the stream here (its last revision is ${actual}, or the hashes do not link)`,
    );
  }
}

/** Throws ImportBreaksChain unless `e` continues a stream whose head is `head`. */
export function checkImportLink(e: RecordedEvent, head: { revision: number; hash: string }): void {
  if (e.revision !== head.revision + 1 || e.prevHash !== head.hash) throw new ImportBreaksChain(e, head.revision);
}

/** Throws WrongExpectedRevision unless `current` (-1 = no stream) satisfies `expected`. */
export function checkExpectedRevision(streamId: string, expected: ExpectedRevision | undefined, current: number): void {
  const e = expected ?? 'any';
  const ok =
    e === 'any' ||
    (e === 'no_stream' && current === -1) ||
    (e === 'stream_exists' && current >= 0) ||
    (typeof e === 'number' && e === current);
  if (!ok) throw new WrongExpectedRevision(streamId, e, current);
}
