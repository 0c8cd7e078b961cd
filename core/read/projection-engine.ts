import type { Subscription } from 'rxjs';
import type { RecordedEvent } from '../events/envelope.js';
import { upcast } from '../events/schema-versions.js';
import type { EventStore } from '../ports/event-store.js';
import type { ReadDatabase, ReadStatement } from '../ports/read-database.js';
import { isPersisted, type AnyProjection, type PersistedProjection, type Projection, type UnknownEventReport } from './projection.js';

export type RebuildReason = 'new' | 'version changed' | 'checkpoint ahead of the log' | 'log differs at the checkpoint' | 'requested';

export interface ProjectionStatus {
  name: string;
  kind: 'persisted' | 'memory';
  version: number | null;
  checkpoint: number;
  /** Set while a persisted projection rebuilds from the log: why, and the head it must reach. */
  rebuild: { reason: RebuildReason; target: number } | null;
  /** (event, projection) pairs that failed to apply and were skipped (see failures table). */
  failures: number;
}

interface Persisted {
  p: PersistedProjection;
  checkpoint: number;
  rebuild: { reason: RebuildReason; target: number } | null;
  failures: number;
}

/** Events gathered before one transaction; a catch-up page is 1,000 (catch-up.ts). */
const MAX_BATCH = 2000;
const META_TABLE = 'projection_checkpoints';
const FAILURES_TABLE = 'projection_failures';

/**
 * Runs every projection from one `$all` subscription.
 *
 * Persisted projections resume from their own checkpoints; the subscription starts at the lowest of
 * them, and an event reaches a projection only if it is past that projection's checkpoint. Events
 * are applied in batches: all the events a subscription page hands over synchronously go in one
 * read-database transaction (rows and checkpoints together), committed on the next microtask.
 *
 * Read-your-writes: a command returns the position it wrote; `waitFor(position)` resolves once every
 * projection has committed it.
 *
 * One event that a projection cannot apply (a bug, not the disk) does not stop the others, nor that
 * projection: the batch is retried event by event, each (event, projection) in a savepoint, and a
 * failing pair is recorded in `projection_failures` and skipped (Zitadel's failed_events, without
 * its retry count: the fold is deterministic, a retry would fail the same way). A failure of the
 * database itself (SQLITE_FULL, I/O) stops applying: the batch stays queued, `onError` reports it,
 * and the next event or `retry()` tries again; nothing is skipped.
 */
export class ProjectionEngine {
  private readonly memory: Projection[] = [];
  private readonly persisted: Persisted[] = [];
  private sub: Subscription | null = null;
  private waiters: { position: number; resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  private queue: RecordedEvent[] = [];
  private flushScheduled = false;
  private prepared = false;
  private saveCheckpoint: ReadStatement | null = null;
  private readCheckpoint: ReadStatement<{ position: number }> | null = null;
  private dataVersion: ReadStatement<{ data_version: number }> | null = null;
  private seenDataVersion = -1;
  private saveFailure: ReadStatement | null = null;
  /** Last database error while applying; null once a batch commits again. */
  stalled: Error | null = null;
  position = 0;
  applied = 0;
  readonly unknown: UnknownEventReport[] = [];
  onUnknown: (r: UnknownEventReport) => void = () => {};
  onError: (e: unknown) => void = () => {};
  onFailure: (f: { projection: string; position: number; error: unknown }) => void = () => {};
  onRebuild: (name: string, reason: RebuildReason) => void = () => {};

  constructor(readonly db: ReadDatabase | null = null) {
    if (db) {
      db.exec(`CREATE TABLE IF NOT EXISTS ${META_TABLE} (name TEXT PRIMARY KEY, version INTEGER NOT NULL, position INTEGER NOT NULL, hash TEXT NOT NULL DEFAULT '', rebuild_reason TEXT, rebuild_target INTEGER) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS ${FAILURES_TABLE} (name TEXT NOT NULL, position INTEGER NOT NULL, type TEXT NOT NULL, error TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (name, position)) WITHOUT ROWID;`);
      // One statement per batch for every projection of this engine that was behind the batch's
      // last event (each of them has just applied every event up to it). Only this engine's names:
      // a CLI command running the core views beside the broker must not advance a plugin's row.
      this.saveCheckpoint = db.prepare(`UPDATE ${META_TABLE} SET position = @last, hash = @hash,
        rebuild_reason = CASE WHEN rebuild_target <= @last THEN NULL ELSE rebuild_reason END,
        rebuild_target = CASE WHEN rebuild_target <= @last THEN NULL ELSE rebuild_target END
        WHERE position < @last AND name IN (SELECT value FROM json_each(@names))`);
      this.dataVersion = db.prepare('PRAGMA data_version');
      this.readCheckpoint = db.prepare(`SELECT position FROM ${META_TABLE} WHERE name = ?`);
      this.saveFailure = db.prepare(`INSERT OR REPLACE INTO ${FAILURES_TABLE} (name, position, type, error, at) VALUES (?, ?, ?, ?, ?)`);
    }
  }

  add(p: AnyProjection): void {
    if (this.names.includes(p.name)) throw new Error(`projection ${p.name} added twice`);
    if (isPersisted(p)) {
      if (!this.db) throw new Error(`projection ${p.name} is persisted, but this engine has no read database`);
      if (this.sub) throw new Error(`projection ${p.name} added after the engine started`);
      this.persisted.push({ p, checkpoint: 0, rebuild: null, failures: 0 });
    } else {
      this.memory.push(p);
    }
  }

  get names(): string[] {
    return [...this.persisted.map((x) => x.p.name), ...this.memory.map((p) => p.name)];
  }

  get<P extends AnyProjection>(name: string): P | undefined {
    return (this.persisted.find((x) => x.p.name === name)?.p ?? this.memory.find((p) => p.name === name)) as P | undefined;
  }

  /** The position a projection has committed (persisted) or applied (memory). */
  checkpointOf(name: string): number {
    const x = this.persisted.find((y) => y.p.name === name);
    return x ? x.checkpoint : (this.memory.find((p) => p.name === name)?.checkpoint ?? 0);
  }

  status(): ProjectionStatus[] {
    return [
      ...this.persisted.map((x) => ({ name: x.p.name, kind: 'persisted' as const, version: x.p.version, checkpoint: x.checkpoint, rebuild: x.rebuild, failures: x.failures })),
      ...this.memory.map((p) => ({ name: p.name, kind: 'memory' as const, version: null, checkpoint: p.checkpoint, rebuild: null, failures: 0 })),
    ];
  }

  /**
   * Before `start`: reads each persisted projection's checkpoint and checks it against the log. A
   * projection that is new, whose version changed, whose checkpoint is past the log's head (a
   * restored older log) or whose checkpointed event is not the log's (another log) has its tables
   * dropped and is rebuilt from the log. Returns the position the subscription starts after.
   */
  async prepare(store: EventStore): Promise<number> {
    const head = await store.headPosition();
    const db = this.db;
    for (const x of this.persisted) {
      const row = db!.prepare<{ version: number; position: number; hash: string; rebuild_reason: string | null; rebuild_target: number | null }>(`SELECT version, position, hash, rebuild_reason, rebuild_target FROM ${META_TABLE} WHERE name = ?`).get(x.p.name);
      let reason: RebuildReason | null = null;
      if (!row) reason = 'new';
      else if (row.version !== x.p.version) reason = 'version changed';
      else if (row.position > head) reason = 'checkpoint ahead of the log';
      else if (row.position > 0) {
        const [at] = await store.readAll({ after: row.position - 1, limit: 1 });
        if (!at || at.position !== row.position || at.hash !== row.hash) reason = 'log differs at the checkpoint';
      }
      if (reason) {
        this.drop(x, reason === 'new' && !row ? 'new' : reason, head);
      } else {
        x.checkpoint = row!.position;
        x.rebuild = row!.rebuild_reason ? { reason: row!.rebuild_reason as RebuildReason, target: row!.rebuild_target ?? head } : null;
        x.p.open(db!);
      }
    }
    for (const p of this.memory) p.checkpoint = p.replay === 'live' ? head : 0;
    const from = Math.min(head, ...this.persisted.map((x) => x.checkpoint), ...this.memory.map((p) => p.checkpoint));
    this.position = from;
    this.prepared = true;
    return from;
  }

  /** Drops a persisted projection's rows so it is rebuilt from the log (`broker projections rebuild`). */
  private drop(x: Persisted, reason: RebuildReason, head: number): void {
    const db = this.db!;
    db.transaction(() => {
      for (const t of x.p.tables) db.exec(`DROP TABLE IF EXISTS "${t}"`);
      db.prepare(`INSERT INTO ${META_TABLE} (name, version, position, hash, rebuild_reason, rebuild_target) VALUES (?, ?, 0, '', ?, ?)
        ON CONFLICT (name) DO UPDATE SET version = excluded.version, position = 0, hash = '', rebuild_reason = excluded.rebuild_reason, rebuild_target = excluded.rebuild_target`).run(x.p.name, x.p.version, reason, head);
      db.prepare(`DELETE FROM ${FAILURES_TABLE} WHERE name = ?`).run(x.p.name);
    });
    x.checkpoint = 0;
    x.failures = 0;
    x.rebuild = head > 0 ? { reason, target: head } : null;
    // Said even when the log is empty: rows dropped because the log beside them is empty (a new
    // schema, a wrong path) must not go without a word. A new projection on an empty log is quiet.
    if (head > 0 || (reason !== 'new' && reason !== 'requested')) this.onRebuild(x.p.name, reason);
    x.p.open(db);
  }

  /** Subscribes after `after` (by default where `prepare` says) and keeps up live. */
  start(store: EventStore, after?: number): void {
    if (this.sub) return;
    if (this.persisted.length && !this.prepared) throw new Error('ProjectionEngine.start: call prepare(store) first (it checks the persisted checkpoints)');
    const from = after ?? this.position;
    this.position = from;
    this.sub = store.subscribe(from).subscribe({
      next: (e) => this.enqueue(e),
      error: (e) => this.onError(e),
    });
  }

  /** Queues an event; the queue is committed on the next microtask (or at once when full). */
  enqueue(raw: RecordedEvent): void {
    this.queue.push(raw);
    if (this.queue.length >= MAX_BATCH) this.flush();
    else if (!this.flushScheduled) {
      // setImmediate, not a microtask: every event that arrives in this turn of the event loop
      // (several subscription reads, several group commits) shares one transaction, whose commit
      // (~50-70 µs here) is most of what a live event costs.
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  /** Applies one event at once (offline replay, tests). */
  apply(raw: RecordedEvent): void {
    this.queue.push(raw);
    this.flush();
  }

  /** Applies a page of events in one transaction (offline replay). */
  applyBatch(events: RecordedEvent[]): void {
    for (const e of events) this.queue.push(e);
    this.flush();
  }

  /** Commits the queued events. Returns false when the read database refused the batch. */
  flush(): boolean {
    if (!this.queue.length) return true;
    const batch = this.queue;
    const decoded = batch.map((raw) => ({ raw, r: upcast(raw) }));
    try {
      if (this.persisted.length) this.db!.transaction(() => this.applyPersisted(decoded, false));
    } catch (err) {
      if (isDatabaseFailure(err)) return this.stall(err);
      try {
        this.db!.transaction(() => this.applyPersisted(decoded, true));
      } catch (err2) {
        return this.stall(err2);
      }
    }
    this.queue = [];
    this.stalled = null;
    // An erasure rewrote rows: the old versions leave the write-ahead log now, not at some later checkpoint.
    if (this.db?.scrub && batch.some((e) => e.type === 'UserErased')) this.db.scrub();
    for (const { raw, r } of decoded) {
      if (r.status === 'ok') {
        for (const p of this.memory) {
          if (raw.position <= p.checkpoint) continue;
          p.apply(r.event);
          p.checkpoint = raw.position;
        }
      } else {
        const rep = { position: raw.position, type: raw.type, version: raw.version, reason: r.reason };
        if (this.unknown.length < 1000) this.unknown.push(rep);
        this.onUnknown(rep);
        for (const p of this.memory) if (raw.position > p.checkpoint) p.checkpoint = raw.position;
      }
      this.applied++;
    }
    const last = batch[batch.length - 1].position;
    for (const x of this.persisted) {
      if (last > x.checkpoint) x.checkpoint = last;
      if (x.rebuild && x.checkpoint >= x.rebuild.target) x.rebuild = null;
    }
    if (last > this.position) this.position = last;
    if (this.waiters.length) this.release();
    return true;
  }

  /** Retries a batch the read database refused (after the disk has room again). */
  retry(): boolean {
    return this.flush();
  }

  private stall(err: unknown): boolean {
    this.stalled = err instanceof Error ? err : new Error(String(err));
    this.onError(err);
    return false;
  }

  private applyPersisted(decoded: { raw: RecordedEvent; r: ReturnType<typeof upcast> }[], isolate: boolean): void {
    const db = this.db!;
    // Another process on the same file (a CLI command catching up) may have committed past us
    // (SQLite's data_version moves only on other connections' commits; we hold the write lock
    // now): then the checkpoints in the file are the truth, and our caches may be stale.
    const version = this.dataVersion!.get()!.data_version;
    if (version !== this.seenDataVersion) {
      this.seenDataVersion = version;
      for (const x of this.persisted) {
        const committed = this.readCheckpoint!.get(x.p.name)?.position ?? 0;
        if (committed > x.checkpoint) {
          x.checkpoint = committed;
          x.p.forget?.();
        }
      }
    }
    const lastEvent = decoded[decoded.length - 1].raw;
    for (const x of this.persisted) {
      for (const { raw, r } of decoded) {
        if (raw.position <= x.checkpoint) continue;
        if (r.status !== 'ok') continue;
        if (!isolate) {
          x.p.apply(r.event);
          continue;
        }
        try {
          db.transaction(() => x.p.apply(r.event));
        } catch (err) {
          if (isDatabaseFailure(err)) throw err;
          x.failures++;
          this.saveFailure!.run(x.p.name, raw.position, raw.type, err instanceof Error ? err.message : String(err), new Date().toISOString());
          this.onFailure({ projection: x.p.name, position: raw.position, error: err });
        }
      }
    }
    this.saveCheckpoint!.run({ last: lastEvent.position, hash: lastEvent.hash, names: this.namesJson ??= JSON.stringify(this.persisted.map((x) => x.p.name)) });
  }

  private namesJson: string | null = null;

  /** Resolves once every projection has committed `position`. Rejects after `timeoutMs`. */
  waitFor(position: number, timeoutMs = 5000): Promise<void> {
    if (position <= this.position) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new Error(`projections did not reach position ${position} within ${timeoutMs} ms (at ${this.position})`));
      }, timeoutMs);
      this.waiters.push({ position, resolve, reject, timer });
    });
  }

  /** Runs each persisted projection's housekeeping (the kernel calls it on a timer). */
  maintain(now: Date): void {
    for (const x of this.persisted) if (x.p.maintain) this.db!.transaction(() => x.p.maintain!(now));
  }

  /** Forgets everything: memory projections reset, persisted ones dropped (a replay from zero). */
  reset(): void {
    for (const p of this.memory) {
      p.reset();
      p.checkpoint = 0;
    }
    for (const x of this.persisted) this.drop(x, 'requested', 0);
    this.prepared = true;
    this.queue = [];
    this.position = 0;
    this.applied = 0;
  }

  stop(): void {
    this.sub?.unsubscribe();
    this.sub = null;
    if (this.queue.length) this.flush();
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new Error('projection engine stopped'));
    }
    this.waiters = [];
  }

  private release(): void {
    const ready = this.waiters.filter((w) => w.position <= this.position);
    if (!ready.length) return;
    this.waiters = this.waiters.filter((w) => w.position > this.position);
    for (const w of ready) {
      clearTimeout(w.timer);
      w.resolve();
    }
  }
}

/** An error of the database itself (disk full, I/O, locked, corrupt), not of a projection's code. */
function isDatabaseFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(FULL|IOERR|BUSY|LOCKED|CORRUPT|NOTADB|CANTOPEN|READONLY|NOMEM|PROTOCOL)/.test(code);
}
