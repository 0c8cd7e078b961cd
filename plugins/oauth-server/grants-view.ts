import type { KnownEvent, PersistedProjection, ReadDatabase, ReadStatement, RecordedEvent } from '../../plugin/index.js';
import './events.js';

export interface GrantView {
  grantId: string;
  clientId: string;
  userId: string;
  sessionId: string | null;
  scope: string;
  refreshTokenHash: string | null;
  expiresAt: number;
  revoked: boolean;
}

type GrantRow = {
  grant_id: string;
  client_id: string;
  user_id: string;
  session_id: string | null;
  scope: string;
  refresh_hash: string | null;
  expires_at: number;
  revoked: number;
};
const toView = (r: GrantRow): GrantView => ({
  grantId: r.grant_id,
  clientId: r.client_id,
  userId: r.user_id,
  sessionId: r.session_id,
  scope: r.scope,
  refreshTokenHash: r.refresh_hash,
  expiresAt: r.expires_at,
  revoked: r.revoked === 1,
});

/**
 * Grants, consents and revoked access tokens as a persisted read model: what introspection, the
 * consent check, the gateway's revocation check and the back-channel logout reactor look up on every
 * request, by primary key, without touching the log. It resumes from its checkpoint at start, so a
 * broker with the OAuth server does not replay the whole log; memory does not grow with grants.
 */
export class OAuthGrantsView implements PersistedProjection {
  readonly name = 'oauth-server.grants';
  readonly version = 1;
  readonly tables = ['oauth_grants', 'oauth_revoked_jtis', 'oauth_consents', 'oauth_revoked_upto'];
  private st!: {
    insert: ReadStatement;
    rotate: ReadStatement;
    revoke: ReadStatement;
    revokeAllOf: ReadStatement;
    revokedUpTo: ReadStatement<{ position: number }>;
    setRevokedUpTo: ReadStatement;
    revokeJti: ReadStatement;
    jti: ReadStatement<{ x: number }>;
    consent: ReadStatement;
    consentsOf: ReadStatement<{ scope: string }>;
    forgetConsents: ReadStatement;
    grant: ReadStatement<GrantRow>;
    ofUser: ReadStatement<GrantRow>;
    ofSession: ReadStatement<GrantRow>;
    liveByClient: ReadStatement<{ client_id: string; n: number }>;
    prune: ReadStatement;
  };

  open(db: ReadDatabase): void {
    db.exec(`CREATE TABLE IF NOT EXISTS oauth_grants (grant_id TEXT PRIMARY KEY, client_id TEXT NOT NULL, user_id TEXT NOT NULL,
        session_id TEXT, scope TEXT NOT NULL, refresh_hash TEXT, expires_at INTEGER NOT NULL, revoked INTEGER NOT NULL, position INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS oauth_grants_user ON oauth_grants (user_id, position);
      CREATE INDEX IF NOT EXISTS oauth_grants_session ON oauth_grants (session_id) WHERE session_id IS NOT NULL;
      CREATE TABLE IF NOT EXISTS oauth_revoked_jtis (jti TEXT PRIMARY KEY, exp INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS oauth_consents (user_id TEXT NOT NULL, client_id TEXT NOT NULL, scope TEXT NOT NULL, PRIMARY KEY (user_id, client_id, scope));
      CREATE TABLE IF NOT EXISTS oauth_revoked_upto (user_id TEXT PRIMARY KEY, position INTEGER NOT NULL);`);
    this.st = {
      insert:
        db.prepare(`INSERT OR REPLACE INTO oauth_grants (grant_id, client_id, user_id, session_id, scope, refresh_hash, expires_at, revoked, position)
        VALUES (@grantId, @clientId, @userId, @sessionId, @scope, @refreshTokenHash, @expiresAt, @revoked, @position)`),
      rotate: db.prepare(`UPDATE oauth_grants SET refresh_hash = ? WHERE grant_id = ?`),
      revoke:
        db.prepare(`INSERT INTO oauth_grants (grant_id, client_id, user_id, session_id, scope, refresh_hash, expires_at, revoked, position)
        VALUES (?, '', '', NULL, '', NULL, 0, 1, ?) ON CONFLICT (grant_id) DO UPDATE SET revoked = 1`),
      revokeAllOf: db.prepare(`UPDATE oauth_grants SET revoked = 1 WHERE user_id = ? AND revoked = 0`),
      revokedUpTo: db.prepare(`SELECT position FROM oauth_revoked_upto WHERE user_id = ?`),
      setRevokedUpTo: db.prepare(`INSERT OR REPLACE INTO oauth_revoked_upto (user_id, position) VALUES (?, ?)`),
      revokeJti: db.prepare(`INSERT OR REPLACE INTO oauth_revoked_jtis (jti, exp) VALUES (?, ?)`),
      jti: db.prepare(`SELECT 1 AS x FROM oauth_revoked_jtis WHERE jti = ?`),
      consent: db.prepare(`INSERT OR IGNORE INTO oauth_consents (user_id, client_id, scope) VALUES (?, ?, ?)`),
      consentsOf: db.prepare(`SELECT scope FROM oauth_consents WHERE user_id = ? AND client_id = ?`),
      forgetConsents: db.prepare(`DELETE FROM oauth_consents WHERE user_id = ?`),
      grant: db.prepare(`SELECT * FROM oauth_grants WHERE grant_id = ?`),
      ofUser: db.prepare(`SELECT * FROM oauth_grants WHERE user_id = ? ORDER BY position LIMIT 10000`),
      ofSession: db.prepare(`SELECT * FROM oauth_grants WHERE session_id = ? ORDER BY position`),
      liveByClient: db.prepare(`SELECT client_id, count(*) AS n FROM oauth_grants WHERE revoked = 0 AND expires_at > ? GROUP BY client_id`),
      prune: db.prepare(`DELETE FROM oauth_revoked_jtis WHERE exp < ?`),
    };
  }

  apply(raw: RecordedEvent): void {
    const e = raw as KnownEvent;
    switch (e.type) {
      case 'GrantIssued': {
        const d = e.data;
        // A grant redeemed from a login the user's credentials were revoked after is born dead.
        const upTo = this.st.revokedUpTo.get(d.userId)?.position ?? 0;
        this.st.insert.run({
          grantId: d.grantId,
          clientId: d.clientId,
          userId: d.userId,
          sessionId: d.sessionId,
          scope: d.scope,
          refreshTokenHash: d.refreshTokenHash,
          expiresAt: Date.parse(d.expiresAt),
          revoked: upTo > (d.loginPosition ?? raw.position) ? 1 : 0,
          position: raw.position,
        });
        break;
      }
      case 'RefreshTokenRotated':
        this.st.rotate.run(e.data.newHash, e.data.grantId);
        break;
      case 'GrantRevoked':
        this.st.revoke.run(e.data.grantId, raw.position);
        break;
      case 'AccessTokenRevoked':
        this.st.revokeJti.run(e.data.jti, e.data.exp);
        break;
      case 'ConsentGranted':
        for (const s of e.data.scopes) this.st.consent.run(e.data.userId, e.data.clientId, s);
        break;
      case 'UserErased':
        this.st.forgetConsents.run(e.data.userId);
        this.revokeAllOf(e.data.userId, raw.position);
        break;
      // Permanent: no unban or enable case undoes it (an unban restores the account, not its tokens).
      case 'CredentialsRevoked':
      case 'UserBanned':
      case 'AccountDisabled':
        this.revokeAllOf(e.data.userId, raw.position);
        break;
    }
  }

  /** Revoked jtis of tokens that have expired anyway cannot matter: the token's own `exp` refuses it. */
  maintain(now: Date): void {
    this.st.prune.run(Math.floor(now.getTime() / 1000));
  }

  private revokeAllOf(userId: string, position: number): void {
    this.st.setRevokedUpTo.run(userId, position);
    this.st.revokeAllOf.run(userId);
  }

  hasConsent(userId: string, clientId: string, scopes: string[]): boolean {
    const have = new Set(this.st.consentsOf.all(userId, clientId).map((r) => r.scope));
    return have.size > 0 && scopes.every((s) => have.has(s));
  }

  grant(grantId: string): GrantView | undefined {
    const r = this.st.grant.get(grantId);
    return r && toView(r);
  }

  isGrantRevoked(grantId: string): boolean {
    return this.st.grant.get(grantId)?.revoked === 1;
  }

  isJtiRevoked(jti: string): boolean {
    return this.st.jti.get(jti) !== undefined;
  }

  /** A user's grants, oldest first (at most 10,000). */
  grantsOfUser(userId: string): GrantView[] {
    return this.st.ofUser.all(userId).map(toView);
  }

  grantsOfSession(sessionId: string): GrantView[] {
    return this.st.ofSession.all(sessionId).map(toView);
  }

  /** Live (unrevoked, unexpired) grants per client, counted in SQL. */
  liveGrantsByClient(nowMs: number): Map<string, number> {
    return new Map(this.st.liveByClient.all(nowMs).map((r) => [r.client_id, r.n]));
  }
}
