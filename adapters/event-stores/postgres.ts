import { PostgresDataKeys } from '../data-keys/postgres.js';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Observable } from 'rxjs';
import {
  catchUpSubscription,
  checkExpectedRevision,
  sealEvents,
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  type Logger,
  type NewEvent,
  type ReadAllOptions,
  type RecordedEvent,
  type ReadStreamOptions,
} from '../../core/index.js';
import { checkSchemaName, migrate } from './postgres-migrations.js';
import { PgNotificationListener } from './postgres-listener.js';
import { DEFAULT_RETRY, isConnectionError, retryOnConnectionError, uniqueViolation, type RetryPolicy } from './postgres-retry.js';
import { GroupCommitter } from './postgres-group-commit.js';
import { PgFaultLog } from './postgres-faults.js';
import { PostgresTree } from './postgres-tree.js';
import { importEventsPg } from './postgres-import.js';
import { arrayRowToEvent, insertParams, pgStatements, rowToEvent, type ArrayRow, type EventRow } from './postgres-sql.js';

export interface PostgresStoreOptions {
  connectionString: string;
  /** Schema holding the tables (created and migrated on open). Default `broker`. */
  schema?: string;
  /** Pool size (config `store.poolMax`). Default 10. */
  poolMax?: number;
  /** Safety-net poll for subscriptions if a notification is lost (ms). Default 1000. */
  pollMs?: number;
  /** Group commit (default on): appends waiting for a commit share the next transaction. */
  groupCommit?: boolean;
  /** How long an append or a read keeps retrying through lost connections. */
  retry?: RetryPolicy;
  /** The broker's logger: lost connections, LISTEN reconnects and retries are logged at warn. */
  logger?: Logger;
  /** Keep the Merkle tree over the log (issue 18; default true). Off only to measure its cost. */
  tree?: boolean;
}

export class EventStoreClosed extends Error {
  override readonly name = 'EventStoreClosed';
  constructor() {
    super('event store is closed');
  }
}

/** An event id already in the log, written by a different append (not our own retried commit). */
export class DuplicateEventId extends Error {
  override readonly name = 'DuplicateEventId';
  constructor(readonly eventId: string) {
    super(`event id ${eventId} is already in the log`);
  }
}

/**
 * PostgreSQL event store (`pg`). Ordering and visibility: see `append_begin` in
 * postgres-migrations.ts — positions follow transaction ids, and readAll stops at the first row
 * whose transaction is not older than the snapshot's xmin, so a reader never skips a position
 * that an earlier, slower transaction is still committing. Several broker processes can share
 * one schema: LISTEN/NOTIFY wakes their subscriptions, a poll is the safety net.
 */
export class PostgresEventStore implements EventStore {
  readonly kind = 'postgres';
  readonly pool: pg.Pool;
  readonly schema: string;
  private readonly sql: ReturnType<typeof pgStatements>;
  private readonly channel: string;
  private readonly listeners = new Set<() => void>();
  private listener: PgNotificationListener | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;
  private heldBackTimer: NodeJS.Timeout | undefined;
  private notifyInFlight = false;
  private notifyPending = false;
  private readonly pollMs: number;
  private readonly retry: RetryPolicy;
  readonly committer: GroupCommitter | null;
  /** Appends whose commit was lost with its connection and found committed on retry (tests read it). */
  recoveredCommits = 0;
  readonly faults: PgFaultLog;
  readonly tree?: PostgresTree;
  readonly dataKeys: PostgresDataKeys;

  private constructor(private readonly options: PostgresStoreOptions) {
    this.schema = checkSchemaName(options.schema ?? 'broker');
    this.sql = pgStatements(this.schema);
    this.channel = `broker_events_${this.schema}`;
    this.pollMs = options.pollMs ?? 1000;
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.faults = new PgFaultLog(this.schema, options.logger);
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolMax ?? 10,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: 10_000,
      // Named per schema so an operator (and the faults test) can tell which store a backend serves.
      application_name: `identity-broker/${this.schema}`,
    });
    // An idle client whose backend went away emits on the pool (which drops it) and on the client;
    // counted once, on the client. A checked-out client whose backend dies between two queries
    // emits 'error' with nobody else listening (an uncaught exception otherwise); its next query
    // fails as a connection error and is retried.
    this.pool.on('error', () => {});
    this.pool.on('connect', (client) => client.on('error', (err) => this.faults.connectionLost(err)));
    if (options.tree !== false) this.tree = new PostgresTree(this.pool, this.schema);
    this.dataKeys = new PostgresDataKeys(this.pool, this.schema, (fn) => this.withRetry(fn));
    this.committer =
      options.groupCommit === false
        ? null
        : new GroupCommitter({ pool: this.pool, sql: this.sql, appendOnce: (s, e, x) => this.appendOnce(s, e, x) });
  }

  static async open(options: PostgresStoreOptions): Promise<PostgresEventStore> {
    const store = new PostgresEventStore(options);
    try {
      await retryOnConnectionError(async () => {
        const client = await store.pool.connect();
        try {
          await migrate(client, store.schema);
        } finally {
          client.release();
        }
      }, store.retry);
      // Events committed after the last tree run (a crash in between) enter the tree now.
      await store.tree?.catchUp();
    } catch (err) {
      await store.pool.end().catch(() => {});
      throw err;
    }
    return store;
  }

  async append(streamId: string, events: NewEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    if (this.closed) throw new EventStoreClosed();
    const expected = options.expectedRevision ?? 'any';
    if (events.length === 0) return this.emptyAppend(streamId, expected);
    // Ids fixed before the first attempt: a retry after an uncertain COMMIT finds them, or not.
    const withIds = events.map((e) => (e.id ? e : { ...e, id: randomUUID() }));
    const ids = withIds.map((e) => e.id!);
    const deadline = Date.now() + this.retry.deadlineMs;
    let delay = this.retry.initialDelayMs;
    let uncertain = false;
    for (let conflicts = 0; ;) {
      try {
        if (uncertain) {
          const done = await this.findCommitted(streamId, ids);
          if (done) {
            this.recoveredCommits++;
            return done;
          }
        }
        const sealed = this.committer
          ? await this.committer.submit(streamId, withIds, expected)
          : await this.appendOnce(streamId, withIds, expected);
        this.afterCommit();
        const last = sealed[sealed.length - 1];
        return { revision: last.revision, position: last.position, events: sealed };
      } catch (err) {
        if (isConnectionError(err) && !this.closed && Date.now() + delay < deadline) {
          // The COMMIT may or may not have landed; the next round looks the ids up first.
          uncertain = true;
          this.faults.retried('append', conflicts + 1, delay, err);
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, this.retry.maxDelayMs);
          continue;
        }
        const constraint = uniqueViolation(err);
        if (constraint === 'events_id') {
          const done = await this.findCommitted(streamId, ids);
          if (done) return done;
          throw new DuplicateEventId(ids[0]);
        }
        // Two appends raced to create (or extend) the same stream: the loser re-checks, which
        // either succeeds ('any') or reports the real conflict with the actual revision.
        if ((constraint === 'events_stream_revision' || constraint === 'streams_pkey') && conflicts++ < 20) continue;
        throw err;
      }
    }
  }

  /** One transaction: lock the stream, reserve positions, check the revision, insert, commit. */
  private async appendOnce(streamId: string, events: NewEvent[], expected: ExpectedRevision): Promise<RecordedEvent[]> {
    const client = await this.pool.connect();
    let destroy = false;
    try {
      await client.query('BEGIN');
      let begun: pg.QueryResult<{ first_position: string; stream_revision: number; last_hash: string }>;
      try {
        begun = await client.query(this.sql.begin, [streamId, events.length]);
      } catch (err) {
        // append_begin holds a session-level advisory lock for a moment; a connection that
        // failed inside it is thrown away so the lock cannot outlive the error.
        destroy = true;
        throw err;
      }
      const { first_position, stream_revision, last_hash } = begun.rows[0];
      checkExpectedRevision(streamId, expected, stream_revision);
      const sealed = sealEvents(streamId, events, stream_revision, last_hash, Number(first_position));
      const streamSql = stream_revision === -1 ? this.sql.createStream : this.sql.updateStream;
      await client.query(`WITH ev AS (${this.sql.insertEvents}) ${streamSql}`, insertParams(streamId, sealed));
      await client.query('COMMIT');
      return sealed;
    } catch (err) {
      if (isConnectionError(err)) destroy = true;
      else await client.query('ROLLBACK').catch(() => (destroy = true));
      throw err;
    } finally {
      client.release(destroy || undefined);
    }
  }

  /** See EventStore.importEvents. Not retried: a lost COMMIT is found by the copy's resumption. */
  async importEvents(events: readonly RecordedEvent[]): Promise<number> {
    if (this.closed) throw new EventStoreClosed();
    const last = await importEventsPg(this.pool, this.sql, events);
    if (events.length) this.afterCommit();
    return last;
  }

  private async emptyAppend(streamId: string, expected: ExpectedRevision): Promise<AppendResult> {
    const r = await this.withRetry(() => this.pool.query<{ revision: number; position: string }>(this.sql.streamHead, [streamId]));
    const row = r.rows[0];
    const revision = row ? row.revision : -1;
    checkExpectedRevision(streamId, expected, revision);
    return { revision, position: row ? Number(row.position) : 0, events: [] };
  }

  /** The events with these ids if a previous attempt committed them, else null. */
  private async findCommitted(streamId: string, ids: string[]): Promise<AppendResult | null> {
    const r = await this.withRetry(() => this.pool.query<EventRow>(this.sql.byIds, [ids]));
    if (r.rows.length === 0) return null;
    const events = r.rows.map(rowToEvent);
    if (events.length !== ids.length || events.some((e, i) => e.streamId !== streamId || e.id !== ids[i]))
      throw new DuplicateEventId(events[0].id);
    const last = events[events.length - 1];
    return { revision: last.revision, position: last.position, events };
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const r = await this.withRetry(() =>
      options.maxCount !== undefined
        ? this.pool.query<EventRow>(this.sql.readStreamLimit, [streamId, options.fromRevision ?? 0, options.maxCount])
        : this.pool.query<EventRow>(this.sql.readStream, [streamId, options.fromRevision ?? 0]),
    );
    return r.rows.map(rowToEvent);
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    return this.withRetry(() => this.readAllOnce(options.after ?? 0, options.limit ?? 5000));
  }

  private async readAllOnce(after: number, limit: number): Promise<RecordedEvent[]> {
    // Array rows: replay reads millions of them, and named rows cost a hidden-class object each.
    const r = await this.pool.query<ArrayRow>({ text: this.sql.readAll, values: [after, limit], rowMode: 'array' });
    const out: RecordedEvent[] = [];
    for (const row of r.rows) {
      if (!row[10]) {
        // Held back behind a transaction still in flight, maybe one that will never notify
        // (not ours): look again shortly instead of waiting for the poll.
        this.scheduleHeldBackWake();
        break;
      }
      out.push(arrayRowToEvent(row));
    }
    return out;
  }

  async headPosition(): Promise<number> {
    const r = await this.withRetry(() => this.pool.query<{ head: string }>(this.sql.head));
    return Number(r.rows[0].head);
  }

  subscribe(after = 0): Observable<RecordedEvent> {
    this.startListener();
    return catchUpSubscription(
      {
        readPage: async (a, limit) => {
          try {
            return await this.withRetry(() => this.readAllOnce(a, limit));
          } catch (err) {
            if (this.closed) return []; // the pool ended under an in-flight read: completing, not failing
            throw err;
          }
        },
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

  /** Number of (re)connections of the LISTEN client (tests watch it). */
  get listenerConnects(): number {
    return this.listener?.connects ?? 0;
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      this.wake();
      if (this.heldBackTimer) clearTimeout(this.heldBackTimer);
      this.closing = (async () => {
        await this.listener?.stop();
        await this.tree?.idle();
        await this.pool.end();
      })();
    }
    return this.closing;
  }

  private startListener(): void {
    if (this.listener || this.closed) return;
    this.listener = new PgNotificationListener(
      this.options.connectionString,
      this.channel,
      `identity-broker-listen/${this.schema}`,
      () => this.wake(),
      (err) => this.faults.listenerLost(err),
      () => this.faults.listenerReconnected(),
    );
    void this.listener.start();
  }

  private afterCommit(): void {
    this.tree?.poke();
    this.wake();
    this.notifyOthers();
  }

  /**
   * Tells other processes that something was committed. Coalesced: at most one pg_notify in
   * flight; appends that commit meanwhile ride on one more. NOTIFY inside the append transaction
   * would take PostgreSQL's global notify lock across every commit and serialise them.
   */
  private notifyOthers(): void {
    if (this.notifyInFlight) {
      this.notifyPending = true;
      return;
    }
    this.notifyInFlight = true;
    void (async () => {
      do {
        this.notifyPending = false;
        if (this.closed) break;
        await this.pool.query('SELECT pg_notify($1, $2)', [this.channel, '']).catch(() => {
          // Lost notification: the other nodes' poll picks the events up.
        });
      } while (this.notifyPending);
      this.notifyInFlight = false;
    })();
  }

  private scheduleHeldBackWake(): void {
    if (this.heldBackTimer || this.closed) return;
    this.heldBackTimer = setTimeout(() => {
      this.heldBackTimer = undefined;
      this.wake();
    }, 5);
    this.heldBackTimer.unref();
  }

  private wake(): void {
    for (const l of [...this.listeners]) l();
  }

  private withRetry<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new EventStoreClosed());
    return retryOnConnectionError(
      fn,
      this.retry,
      () => this.closed,
      (attempt, delay, err) => this.faults.retried('read', attempt, delay, err),
    );
  }
}
