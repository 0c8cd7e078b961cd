import { createHash, randomUUID } from 'node:crypto';
import type { Clock, ReadModels } from '../../plugin/index.js';
import type { SigningKeys } from '../../adapters/crypto/signing-keys.js';
import { JwsInvalid } from '../../adapters/crypto/jws.js';
import type { OAuthGrantsView } from './grants-view.js';
import type { ClientRegistry } from './clients.js';

export interface AccessTokenInput {
  sub: string;
  clientId: string;
  scope: string;
  /** Set for user grants (absent for client_credentials). */
  grantId?: string;
  sessionId?: string | null;
  roles?: string[];
  tenant?: string | null;
  authTime?: number | null;
}

export interface Introspection {
  active: true;
  sub: string;
  user_id?: string;
  roles?: string[];
  tenant?: string | null;
  scope: string;
  client_id: string;
  exp: number;
  iat: number;
  iss: string;
  aud: string | string[];
  jti: string;
  token_type: 'Bearer';
  sid?: string;
}

export type TokenCheck = { active: true; info: Introspection } | { active: false; reason: string };

/**
 * Issues RFC 9068 access tokens and OIDC ID tokens, and decides whether an access token is active.
 * Verification results are cached (bounded) but revocation is looked up on every call
 * (PERFORMANCE-NOTES): a ban, an ended session, a revoked grant or token bite at once.
 */
export class TokenService {
  private readonly verified = new Map<string, Record<string, unknown>>();
  private readonly maxCache = 10_000;
  /** Every audience this server issues for: a token for any other audience is not ours to vouch for. */
  private readonly audiences: string[];

  constructor(
    private readonly keys: SigningKeys,
    private readonly clock: Clock,
    private readonly read: ReadModels,
    private readonly grants: OAuthGrantsView,
    private readonly clients: ClientRegistry,
    readonly issuer: string,
    readonly audience: string,
    private readonly ttl: { access: number; id: number },
  ) {
    this.audiences = [...new Set([audience, ...[...clients.byId.values()].map((c) => c.audience).filter((a): a is string => !!a)])];
  }

  /**
   * Revocation state of already-verified claims (bound as `broker.AccessTokenRevoked` for the
   * gateway, which verifies signatures itself): a revoked token or grant, or a removed client.
   */
  isRevoked(claims: Record<string, unknown>): boolean {
    if (typeof claims.jti === 'string' && this.grants.isJtiRevoked(claims.jti)) return true;
    if (typeof claims.gid === 'string' && this.grants.isGrantRevoked(claims.gid)) return true;
    return typeof claims.client_id === 'string' && !this.clients.get(claims.client_id);
  }

  private nowS(): number {
    return Math.floor(this.clock.now().getTime() / 1000);
  }

  issueAccessToken(i: AccessTokenInput): { token: string; jti: string; exp: number } {
    const iat = this.nowS();
    // randomUUID draws from a pre-filled entropy cache: one syscall per ~128 tokens, not one per token.
    const jti = randomUUID();
    const exp = iat + this.ttl.access;
    // RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat, jti; scope §2.2.3; roles §2.2.3.1.
    const aud = this.clients.get(i.clientId)?.audience ?? this.audience;
    const payload: Record<string, unknown> = { iss: this.issuer, sub: i.sub, aud, client_id: i.clientId, iat, exp, jti, scope: i.scope };
    if (i.authTime) payload.auth_time = i.authTime;
    if (i.roles) payload.roles = i.roles;
    if (i.tenant !== undefined) payload.tenant = i.tenant;
    if (i.sessionId) payload.sid = i.sessionId;
    if (i.grantId) payload.gid = i.grantId;
    return { token: this.keys.signSync(payload, { typ: 'at+jwt' }), jti, exp };
  }

  /** OIDC Core §2 and §3.1.3.6 (at_hash). */
  issueIdToken(i: {
    sub: string;
    clientId: string;
    nonce?: string | null;
    authTime?: number | null;
    sessionId?: string | null;
    accessToken?: string;
    claims?: Record<string, unknown>;
  }): string {
    const iat = this.nowS();
    const payload: Record<string, unknown> = {
      iss: this.issuer,
      sub: i.sub,
      aud: i.clientId,
      exp: iat + this.ttl.id,
      iat,
      ...(i.claims ?? {}),
    };
    if (i.authTime) payload.auth_time = i.authTime;
    if (i.nonce) payload.nonce = i.nonce;
    if (i.sessionId) payload.sid = i.sessionId;
    if (i.accessToken) payload.at_hash = createHash('sha256').update(i.accessToken).digest().subarray(0, 16).toString('base64url');
    return this.keys.signSync(payload, { typ: 'JWT' });
  }

  /** Signature (cached), typ, issuer, audience, expiry, then revocation state, every time. */
  check(token: string): TokenCheck {
    let p = this.verified.get(token);
    if (!p) {
      try {
        p = this.keys.verifySync(token, { typ: 'at+jwt', issuer: this.issuer, audience: this.audiences });
      } catch (err) {
        return { active: false, reason: err instanceof JwsInvalid ? err.reason : 'malformed' };
      }
      if (this.verified.size >= this.maxCache) this.verified.delete(this.verified.keys().next().value as string);
      this.verified.set(token, p);
    }
    const now = this.nowS();
    if (typeof p.exp !== 'number' || p.exp <= now) {
      this.verified.delete(token);
      return { active: false, reason: 'expired' };
    }
    if (typeof p.nbf === 'number' && p.nbf > now) return { active: false, reason: 'not_yet_valid' };
    const jti = p.jti as string;
    if (this.grants.isJtiRevoked(jti)) return { active: false, reason: 'token_revoked' };
    const clientId = p.client_id as string;
    if (!this.clients.get(clientId)) return { active: false, reason: 'client_removed' };
    const gid = p.gid as string | undefined;
    if (gid) {
      if (this.grants.isGrantRevoked(gid)) return { active: false, reason: 'grant_revoked' };
      if (!this.read.users.isActive(p.sub as string)) return { active: false, reason: 'user_inactive' };
      const sid = p.sid as string | undefined;
      if (sid && !this.read.sessions.byId.has(sid)) return { active: false, reason: 'session_ended' };
    }
    const info: Introspection = {
      active: true,
      sub: p.sub as string,
      scope: p.scope as string,
      client_id: clientId,
      exp: p.exp as number,
      iat: p.iat as number,
      iss: p.iss as string,
      aud: p.aud as string,
      jti,
      token_type: 'Bearer',
    };
    if (gid) {
      info.user_id = p.sub as string;
      info.roles = (p.roles as string[]) ?? [];
      info.tenant = (p.tenant as string | null) ?? null;
      if (p.sid) info.sid = p.sid as string;
    }
    return { active: true, info };
  }
}
