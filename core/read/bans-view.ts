import type { RecordedEvent, KnownEvent } from '../events/envelope.js';
import type { ReadDatabase, ReadStatement } from '../ports/read-database.js';
import type { PersistedProjection } from './projection.js';

export interface BanView {
  userId: string;
  reason: string;
  actor: string;
  at: string;
  eventId: string;
  position: number;
}

type Row = { user_id: string; reason: string; actor: string; at: string; event_id: string; position: number; lifted_at: string | null };
const toView = (r: Row): BanView & { liftedAt: string | null } => ({
  userId: r.user_id,
  reason: r.reason,
  actor: r.actor,
  at: r.at,
  eventId: r.event_id,
  position: r.position,
  liftedAt: r.lifted_at,
});

/** Who is banned now, and every ban ever (for operators), persisted. */
export class BansView implements PersistedProjection {
  readonly name = 'bans';
  readonly version = 1;
  readonly tables = ['bans'];
  private st!: {
    insert: ReadStatement;
    lift: ReadStatement;
    isBanned: ReadStatement<{ x: number }>;
    active: ReadStatement<Row>;
    activeCount: ReadStatement<{ n: number }>;
    history: ReadStatement<Row>;
  };

  open(db: ReadDatabase): void {
    db.exec(`CREATE TABLE IF NOT EXISTS bans (position INTEGER PRIMARY KEY, user_id TEXT NOT NULL, reason TEXT NOT NULL, actor TEXT NOT NULL,
      at TEXT NOT NULL, event_id TEXT NOT NULL, lifted_at TEXT);
      CREATE INDEX IF NOT EXISTS bans_active ON bans (user_id) WHERE lifted_at IS NULL;`);
    this.st = {
      insert: db.prepare(
        `INSERT OR REPLACE INTO bans (position, user_id, reason, actor, at, event_id, lifted_at) VALUES (?, ?, ?, ?, ?, ?, NULL)`,
      ),
      lift: db.prepare(`UPDATE bans SET lifted_at = ? WHERE user_id = ? AND lifted_at IS NULL`),
      isBanned: db.prepare(`SELECT 1 AS x FROM bans WHERE user_id = ? AND lifted_at IS NULL LIMIT 1`),
      active: db.prepare(`SELECT * FROM bans WHERE lifted_at IS NULL ORDER BY position LIMIT ?`),
      activeCount: db.prepare(`SELECT count(*) AS n FROM bans WHERE lifted_at IS NULL`),
      history: db.prepare(`SELECT * FROM bans WHERE (@user IS NULL OR user_id = @user) ORDER BY position LIMIT @limit`),
    };
  }

  apply(raw: RecordedEvent): void {
    const e = raw as KnownEvent;
    if (e.type === 'UserBanned') {
      // A second ban of a banned user replaces the first as the active one (as the in-memory view did).
      this.st.lift.run(e.metadata.recordedAt, e.data.userId);
      this.st.insert.run(e.position, e.data.userId, e.data.reason, e.data.actor, e.metadata.recordedAt, e.id);
    } else if (e.type === 'UserUnbanned') {
      this.st.lift.run(e.metadata.recordedAt, e.data.userId);
    }
  }

  isBanned(userId: string): boolean {
    return this.st.isBanned.get(userId) !== undefined;
  }

  activeCount(): number {
    return this.st.activeCount.get()!.n;
  }

  /** Bans in force, oldest first (at most `limit`). */
  listActive(limit = 1000): BanView[] {
    return this.st.active.all(limit).map(toView);
  }

  /** Every ban, oldest first, of one user or of all. */
  history(userId: string | null = null, limit = 10_000): (BanView & { liftedAt: string | null })[] {
    return this.st.history.all({ user: userId, limit }).map(toView);
  }
}
