import type pg from 'pg';
import {
  type WrongExpectedRevision,
  checkExpectedRevision,
  sealEvents,
  type ExpectedRevision,
  type NewEvent,
  type RecordedEvent,
} from '../../core/index.js';
import { isConnectionError } from './postgres-retry.js';
import type { pgStatements } from './postgres-sql.js';

export interface PendingAppend {
  streamId: string;
  /** With ids already assigned (a retry must reuse them). */
  events: NewEvent[];
  expected: ExpectedRevision;
  resolve: (sealed: RecordedEvent[]) => void;
  reject: (err: unknown) => void;
}

export interface GroupCommitDeps {
  pool: pg.Pool;
  sql: ReturnType<typeof pgStatements>;
  /** The one-append transaction, used when a batch fails as a whole for a reason one append caused. */
  appendOnce: (streamId: string, events: NewEvent[], expected: ExpectedRevision) => Promise<RecordedEvent[]>;
}

interface Head {
  revision: number;
  hash: string;
  existed: boolean;
  position: number;
}

/** Errors where one append spoils a batch for the others: they are retried one by one. */
function isBatchSpoiler(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === '40P01' || code === '40001';
}

/**
 * Group commit (PERFORMANCE-NOTES: durable writes are bound by transactions, not events): appends
 * that arrive while a transaction is committing wait and go together in the next one, with the
 * same ordering protocol as a single append. Each append keeps its own outcome: a failed
 * expected-revision check rejects that append alone, and a batch spoiled by a race on a new
 * stream (unique violation) or a deadlock is retried append by append.
 */
export class GroupCommitter {
  private queue: PendingAppend[] = [];
  private running = false;
  /** Transactions committed and appends they carried (the bench reports the ratio). */
  readonly stats = { batches: 0, appends: 0 };

  constructor(
    private readonly deps: GroupCommitDeps,
    private readonly maxBatch = 256,
  ) {}

  submit(streamId: string, events: NewEvent[], expected: ExpectedRevision): Promise<RecordedEvent[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ streamId, events, expected, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length) {
        let count = 0;
        let take = 0;
        // Bounded by events too, so one transaction's parameter arrays stay reasonable.
        while (take < this.queue.length && take < this.maxBatch && (take === 0 || count + this.queue[take].events.length <= 5000)) {
          count += this.queue[take].events.length;
          take++;
        }
        await this.run(this.queue.splice(0, take));
      }
    } finally {
      this.running = false;
    }
  }

  private async run(batch: PendingAppend[]): Promise<void> {
    let outcomes: ({ ok: true; sealed: RecordedEvent[] } | { ok: false; err: unknown })[];
    try {
      outcomes = await this.commit(batch);
    } catch (err) {
      if (isBatchSpoiler(err) && batch.length > 1) {
        outcomes = await Promise.all(
          batch.map((p) =>
            this.deps.appendOnce(p.streamId, p.events, p.expected).then(
              (sealed) => ({ ok: true as const, sealed }),
              (e: unknown) => ({ ok: false as const, err: e }),
            ),
          ),
        );
      } else {
        outcomes = batch.map(() => ({ ok: false as const, err }));
      }
    }
    batch.forEach((p, i) => {
      const o = outcomes[i];
      if (o.ok) p.resolve(o.sealed);
      else p.reject(o.err);
    });
  }

  private async commit(
    batch: PendingAppend[],
  ): Promise<({ ok: true; sealed: RecordedEvent[] } | { ok: false; err: WrongExpectedRevision })[]> {
    const { pool, sql } = this.deps;
    const client = await pool.connect();
    let destroy = false;
    try {
      await client.query('BEGIN');
      const streams = [...new Set(batch.map((p) => p.streamId))];
      const total = batch.reduce((n, p) => n + p.events.length, 0);
      let begun: pg.QueryResult<{
        first_position: string | null;
        stream_id: string | null;
        stream_revision: number | null;
        last_hash: string | null;
      }>;
      try {
        begun = await client.query(sql.beginMany, [streams, total]);
      } catch (err) {
        destroy = true; // see appendOnce: the short advisory lock must not outlive a failure inside it
        throw err;
      }
      let position = Number(begun.rows[0].first_position);
      const heads = new Map<string, Head>();
      for (const r of begun.rows.slice(1))
        heads.set(r.stream_id!, { revision: r.stream_revision!, hash: r.last_hash!, existed: true, position: 0 });
      const outcomes = batch.map((p) => {
        const head = heads.get(p.streamId) ?? { revision: -1, hash: '', existed: false, position: 0 };
        heads.set(p.streamId, head);
        try {
          checkExpectedRevision(p.streamId, p.expected, head.revision);
        } catch (err) {
          return { ok: false as const, err: err as WrongExpectedRevision };
        }
        const sealed = sealEvents(p.streamId, p.events, head.revision, head.hash, position);
        position += sealed.length;
        const last = sealed[sealed.length - 1];
        head.revision = last.revision;
        head.hash = last.hash;
        head.position = last.position;
        return { ok: true as const, sealed };
      });
      const written = outcomes.flatMap((o) => (o.ok ? o.sealed : []));
      if (!written.length) {
        await client.query('ROLLBACK');
        return outcomes;
      }
      const touched = [...new Set(written.map((e) => e.streamId))].map((id) => ({ id, ...heads.get(id)! }));
      const created = touched.filter((t) => !t.existed);
      const updated = touched.filter((t) => t.existed);
      await client.query(sql.insertMany, [
        written.map((e) => e.position),
        written.map((e) => e.id),
        written.map((e) => e.streamId),
        written.map((e) => e.revision),
        written.map((e) => e.type),
        written.map((e) => e.version),
        written.map((e) => JSON.stringify(e.data ?? null)),
        written.map((e) => JSON.stringify(e.metadata)),
        written.map((e) => e.prevHash),
        written.map((e) => e.hash),
        created.map((t) => t.id),
        created.map((t) => t.revision),
        created.map((t) => t.hash),
        created.map((t) => t.position),
        updated.map((t) => t.id),
        updated.map((t) => t.revision),
        updated.map((t) => t.hash),
        updated.map((t) => t.position),
      ]);
      await client.query('COMMIT');
      this.stats.batches++;
      this.stats.appends += batch.length;
      return outcomes;
    } catch (err) {
      if (isConnectionError(err)) destroy = true;
      else await client.query('ROLLBACK').catch(() => (destroy = true));
      throw err;
    } finally {
      client.release(destroy || undefined);
    }
  }
}
