import type { RecordedEvent } from '../events/envelope.js';
import type { ReadDatabase, ReadStatement } from '../ports/read-database.js';
import type { PersistedProjection } from './projection.js';

export interface AuditEntry {
  position: number;
  type: string;
  recordedAt: string;
  actor: string;
  streamId: string;
}

/**
 * The audit timeline per user: every event that names the user (in `data.userId`), in order, as an
 * index (user, position) with the few fields a timeline shows. The full event is read from the log
 * by position when shown. `broker audit user` and the admin timeline read this index instead of
 * scanning the log.
 */
export class AuditView implements PersistedProjection {
  readonly name = 'audit';
  readonly version = 1;
  readonly tables = ['audit'];
  private st!: {
    put: ReadStatement;
    timeline: ReadStatement<{ position: number; type: string; recorded_at: string; actor: string; stream_id: string }>;
  };

  open(db: ReadDatabase): void {
    db.exec(`CREATE TABLE IF NOT EXISTS audit (user_id TEXT NOT NULL, position INTEGER NOT NULL, type TEXT NOT NULL, recorded_at TEXT NOT NULL,
      actor TEXT NOT NULL, stream_id TEXT NOT NULL, PRIMARY KEY (user_id, position)) WITHOUT ROWID;`);
    this.st = {
      put: db.prepare(`INSERT OR REPLACE INTO audit (user_id, position, type, recorded_at, actor, stream_id) VALUES (?, ?, ?, ?, ?, ?)`),
      timeline: db.prepare(
        `SELECT position, type, recorded_at, actor, stream_id FROM audit WHERE user_id = ? AND position > ? ORDER BY position LIMIT ?`,
      ),
    };
  }

  apply(e: RecordedEvent): void {
    const userId = (e.data as { userId?: unknown } | null)?.userId;
    if (typeof userId !== 'string') return;
    this.st.put.run(userId, e.position, e.type, e.metadata.recordedAt, e.metadata.actor, e.streamId);
  }

  /** The user's entries in log order, after position `after`, at most `limit`. */
  timeline(userId: string, opts: { after?: number; limit?: number } = {}): AuditEntry[] {
    return this.st.timeline
      .all(userId, opts.after ?? 0, opts.limit ?? 100_000)
      .map((r) => ({ position: r.position, type: r.type, recordedAt: r.recorded_at, actor: r.actor, streamId: r.stream_id }));
  }
}
