import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Observable } from 'rxjs';
import {
  catchUpSubscription,
  checkExpectedRevision,
  checkImportLink,
  sealEvents,
  type AppendOptions,
  type AppendResult,
  type EventMetadata,
  type EventStore,
  type NewEvent,
  type ReadAllOptions,
  type RecordedEvent,
  type WriteHealth,
  type ReadStreamOptions,
} from '../../core/index.js';
import { SqliteTree } from './sqlite-tree.js';
import { SqliteDataKeys } from '../data-keys/sqlite.js';

export interface SqliteEventStoreOptions {
  path: string;
  /** FULL (default): a commit survives power loss. NORMAL: survives a process crash, faster. */
  synchronous?: 'FULL' | 'NORMAL';
  /** How often subscriptions look for appends made by another process (the CLI). */
  pollMs?: number;
  /** Upper bound of appends written in one group-commit transaction. */
  maxBatch?: number;
  /** Keep the Merkle tree over the log (issue 18; default true). Off only to measure its cost. */
  tree?: boolean;
}

export class EventStoreClosed extends Error {
  override readonly name = 'EventStoreClosed';
  constructor() {
    super('event store is closed');
  }
}

interface PendingAppend {
  streamId: string;
  events: NewEvent[];
  options: AppendOptions;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

type Row = [number, string, number, string, string, number, string, string, string, string];
const COLUMNS = 'position, stream_id, revision, id, type, version, data, metadata, prev_hash, hash';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  position  INTEGER PRIMARY KEY,
  stream_id TEXT    NOT NULL,
  revision  INTEGER NOT NULL,
  id        TEXT    NOT NULL UNIQUE,
  type      TEXT    NOT NULL,
  version   INTEGER NOT NULL,
  data      TEXT    NOT NULL,
  metadata  TEXT    NOT NULL,
  prev_hash TEXT    NOT NULL,
  hash      TEXT    NOT NULL,
  UNIQUE (stream_id, revision)
);
CREATE TABLE IF NOT EXISTS write_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at TEXT NOT NULL);`;

/** A commit that failed for the file's sake (disk full, I/O error, read-only), not for a conflict. */
function writeFailure(err: unknown): string | null {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_') || code.startsWith('SQLITE_CONSTRAINT')) return null;
  return `${code}: ${(err as Error).message}`;
}

function toEvent(r: Row): RecordedEvent {
  return {
    id: r[3],
    streamId: r[1],
    revision: r[2],
    position: r[0],
    type: r[4],
    version: r[5],
    data: JSON.parse(r[6]) as unknown,
    metadata: JSON.parse(r[7]) as EventMetadata,
    prevHash: r[8],
    hash: r[9],
  };
}

/**
 * The embedded default store: one SQLite file in WAL mode. Appends are group-committed: every
 * append that arrives before the scheduled flush runs is written in ONE transaction (one fsync
 * under synchronous=FULL), each checked against the stream state as of that transaction, inside
 * its own savepoint so a conflicting append fails alone while the others commit.
 */
export class SqliteEventStore implements EventStore {
  readonly kind = 'sqlite';
  readonly tree?: SqliteTree;
  readonly dataKeys: SqliteDataKeys;
  readonly keysInAppend = true;
  private readonly listeners = new Set<() => void>();
  private queue: PendingAppend[] = [];
  private scheduled = false;
  private closed = false;
  /** The outcome of the last commit or write probe, for readiness (a full disk fails every append). */
  private lastWrite: { ok: boolean; at: number; reason: string } = { ok: true, at: 0, reason: '' };
  private readonly stmt: {
    last: Database.Statement;
    head: Database.Statement;
    insert: Database.Statement;
    stream: Database.Statement;
    streamLimit: Database.Statement;
    all: Database.Statement;
    probe: Database.Statement;
  };
  private readonly flushTx: Database.Transaction<(batch: PendingAppend[]) => Array<AppendResult | { error: unknown }>>;
  private readonly importTx: Database.Transaction<(events: readonly RecordedEvent[]) => number>;
  private readonly appendOne: Database.Transaction<
    (p: PendingAppend, head: number, streams: Map<string, { revision: number; hash: string }>) => AppendResult
  >;

  private constructor(
    private readonly db: Database.Database,
    private readonly pollMs: number,
    private readonly maxBatch: number,
    withTree: boolean,
  ) {
    if (withTree) this.tree = new SqliteTree(db);
    this.dataKeys = new SqliteDataKeys(db);
    const tree = this.tree;
    this.stmt = {
      last: db.prepare('SELECT revision, hash FROM events WHERE stream_id = ? ORDER BY revision DESC LIMIT 1').raw(),
      head: db.prepare('SELECT coalesce(max(position), 0) FROM events').pluck(),
      insert: db.prepare(`INSERT INTO events (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      stream: db.prepare(`SELECT ${COLUMNS} FROM events WHERE stream_id = ? AND revision >= ? ORDER BY revision`).raw(),
      streamLimit: db.prepare(`SELECT ${COLUMNS} FROM events WHERE stream_id = ? AND revision >= ? ORDER BY revision LIMIT ?`).raw(),
      all: db.prepare(`SELECT ${COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?`).raw(),
      probe: db.prepare('REPLACE INTO write_probe (id, at) VALUES (1, ?)'),
    };

    // One append inside the group transaction. Called from within `flushTx`, better-sqlite3 runs
    // it as a SAVEPOINT: if it throws (conflict, duplicate event id) only its rows roll back.
    this.appendOne = db.transaction((p, head, streams) => {
      let state = streams.get(p.streamId);
      if (!state) {
        const row = this.stmt.last.get(p.streamId) as [number, string] | undefined;
        state = row ? { revision: row[0], hash: row[1] } : { revision: -1, hash: '' };
      }
      checkExpectedRevision(p.streamId, p.options.expectedRevision, state.revision);
      if (p.events.length === 0) return { revision: state.revision, position: head, events: [] };
      // New data keys commit with the events that use them (or neither does).
      if (p.options.dataKeys?.length) this.dataKeys.claimInTransaction(p.options.dataKeys);
      const sealed = sealEvents(p.streamId, p.events, state.revision, state.hash, head + 1);
      for (const e of sealed) this.insertRow(e.position, e);
      const end = sealed[sealed.length - 1];
      streams.set(p.streamId, { revision: end.revision, hash: end.hash });
      return { revision: end.revision, position: end.position, events: sealed };
    });

    this.importTx = db.transaction((events) => {
      let head = this.stmt.head.get() as number;
      const streams = new Map<string, { revision: number; hash: string }>();
      for (const e of events) {
        let state = streams.get(e.streamId);
        if (!state) {
          const row = this.stmt.last.get(e.streamId) as [number, string] | undefined;
          state = row ? { revision: row[0], hash: row[1] } : { revision: -1, hash: '' };
        }
        checkImportLink(e, state);
        head++;
        this.insertRow(head, e);
        streams.set(e.streamId, { revision: e.revision, hash: e.hash });
      }
      tree?.appendEvents(events.map((e, i) => ({ position: head - events.length + 1 + i, hash: e.hash })));
      return head;
    });

    this.flushTx = db.transaction((batch) => {
      // Read the head inside the (IMMEDIATE, so write-locked) transaction: another process may
      // have appended since our last flush.
      let head = this.stmt.head.get() as number;
      const streams = new Map<string, { revision: number; hash: string }>();
      const results = batch.map((p) => {
        try {
          const r = this.appendOne(p, head, streams);
          if (r.events.length) head = r.position;
          return r;
        } catch (error) {
          return { error };
        }
      });
      // The leaves go in the same transaction, in position order, after the savepoints settled.
      tree?.appendEvents(results.flatMap((r) => ('error' in r ? [] : r.events)));
      return results;
    });
  }

  /** One row of `events`: appends and imports write the same columns. */
  private insertRow(position: number, e: RecordedEvent): void {
    this.stmt.insert.run(
      position,
      e.streamId,
      e.revision,
      e.id,
      e.type,
      e.version,
      JSON.stringify(e.data ?? null),
      JSON.stringify(e.metadata),
      e.prevHash,
      e.hash,
    );
  }

  static async open(options: SqliteEventStoreOptions): Promise<SqliteEventStore> {
    // The log holds password hashes and encrypted keys: the data directory is created 0700 and the
    // file 0600 (SQLite gives its -wal and -shm files the database file's mode).
    fs.mkdirSync(path.dirname(path.resolve(options.path)), { recursive: true, mode: 0o700 });
    try {
      fs.closeSync(fs.openSync(options.path, 'wx', 0o600));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const db = new Database(options.path);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${options.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
      // The CLI may write to the same file while a broker runs: wait for its lock, not fail.
      db.pragma('busy_timeout = 5000');
      // 32 MiB of page cache (default 2 MiB): appends update two indexes (event id, stream
      // revision) whose pages are spread over the whole file once the log is large.
      db.pragma('cache_size = -32768');
      // Deleted and overwritten content is zeroed in the file (a destroyed data key must leave no
      // copy in a free page). The log itself is append-only, so this costs its appends nothing.
      db.pragma('secure_delete = ON');
      db.exec(SCHEMA);
    } catch (e) {
      db.close();
      throw e;
    }
    const store = new SqliteEventStore(db, options.pollMs ?? 250, options.maxBatch ?? 2000, options.tree !== false);
    // A file written before the tree existed (or with the tree off) gets its leaves once, here.
    const tail = db.prepare('SELECT position, hash FROM events WHERE position > ? ORDER BY position LIMIT ?');
    const readAfter = (after: number, limit: number) => tail.all(after, limit) as { position: number; hash: string }[];
    if (store.tree) store.tree.readAfter = readAfter;
    store.tree?.backfill(readAfter);
    return store;
  }

  append(streamId: string, events: NewEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new EventStoreClosed());
    return new Promise((resolve, reject) => {
      this.queue.push({ streamId, events, options, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // setImmediate, not a microtask: lets every caller whose I/O completed in this loop
        // turn join the same transaction.
        setImmediate(() => this.flush());
      }
    });
  }

  /** Writes everything queued, group by group. Synchronous: better-sqlite3 blocks. */
  private flush(): void {
    this.scheduled = false;
    let wrote = false;
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.maxBatch);
      let results: Array<AppendResult | { error: unknown }>;
      try {
        results = this.flushTx.immediate(batch);
      } catch (error) {
        // The commit itself failed (disk full, lock timeout): nothing of this batch was written.
        this.tree?.invalidate();
        this.recordWrite(writeFailure(error) ?? `${(error as Error).name}: ${(error as Error).message}`);
        for (const p of batch) p.reject(error);
        continue;
      }
      // An insert can fail on the file too (a cache spill on a full disk) inside its savepoint.
      const failed = results.map((r) => ('error' in r ? writeFailure(r.error) : null)).find((f) => f !== null);
      this.recordWrite(failed ?? null);
      batch.forEach((p, i) => {
        const r = results[i];
        if ('error' in r) p.reject(r.error);
        else {
          if (r.events.length) wrote = true;
          p.resolve(r);
        }
      });
    }
    if (wrote) this.notify();
  }

  async importEvents(events: readonly RecordedEvent[]): Promise<number> {
    if (this.closed) throw new EventStoreClosed();
    this.flush(); // appends queued before the import come before it
    let last: number;
    try {
      last = this.importTx.immediate(events);
    } catch (err) {
      this.tree?.invalidate();
      throw err;
    }
    if (events.length) this.notify();
    return last;
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    if (this.closed) throw new EventStoreClosed();
    const rows =
      options.maxCount !== undefined
        ? this.stmt.streamLimit.all(streamId, options.fromRevision ?? 0, options.maxCount)
        : this.stmt.stream.all(streamId, options.fromRevision ?? 0);
    return (rows as Row[]).map(toEvent);
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    if (this.closed) throw new EventStoreClosed();
    return (this.stmt.all.all(options.after ?? 0, options.limit ?? 5000) as Row[]).map(toEvent);
  }

  async headPosition(): Promise<number> {
    if (this.closed) throw new EventStoreClosed();
    return this.stmt.head.get() as number;
  }

  subscribe(after = 0): Observable<RecordedEvent> {
    return catchUpSubscription(
      {
        // After close a pending pump reads nothing and then completes (it checks isClosed).
        readPage: async (a, limit) => (this.closed ? [] : this.readAll({ after: a, limit })),
        onAppend: (l) => {
          this.listeners.add(l);
          return () => this.listeners.delete(l);
        },
        pollMs: this.pollMs,
        isClosed: () => this.closed,
      },
      after,
    );
  }

  /**
   * Whether writes work: the last commit's outcome, refreshed by a one-row write outside the log
   * (`write_probe`) when that outcome is older than `maxAgeMs`, or at most once a second while
   * failing, so readiness recovers once the disk has room again even if no request writes.
   */
  async writeHealth(maxAgeMs = 5000): Promise<WriteHealth> {
    if (this.closed) return { ok: false, reason: 'the event store is closed' };
    const age = Date.now() - this.lastWrite.at;
    if (age > (this.lastWrite.ok ? maxAgeMs : 1000)) this.probe();
    return this.lastWrite.ok ? { ok: true } : { ok: false, reason: this.lastWrite.reason };
  }

  private probe(): void {
    // Short lock wait: the event loop blocks while better-sqlite3 waits, and a CLI append holding
    // the write lock says nothing about the disk (SQLITE_BUSY leaves the last outcome as it was).
    this.db.pragma('busy_timeout = 200');
    try {
      this.stmt.probe.run(new Date().toISOString());
      this.recordWrite(null);
    } catch (err) {
      const failed = writeFailure(err);
      if (failed && !failed.startsWith('SQLITE_BUSY')) this.recordWrite(failed);
    } finally {
      this.db.pragma('busy_timeout = 5000');
    }
  }

  private recordWrite(failure: string | null): void {
    this.lastWrite = { ok: failure === null, at: Date.now(), reason: failure ?? '' };
  }

  /** Writes what is queued, closes the file, completes subscriptions. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.db.close();
    this.notify();
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }
}
