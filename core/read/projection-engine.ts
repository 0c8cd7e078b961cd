import type { Subscription } from 'rxjs';
import type { RecordedEvent } from '../events/envelope.js';
import { upcast } from '../events/schema-versions.js';
import type { EventStore } from '../ports/event-store.js';
import type { ReadDatabase, ReadStatement } from '../ports/read-database.js';
import { describeError, eventRef, type Quarantine } from '../kernel/quarantine.js';
import { isPersisted, type AnyProjection, type PersistedProjection, type Projection, type UnknownEventReport } from './projection.js';

export type RebuildReason = 'new' | 'version changed' | 'checkpoint ahead of the log' | 'log differs at the checkpoint' | 'requested';

export interface ProjectionStatus {
  name: string;
  kind: 'persisted' | 'memory';
  version: number | null;
  checkpoint: number;
  /** Set while a persisted projection rebuilds from the log: why, and the head it must reach. */
  rebuild: { reason: RebuildReason; target: number } | null;
  /** Events this projection threw on since this start (each one quarantined it). */
  failures: number;
  /** Set while the projection is stopped on an event it threw on, until `broker projections retry`. */
  quarantined: Quarantine | null;
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
const QUARANTINE_TABLE = 'projection_quarantine';

/** A quarantine as the engine keeps it: `seen` is how far the engine had read when it was recorded. */
type Held = Quarantine & { seen: number };

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
 * One event that a projection cannot apply (a bug, not the disk) does not stop the others: the
 * batch is retried event by event, each (event, projection) in a savepoint, and the failing
 * projection is **quarantined**: its checkpoint stays just before the event, the event (position,
 * stream, type, id) and the error go to `projection_quarantine` (and the `projection_failures`
 * history; Zitadel's failed_events), and it applies nothing more until a `ComponentRetryRequested`
 * for it (`broker projections retry <name>`) reaches the engine, which then catches it up from the
 * log alone. A stop, not a skip: a read model that silently skipped an event (a ban, a revoked
 * session) would answer wrong forever after; a stopped one is reported (`/readyz`, `/metrics`) and
 * resumes exactly where it stopped once fixed. No retry count either: the fold is deterministic, a
 * retry without a fix fails the same way. A memory projection is quarantined the same way (it
 * replays up to the event at each start). A failure of the database itself (SQLITE_FULL, I/O)
 * stops applying: the batch stays queued, `onError` reports it, and the next event or `retry()`
 * tries again; nothing is skipped.
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
  private saveQuarantine: ReadStatement | null = null;
  private readonly held = new Map<string, Held>();
  /** Released projections catching up from the log on their own; the live batches pass them by. */
  private readonly catchingUp = new Set<string>();
  private store: EventStore | null = null;
  /** Last database error while applying; null once a batch commits again. */
  stalled: Error | null = null;
  position = 0;
  applied = 0;
  readonly unknown: UnknownEventReport[] = [];
  onUnknown: (r: UnknownEventReport) => void = () => {};
  onError: (e: unknown) => void = () => {};
  onFailure: (f: { projection: string; position: number; error: unknown }) => void = () => {};
  onRebuild: (name: string, reason: RebuildReason) => void = () => {};
  onQuarantine: (q: Quarantine) => void = () => {};
  onRelease: (name: string) => void = () => {};
  /** Every `ComponentRetryRequested` the engine applies (the kernel releases reactors with it). */
  onRetryRequested: (name: string, position: number) => void = () => {};

  constructor(readonly db: ReadDatabase | null = null) {
    if (db) {
      db.exec(`CREATE TABLE IF NOT EXISTS ${META_TABLE} (name TEXT PRIMARY KEY, version INTEGER NOT NULL, position INTEGER NOT NULL, hash TEXT NOT NULL DEFAULT '', rebuild_reason TEXT, rebuild_target INTEGER) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS ${FAILURES_TABLE} (name TEXT NOT NULL, position INTEGER NOT NULL, type TEXT NOT NULL, error TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (name, position)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS ${QUARANTINE_TABLE} (name TEXT PRIMARY KEY, position INTEGER NOT NULL, stream_id TEXT NOT NULL, event_id TEXT NOT NULL, type TEXT NOT NULL, error TEXT NOT NULL, at TEXT NOT NULL, seen INTEGER NOT NULL) WITHOUT ROWID;`);
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
      this.saveQuarantine = db.prepare(
        `INSERT OR REPLACE INTO ${QUARANTINE_TABLE} (name, position, stream_id, event_id, type, error, at, seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      );
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
      ...this.persisted.map((x) => ({
        name: x.p.name,
        kind: 'persisted' as const,
        version: x.p.version,
        checkpoint: x.checkpoint,
        rebuild: x.rebuild,
        failures: x.failures,
        quarantined: this.quarantineOf(x.p.name),
      })),
      ...this.memory.map((p) => ({
        name: p.name,
        kind: 'memory' as const,
        version: null,
        checkpoint: p.checkpoint,
        rebuild: null,
        failures: this.failureCounts.get(p.name) ?? 0,
        quarantined: this.quarantineOf(p.name),
      })),
    ];
  }

  /** The projections stopped on an event they threw on. */
  quarantines(): Quarantine[] {
    return [...this.held.values()].map(({ seen: _seen, ...q }) => q);
  }

  private quarantineOf(name: string): Quarantine | null {
    const h = this.held.get(name);
    if (!h) return null;
    const { seen: _seen, ...q } = h;
    return q;
  }

  private readonly failureCounts = new Map<string, number>();

  /** Quarantined, or catching up after a release: the live batches leave it alone. */
  private isHeld(name: string): boolean {
    return this.held.has(name) || this.catchingUp.has(name);
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
    if (db) {
      const rows = db
        .prepare<{
          name: string;
          position: number;
          stream_id: string;
          event_id: string;
          type: string;
          error: string;
          at: string;
          seen: number;
        }>(`SELECT * FROM ${QUARANTINE_TABLE}`)
        .all();
      const mine = new Set(this.names);
      for (const r of rows) {
        if (!mine.has(r.name)) continue;
        this.held.set(r.name, {
          component: r.name,
          kind: 'projection',
          position: r.position,
          streamId: r.stream_id,
          eventId: r.event_id,
          type: r.type,
          error: r.error,
          at: r.at,
          seen: r.seen,
        });
      }
    }
    for (const x of this.persisted) {
      const row = db!
        .prepare<{ version: number; position: number; hash: string; rebuild_reason: string | null; rebuild_target: number | null }>(
          `SELECT version, position, hash, rebuild_reason, rebuild_target FROM ${META_TABLE} WHERE name = ?`,
        )
        .get(x.p.name);
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
    // A held projection does not drag the start back to its checkpoint (it applies nothing until a
    // retry); only to where the engine was when it was held, since a retry that releases it (one
    // written while the broker was down) lies past that.
    const from = Math.min(
      head,
      ...this.persisted.map((x) => this.held.get(x.p.name)?.seen ?? x.checkpoint),
      ...this.memory.map((p) => p.checkpoint),
    );
    this.position = from;
    this.prepared = true;
    return from;
  }

  /** Drops a persisted projection's rows so it is rebuilt from the log (`broker projections rebuild`). */
  private drop(x: Persisted, reason: RebuildReason, head: number): void {
    const db = this.db!;
    db.transaction(() => {
      for (const t of x.p.tables) db.exec(`DROP TABLE IF EXISTS "${t}"`);
      db.prepare(
        `INSERT INTO ${META_TABLE} (name, version, position, hash, rebuild_reason, rebuild_target) VALUES (?, ?, 0, '', ?, ?)
        ON CONFLICT (name) DO UPDATE SET version = excluded.version, position = 0, hash = '', rebuild_reason = excluded.rebuild_reason, rebuild_target = excluded.rebuild_target`,
      ).run(x.p.name, x.p.version, reason, head);
      db.prepare(`DELETE FROM ${FAILURES_TABLE} WHERE name = ?`).run(x.p.name);
      // A new version is a new fold (often the fix): it starts over without the old quarantine.
      db.prepare(`DELETE FROM ${QUARANTINE_TABLE} WHERE name = ?`).run(x.p.name);
    });
    this.held.delete(x.p.name);
    this.namesJson = null;
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
    if (this.persisted.length && !this.prepared)
      throw new Error('ProjectionEngine.start: call prepare(store) first (it checks the persisted checkpoints)');
    const from = after ?? this.position;
    this.position = from;
    this.store = store;
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
    const last = batch[batch.length - 1].position;
    let failed: Failed[] = [];
    try {
      if (this.persisted.length) this.db!.transaction(() => this.applyPersisted(decoded, false, last));
    } catch (err) {
      if (isDatabaseFailure(err)) return this.stall(err);
      try {
        failed = this.db!.transaction(() => this.applyPersisted(decoded, true, last));
      } catch (err2) {
        return this.stall(err2);
      }
    }
    this.queue = [];
    this.stalled = null;
    for (const f of failed) this.hold(f.x.p.name, f.raw, f.err, f.seen, f.covered?.position);
    const retries: { name: string; position: number }[] = [];
    // An erasure rewrote rows: the old versions leave the write-ahead log now, not at some later checkpoint.
    if (this.db?.scrub && batch.some((e) => e.type === 'UserErased')) this.db.scrub();
    for (const { raw, r } of decoded) {
      if (r.status === 'ok') {
        for (const p of this.memory) {
          if (raw.position <= p.checkpoint || this.memoryBlocked(p.name, raw.position)) continue;
          try {
            p.apply(r.event);
          } catch (err) {
            this.quarantineMemory(p, raw, err, last);
            continue;
          }
          p.checkpoint = raw.position;
        }
        if (raw.type === 'ComponentRetryRequested')
          retries.push({ name: (raw.data as { component: string }).component, position: raw.position });
      } else {
        const rep = { position: raw.position, type: raw.type, version: raw.version, reason: r.reason };
        if (this.unknown.length < 1000) this.unknown.push(rep);
        this.onUnknown(rep);
        for (const p of this.memory)
          if (raw.position > p.checkpoint && !this.memoryBlocked(p.name, raw.position)) p.checkpoint = raw.position;
      }
      this.applied++;
    }
    for (const x of this.persisted) {
      if (this.isHeld(x.p.name)) continue;
      if (last > x.checkpoint) x.checkpoint = last;
      if (x.rebuild && x.checkpoint >= x.rebuild.target) x.rebuild = null;
    }
    if (last > this.position) this.position = last;
    if (this.waiters.length) this.release();
    for (const r of retries) this.retryRequested(r.name, r.position);
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

  private applyPersisted(decoded: { raw: RecordedEvent; r: ReturnType<typeof upcast> }[], isolate: boolean, seen: number): Failed[] {
    const db = this.db!;
    // Another process on the same file (a CLI command catching up) may have committed past us
    // (SQLite's data_version moves only on other connections' commits; we hold the write lock
    // now): then the checkpoints in the file are the truth, and our caches may be stale.
    const version = this.dataVersion!.get()!.data_version;
    if (version !== this.seenDataVersion) {
      this.seenDataVersion = version;
      for (const x of this.persisted) {
        if (this.isHeld(x.p.name)) continue;
        const committed = this.readCheckpoint!.get(x.p.name)?.position ?? 0;
        if (committed > x.checkpoint) {
          x.checkpoint = committed;
          x.p.forget?.();
        }
      }
    }
    const failed: Failed[] = [];
    const lastEvent = decoded[decoded.length - 1].raw;
    for (const x of this.persisted) {
      if (this.isHeld(x.p.name)) continue;
      let covered: RecordedEvent | null = null;
      for (const { raw, r } of decoded) {
        if (raw.position <= x.checkpoint) continue;
        if (r.status === 'ok') {
          if (!isolate) x.p.apply(r.event);
          else {
            try {
              db.transaction(() => x.p.apply(r.event));
            } catch (err) {
              if (isDatabaseFailure(err)) throw err;
              failed.push({ x, raw, err, covered, seen });
              break;
            }
          }
        }
        covered = raw;
      }
    }
    for (const f of failed) this.recordQuarantine(f.x.p.name, f.raw, f.err, f.seen, f.covered);
    const names = failed.length
      ? JSON.stringify(this.activeNames().filter((n) => !failed.some((f) => f.x.p.name === n)))
      : (this.namesJson ??= JSON.stringify(this.activeNames()));
    this.saveCheckpoint!.run({ last: lastEvent.position, hash: lastEvent.hash, names });
    return failed;
  }

  private activeNames(): string[] {
    return this.persisted.map((x) => x.p.name).filter((n) => !this.isHeld(n));
  }

  /** Inside the batch's transaction: the quarantine row, the failure history, and the checkpoint just before the event. */
  private recordQuarantine(name: string, raw: RecordedEvent, err: unknown, seen: number, covered: RecordedEvent | null): void {
    const at = new Date().toISOString();
    const error = describeError(err);
    this.saveQuarantine!.run(name, raw.position, raw.streamId, raw.id, raw.type, error, at, seen);
    this.saveFailure!.run(name, raw.position, raw.type, error, at);
    if (covered) this.saveCheckpoint!.run({ last: covered.position, hash: covered.hash, names: JSON.stringify([name]) });
  }

  /** After the commit: the projection is held (in memory) and reported. */
  private hold(name: string, raw: RecordedEvent, err: unknown, seen: number, coveredPosition: number | undefined): void {
    const q: Held = {
      component: name,
      kind: 'projection',
      ...eventRef(raw),
      error: describeError(err),
      at: new Date().toISOString(),
      seen,
    };
    this.held.set(name, q);
    this.namesJson = null;
    const x = this.persisted.find((y) => y.p.name === name);
    if (x) {
      x.failures++;
      if (coveredPosition !== undefined && coveredPosition > x.checkpoint) x.checkpoint = coveredPosition;
    } else {
      this.failureCounts.set(name, (this.failureCounts.get(name) ?? 0) + 1);
    }
    const { seen: _seen, ...report } = q;
    this.onFailure({ projection: name, position: raw.position, error: err });
    this.onQuarantine(report);
  }

  /** A memory projection replays up to the event it is quarantined on, then stops there. */
  private memoryBlocked(name: string, position: number): boolean {
    if (this.catchingUp.has(name)) return true;
    const q = this.held.get(name);
    return !!q && position >= q.position;
  }

  private quarantineMemory(p: Projection, raw: RecordedEvent, err: unknown, seen: number): void {
    if (this.db) {
      try {
        this.db.transaction(() => this.recordQuarantine(p.name, raw, err, seen, null));
      } catch (dbErr) {
        this.onError(dbErr); // still held in memory: reported, just not remembered across a restart
      }
    }
    this.hold(p.name, raw, err, seen, undefined);
  }

  /** A retry request reached the engine: a projection of that name held before it is released. */
  private retryRequested(name: string, position: number): void {
    const q = this.held.get(name);
    if (q && position > q.seen) void this.releaseQuarantine(name);
    this.onRetryRequested(name, position);
  }

  /**
   * Releases a quarantined projection and catches it up from the log on its own (the others go on
   * live meanwhile); if it throws again it is quarantined again. Resolves true once it has caught up.
   */
  async releaseQuarantine(name: string): Promise<boolean> {
    const store = this.store;
    if (!this.held.has(name) || !store || this.catchingUp.has(name)) return false;
    const x = this.persisted.find((y) => y.p.name === name);
    const m = this.memory.find((p) => p.name === name);
    this.held.delete(name);
    this.catchingUp.add(name);
    this.namesJson = null;
    try {
      this.db?.prepare(`DELETE FROM ${QUARANTINE_TABLE} WHERE name = ?`).run(name);
      this.onRelease(name);
      for (;;) {
        const from = x ? x.checkpoint : m!.checkpoint;
        if (from >= this.position) return true;
        const page = await store.readAll({ after: from, limit: 500 });
        if (!page.length) return true;
        const decoded = page.map((raw) => ({ raw, r: upcast(raw) }));
        const seen = Math.max(this.position, page[page.length - 1].position);
        if (x) {
          let failure: Failed | null = null;
          let covered: RecordedEvent | null = null;
          this.db!.transaction(() => {
            for (const { raw, r } of decoded) {
              if (raw.position <= x.checkpoint) continue;
              if (r.status === 'ok') {
                try {
                  this.db!.transaction(() => x.p.apply(r.event));
                } catch (err) {
                  if (isDatabaseFailure(err)) throw err;
                  failure = { x, raw, err, covered, seen };
                  break;
                }
              }
              covered = raw;
            }
            if (failure) this.recordQuarantine(name, failure.raw, failure.err, seen, covered);
            else if (covered) this.saveCheckpoint!.run({ last: covered.position, hash: covered.hash, names: JSON.stringify([name]) });
          });
          if (covered) x.checkpoint = Math.max(x.checkpoint, (covered as RecordedEvent).position);
          if (x.rebuild && x.checkpoint >= x.rebuild.target) x.rebuild = null;
          if (failure) {
            const f = failure as Failed;
            this.hold(name, f.raw, f.err, seen, undefined);
            return false;
          }
        } else {
          for (const { raw, r } of decoded) {
            if (raw.position <= m!.checkpoint) continue;
            if (r.status === 'ok') {
              try {
                m!.apply(r.event);
              } catch (err) {
                this.catchingUp.delete(name);
                this.quarantineMemory(m!, raw, err, seen);
                return false;
              }
            }
            m!.checkpoint = raw.position;
          }
        }
      }
    } catch (err) {
      // The log or the read database failed under the catch-up: held again, with that error.
      const at = (x ? x.checkpoint : m!.checkpoint) + 1;
      this.held.set(name, {
        component: name,
        kind: 'projection',
        position: at,
        streamId: '',
        eventId: '',
        type: '',
        error: describeError(err),
        at: new Date().toISOString(),
        seen: this.position,
      });
      this.onError(err);
      return false;
    } finally {
      this.catchingUp.delete(name);
      this.namesJson = null;
    }
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
      this.held.delete(p.name);
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

interface Failed {
  x: Persisted;
  raw: RecordedEvent;
  err: unknown;
  covered: RecordedEvent | null;
  seen: number;
}

/** An error of the database itself (disk full, I/O, locked, corrupt), not of a projection's code. */
function isDatabaseFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(FULL|IOERR|BUSY|LOCKED|CORRUPT|NOTADB|CANTOPEN|READONLY|NOMEM|PROTOCOL)/.test(code);
}
