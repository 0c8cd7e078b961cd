import { ERASED } from '../events/personal-fields.js';
import type { RecordedEvent, KnownEvent } from '../events/envelope.js';
import type { ReadDatabase, ReadStatement } from '../ports/read-database.js';
import type { PersistedProjection } from './projection.js';
import { BoundedCache } from './bounded-cache.js';

export interface SessionView {
  sessionId: string;
  userId: string;
  issuer: string;
  subject: string;
  amr: string[];
  roles: string[];
  tenant: string | null;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  /** `lastSeenAt` and `expiresAt` as epoch milliseconds, so the per-request check parses no dates. */
  lastSeenAtMs: number;
  expiresAtMs: number;
  idleTimeoutSeconds: number;
  ip: string | null;
  userAgent: string | null;
}

interface Row {
  session_id: string;
  user_id: string;
  issuer: string;
  subject: string;
  amr: string;
  roles: string;
  tenant: string | null;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  expires_ms: number;
  idle_seconds: number;
  ip: string | null;
  user_agent: string | null;
}

function toView(r: Row): SessionView {
  return {
    sessionId: r.session_id,
    userId: r.user_id,
    issuer: r.issuer,
    subject: r.subject,
    amr: JSON.parse(r.amr) as string[],
    roles: JSON.parse(r.roles) as string[],
    tenant: r.tenant,
    createdAt: r.created_at,
    lastSeenAt: r.last_seen_at,
    expiresAt: r.expires_at,
    lastSeenAtMs: Date.parse(r.last_seen_at),
    expiresAtMs: r.expires_ms,
    idleTimeoutSeconds: r.idle_seconds,
    ip: r.ip,
    userAgent: r.user_agent,
  };
}

/** How long an expired session's row stays (for the admin pages) before `maintain` drops it. */
export const DEFAULT_SESSION_RETENTION_SECONDS = 7 * 24 * 3600;
/** How long IP addresses and user agents stay readable, in the log and the read models (`privacy.networkDataDays`). */
export const DEFAULT_NETWORK_DATA_DAYS = 30;

/**
 * Live broker sessions, as a persisted read model over the log, so every node sees the same
 * sessions and a restart resumes. A ban, disable or erase ends the user's sessions the moment the
 * event is committed. The session check reads through a bounded cache that `apply` invalidates.
 * A session that expires (absolute or idle) records no event: its row stays until `maintain` drops
 * it `retentionSeconds` after it could last have been used (the log keeps it for audit).
 */
export class SessionsView implements PersistedProjection {
  readonly name = 'sessions';
  readonly version = 1;
  readonly tables = ['sessions'];
  private readonly cache = new BoundedCache<string, SessionView | null>(20_000);
  private st!: {
    insert: ReadStatement;
    touch: ReadStatement;
    del: ReadStatement;
    byId: ReadStatement<Row>;
    idsOfUser: ReadStatement<{ session_id: string }>;
    ofUser: ReadStatement<Row>;
    delUser: ReadStatement;
    roles: ReadStatement;
    count: ReadStatement<{ n: number }>;
    purge: ReadStatement;
    dropNetwork: ReadStatement;
  };

  constructor(
    readonly retentionSeconds = DEFAULT_SESSION_RETENTION_SECONDS,
    /** Addresses and browsers of sessions started longer ago than this are dropped (`privacy.networkDataDays`). */
    readonly networkDataSeconds = DEFAULT_NETWORK_DATA_DAYS * 86_400,
  ) {}

  open(db: ReadDatabase): void {
    db.exec(`CREATE TABLE IF NOT EXISTS sessions (
      session_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, issuer TEXT NOT NULL, subject TEXT NOT NULL,
      amr TEXT NOT NULL, roles TEXT NOT NULL, tenant TEXT, created_at TEXT NOT NULL, last_seen_at TEXT NOT NULL,
      expires_at TEXT NOT NULL, expires_ms INTEGER NOT NULL, idle_seconds INTEGER NOT NULL, last_use_ms INTEGER NOT NULL,
      ip TEXT, user_agent TEXT) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id);
      CREATE INDEX IF NOT EXISTS sessions_last_use ON sessions (last_use_ms);`);
    this.st = {
      insert: db.prepare(`INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      touch: db.prepare(
        `UPDATE sessions SET last_seen_at = ?, last_use_ms = MIN(expires_ms, ? + idle_seconds * 1000) WHERE session_id = ?`,
      ),
      del: db.prepare(`DELETE FROM sessions WHERE session_id = ?`),
      byId: db.prepare(`SELECT * FROM sessions WHERE session_id = ?`),
      idsOfUser: db.prepare(`SELECT session_id FROM sessions WHERE user_id = ?`),
      ofUser: db.prepare(`SELECT * FROM sessions WHERE user_id = ? ORDER BY created_at`),
      delUser: db.prepare(`DELETE FROM sessions WHERE user_id = ?`),
      roles: db.prepare(`UPDATE sessions SET roles = ?, tenant = COALESCE(?, tenant) WHERE user_id = ?`),
      count: db.prepare(`SELECT count(*) AS n FROM sessions`),
      purge: db.prepare(`DELETE FROM sessions WHERE last_use_ms < ?`),
      dropNetwork: db.prepare(
        `UPDATE sessions SET ip = NULL, user_agent = NULL WHERE created_at < ? AND (ip IS NOT NULL OR user_agent IS NOT NULL)`,
      ),
    };
    this.cache.clear();
  }

  forget(): void {
    this.cache.clear();
  }

  apply(raw: RecordedEvent): void {
    const e = raw as KnownEvent;
    switch (e.type) {
      case 'LoginSucceeded': {
        const d = e.data;
        const seenMs = Date.parse(e.metadata.recordedAt);
        const expiresMs = Date.parse(d.expiresAt);
        this.st.insert.run(
          d.sessionId,
          d.userId,
          d.issuer,
          d.subject,
          JSON.stringify(d.amr),
          JSON.stringify(d.roles ?? []),
          d.tenant ?? null,
          e.metadata.recordedAt,
          e.metadata.recordedAt,
          d.expiresAt,
          expiresMs,
          d.idleTimeoutSeconds,
          Math.min(expiresMs, seenMs + d.idleTimeoutSeconds * 1000),
          known(d.ip),
          known(d.userAgent),
        );
        this.cache.delete(d.sessionId);
        break;
      }
      case 'SessionRefreshed':
        this.st.touch.run(e.metadata.recordedAt, Date.parse(e.metadata.recordedAt), e.data.sessionId);
        this.cache.delete(e.data.sessionId);
        break;
      case 'SessionEnded':
        this.st.del.run(e.data.sessionId);
        this.cache.delete(e.data.sessionId);
        break;
      case 'UserBanned':
      case 'AccountDisabled':
      case 'UserErased':
      case 'CredentialsRevoked':
        this.forgetUser(e.data.userId);
        this.st.delUser.run(e.data.userId);
        break;
      case 'RolesAssigned':
        this.forgetUser(e.data.userId);
        this.st.roles.run(JSON.stringify(e.data.roles), e.data.tenant ?? null, e.data.userId);
        break;
    }
  }

  private forgetUser(userId: string): void {
    for (const r of this.st.idsOfUser.iterate(userId)) this.cache.delete(r.session_id);
  }

  /** The session by id (ended sessions are gone; expired ones the caller checks by time). */
  get(sessionId: string): SessionView | undefined {
    let v = this.cache.get(sessionId);
    if (v === undefined) {
      const r = this.st.byId.get(sessionId);
      v = r ? toView(r) : null;
      this.cache.set(sessionId, v);
    }
    return v ?? undefined;
  }

  /** Map-like access kept for callers written against the in-memory view. */
  readonly byId: { get(id: string): SessionView | undefined; has(id: string): boolean; readonly size: number } = (() => {
    const count = () => this.count();
    return {
      get: (id: string) => this.get(id),
      has: (id: string) => this.get(id) !== undefined,
      get size() {
        return count();
      },
    };
  })();

  count(): number {
    return this.st.count.get()!.n;
  }

  forUser(userId: string): SessionView[] {
    return this.st.ofUser.all(userId).map(toView);
  }

  /** Drops rows of sessions that could not have been used for `retentionSeconds`. */
  maintain(now: Date): void {
    const cutoff = now.getTime() - this.retentionSeconds * 1000;
    let changed = this.st.purge.run(cutoff).changes > 0;
    changed = this.st.dropNetwork.run(new Date(now.getTime() - this.networkDataSeconds * 1000).toISOString()).changes > 0 || changed;
    if (changed) this.cache.clear();
  }
}

/** A field whose key is destroyed (retention, erasure) reads `[erased]`: stored as nothing. */
const known = (v: string | null | undefined): string | null => (v == null || v === ERASED ? null : v);
