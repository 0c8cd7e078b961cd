import { isEvent, type PersistedProjection, type ReadDatabase, type ReadStatement, type RecordedEvent } from 'identity-broker/plugin';
import './events.js';

export interface UserLogins {
  userId: string;
  logins: number;
  lastLoginAt: string;
}

/**
 * Logins per user, and how many times an admin reset the counts: a persisted projection (its rows in
 * the broker's read database, its checkpoint committed with them, so a restart applies only the tail).
 */
export class LoginStatsView implements PersistedProjection {
  readonly name = 'login-stats.by-user';
  /** Bump it when `apply` or the tables change: the broker drops the tables and rebuilds them from the log. */
  readonly version = 1;
  /** Every table this projection owns, prefixed with the plugin's name (all projections share one database). */
  readonly tables = ['login_stats_users', 'login_stats_resets'];
  private count!: ReadStatement;
  private clear!: ReadStatement;
  private reset!: ReadStatement;
  private top!: ReadStatement<{ user_id: string; logins: number; last_login_at: string }>;
  private one!: ReadStatement<{ logins: number }>;
  private resets!: ReadStatement<{ n: number }>;

  open(db: ReadDatabase): void {
    db.exec(
      `CREATE TABLE IF NOT EXISTS login_stats_users (user_id TEXT PRIMARY KEY, logins INTEGER NOT NULL, last_login_at TEXT NOT NULL) WITHOUT ROWID`,
    );
    db.exec(`CREATE INDEX IF NOT EXISTS login_stats_users_by_logins ON login_stats_users (logins DESC)`);
    db.exec(`CREATE TABLE IF NOT EXISTS login_stats_resets (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL)`);
    this.count = db.prepare(`INSERT INTO login_stats_users (user_id, logins, last_login_at) VALUES (?, 1, ?)
      ON CONFLICT (user_id) DO UPDATE SET logins = logins + 1, last_login_at = excluded.last_login_at`);
    this.clear = db.prepare(`DELETE FROM login_stats_users`);
    this.reset = db.prepare(`INSERT INTO login_stats_resets (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1`);
    this.top = db.prepare(`SELECT user_id, logins, last_login_at FROM login_stats_users ORDER BY logins DESC, user_id LIMIT ?`);
    this.one = db.prepare(`SELECT logins FROM login_stats_users WHERE user_id = ?`);
    this.resets = db.prepare(`SELECT n FROM login_stats_resets WHERE id = 1`);
  }

  // Deterministic: times come from the event, never from a clock, so a rebuild gives the same rows.
  apply(e: RecordedEvent): void {
    if (isEvent(e, 'LoginSucceeded')) this.count.run(e.data.userId, e.metadata.recordedAt);
    else if (isEvent(e, 'LoginStatsReset')) {
      this.clear.run();
      this.reset.run();
    }
  }

  /** The `limit` users with the most logins (bounded: the table only grows). */
  topUsers(limit: number): UserLogins[] {
    return this.top.all(limit).map((r) => ({ userId: r.user_id, logins: r.logins, lastLoginAt: r.last_login_at }));
  }

  loginsOf(userId: string): number {
    return this.one.get(userId)?.logins ?? 0;
  }

  resetCount(): number {
    return this.resets.get()?.n ?? 0;
  }
}
