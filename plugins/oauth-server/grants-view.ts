import type { KnownEvent, Projection, RecordedEvent } from '../../core/index.js';
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

/**
 * Grants, consents and revoked access tokens as a read model: what introspection, the consent
 * check and the back-channel logout reactor look up on every request without touching the store.
 */
export class OAuthGrantsView implements Projection {
  readonly name = 'oauth-server.grants';
  checkpoint = 0;
  readonly grants = new Map<string, GrantView>();
  readonly bySession = new Map<string, Set<string>>();
  readonly byUser = new Map<string, Set<string>>();
  /** Revoked access-token jti -> exp (unix s). */
  readonly revokedJtis = new Map<string, number>();
  /** `userId client` -> consented scopes. */
  readonly consents = new Map<string, Set<string>>();
  /** userId -> log position of the user's last credential revocation (ban, disable, log out everywhere). */
  readonly revokedUpTo = new Map<string, number>();

  reset(): void {
    this.grants.clear();
    this.bySession.clear();
    this.byUser.clear();
    this.revokedJtis.clear();
    this.consents.clear();
    this.revokedUpTo.clear();
  }

  apply(raw: RecordedEvent): void {
    const e = raw as KnownEvent;
    switch (e.type) {
      case 'GrantIssued': {
        const d = e.data;
        this.grants.set(d.grantId, {
          grantId: d.grantId,
          clientId: d.clientId,
          userId: d.userId,
          sessionId: d.sessionId,
          scope: d.scope,
          refreshTokenHash: d.refreshTokenHash,
          expiresAt: Date.parse(d.expiresAt),
          // A grant redeemed from a login the user's credentials were revoked after is born dead.
          revoked: (this.revokedUpTo.get(d.userId) ?? 0) > (d.loginPosition ?? raw.position),
        });
        if (d.sessionId) index(this.bySession, d.sessionId, d.grantId);
        index(this.byUser, d.userId, d.grantId);
        break;
      }
      case 'RefreshTokenRotated': {
        const g = this.grants.get(e.data.grantId);
        if (g) g.refreshTokenHash = e.data.newHash;
        break;
      }
      case 'GrantRevoked': {
        const g = this.grants.get(e.data.grantId);
        if (g) g.revoked = true;
        else this.grants.set(e.data.grantId, { grantId: e.data.grantId, clientId: '', userId: '', sessionId: null, scope: '', refreshTokenHash: null, expiresAt: 0, revoked: true });
        break;
      }
      case 'AccessTokenRevoked':
        this.revokedJtis.set(e.data.jti, e.data.exp);
        if (this.revokedJtis.size % 1000 === 0) this.prune(Math.floor(Date.now() / 1000));
        break;
      case 'ConsentGranted': {
        const k = `${e.data.userId} ${e.data.clientId}`;
        const set = this.consents.get(k) ?? new Set<string>();
        for (const s of e.data.scopes) set.add(s);
        this.consents.set(k, set);
        break;
      }
      case 'UserErased':
        for (const k of [...this.consents.keys()]) if (k.startsWith(`${e.data.userId} `)) this.consents.delete(k);
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

  private revokeAllOf(userId: string, position: number): void {
    this.revokedUpTo.set(userId, position);
    for (const id of this.byUser.get(userId) ?? []) {
      const g = this.grants.get(id);
      if (g) g.revoked = true;
    }
  }

  hasConsent(userId: string, clientId: string, scopes: string[]): boolean {
    const set = this.consents.get(`${userId} ${clientId}`);
    return !!set && scopes.every((s) => set.has(s));
  }

  grantsOf(index: Map<string, Set<string>>, key: string): GrantView[] {
    return [...(index.get(key) ?? [])].map((id) => this.grants.get(id)!).filter(Boolean);
  }

  /** Forget revoked jtis whose tokens have expired anyway. */
  prune(nowSeconds: number): void {
    for (const [jti, exp] of this.revokedJtis) if (exp < nowSeconds) this.revokedJtis.delete(jti);
  }
}

function index(m: Map<string, Set<string>>, key: string, id: string): void {
  let s = m.get(key);
  if (!s) m.set(key, (s = new Set()));
  s.add(id);
}
