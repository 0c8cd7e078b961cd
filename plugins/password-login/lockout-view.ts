import type { KnownEvent, PersistedProjection, ReadDatabase, ReadStatement, RecordedEvent } from '../../plugin/index.js';

/** Failure reasons that count towards the lockout (a refusal because of the lockout itself does not). */
const COUNTED = new Set(['bad_password', 'unknown_user', 'no_password', 'bad_totp', 'totp_replayed', 'bad_recovery_code']);

/** Bump when the tables or `apply` change. */
const SCHEMA = 1;

export interface LockoutSettings {
  maxFailures: number;
  windowSeconds: number;
  lockSeconds: number;
}

/**
 * Per-account lockout as a read model over `LoginFailed`: `maxFailures` failures within
 * `windowSeconds` lock the login name for `lockSeconds` after the last one; a successful password
 * login clears it. Keyed by the login-name hash the password IdP records as `subject`, so an unknown
 * name locks exactly like a known one (no user enumeration through the lockout either).
 *
 * Persisted: one row per login name with its last `maxFailures` failure times (epoch ms, a JSON
 * array), and the name each user last failed under (so their next successful login clears it).
 */
export class LockoutView implements PersistedProjection {
  readonly name = 'password-login.lockout';
  /**
   * The rows keep the last `maxFailures` times, so they depend on that setting: it is part of the
   * version, and changing it rebuilds the rows from the log (as a replay did before).
   */
  readonly version: number;
  readonly tables = ['password_login_lockout', 'password_login_lockout_users'];
  private st!: {
    get: ReadStatement<{ failures: string }>;
    put: ReadStatement;
    clear: ReadStatement;
    keyOfUser: ReadStatement<{ key: string }>;
    setKey: ReadStatement;
    dropOld: ReadStatement;
    dropOrphans: ReadStatement;
  };

  constructor(
    private readonly issuer: string,
    private readonly settings: LockoutSettings,
  ) {
    this.version = SCHEMA * 10_000 + settings.maxFailures; // maxFailures <= 1000 (config.ts)
  }

  open(db: ReadDatabase): void {
    db.exec(`CREATE TABLE IF NOT EXISTS password_login_lockout (key TEXT PRIMARY KEY, failures TEXT NOT NULL, last_at INTEGER NOT NULL) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS password_login_lockout_last ON password_login_lockout (last_at);
      CREATE TABLE IF NOT EXISTS password_login_lockout_users (user_id TEXT PRIMARY KEY, key TEXT NOT NULL) WITHOUT ROWID;`);
    this.st = {
      get: db.prepare(`SELECT failures FROM password_login_lockout WHERE key = ?`),
      put: db.prepare(`INSERT INTO password_login_lockout (key, failures, last_at) VALUES (?, ?, ?)
        ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, last_at = excluded.last_at`),
      clear: db.prepare(`DELETE FROM password_login_lockout WHERE key = ?`),
      keyOfUser: db.prepare(`SELECT key FROM password_login_lockout_users WHERE user_id = ?`),
      setKey: db.prepare(
        `INSERT INTO password_login_lockout_users (user_id, key) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET key = excluded.key`,
      ),
      dropOld: db.prepare(`DELETE FROM password_login_lockout WHERE last_at <= ?`),
      dropOrphans: db.prepare(`DELETE FROM password_login_lockout_users WHERE key NOT IN (SELECT key FROM password_login_lockout)`),
    };
  }

  apply(raw: RecordedEvent): void {
    const e = raw as KnownEvent;
    if (e.type === 'LoginFailed' && e.data.issuer === this.issuer && e.data.subject && COUNTED.has(e.data.reason)) {
      const key = e.data.subject;
      const row = this.st.get.get(key);
      const list = row ? (JSON.parse(row.failures) as number[]) : [];
      const at = Date.parse(e.metadata.recordedAt); // the event's time, never a clock: a rebuild gives the same rows
      list.push(at);
      if (list.length > this.settings.maxFailures) list.splice(0, list.length - this.settings.maxFailures);
      this.st.put.run(key, JSON.stringify(list), at);
      if (e.data.userId) this.st.setKey.run(e.data.userId, key);
    } else if (e.type === 'LoginSucceeded' && e.data.issuer === this.issuer) {
      const k = this.st.keyOfUser.get(e.data.userId);
      if (k) this.st.clear.run(k.key);
    }
  }

  /**
   * Drops the names whose last failure left the window: `lockedUntil` ignores failures older than
   * the window, so it answers the same without them (and a new failure starts a fresh list, as it
   * would have counted alone anyway). Users whose name has no row left are forgotten with them.
   */
  maintain(now: Date): void {
    const dropped = this.st.dropOld.run(now.getTime() - this.settings.windowSeconds * 1000).changes;
    if (dropped) this.st.dropOrphans.run();
  }

  /** When the lock on this login name ends, or null when it is not locked. */
  lockedUntil(key: string, now: Date): Date | null {
    const row = this.st.get.get(key);
    if (!row) return null;
    const list = JSON.parse(row.failures) as number[];
    if (list.length < this.settings.maxFailures) return null;
    const t = now.getTime();
    const recent = list.filter((x) => x > t - this.settings.windowSeconds * 1000);
    if (recent.length < this.settings.maxFailures) return null;
    const until = recent[recent.length - 1] + this.settings.lockSeconds * 1000;
    return until > t ? new Date(until) : null;
  }
}
