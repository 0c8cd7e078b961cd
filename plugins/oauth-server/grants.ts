import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  foldStream,
  sessionStream,
  type Clock,
  type CommandHandler,
  type EventStore,
  type ProjectionEngine,
  type ReadModels,
  type Users,
} from '../../plugin/index.js';
import { grantDecider, GrantRefused, safeEqual, type GrantState } from './grant.js';
import type { Client } from './clients.js';
import type { CodeCodec } from './codes.js';
import { OAuthError } from './errors.js';
import { grantStream } from './events.js';
import type { TokenService } from './tokens.js';

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  refresh_token?: string;
  id_token?: string;
}

const hash = (s: string): string => createHash('sha256').update(s).digest('base64url');
const PKCE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

/** A grant as read for a request: the Decider's state plus the login position, defaulted for old grants. */
export type LoadedGrant = Omit<GrantState, 'loginPosition'> & { loginPosition: number };

async function load(store: EventStore, grantId: string): Promise<LoadedGrant> {
  const history = await store.readStream(grantStream(grantId));
  const s = foldStream(grantDecider, history);
  // Grants recorded before `loginPosition` existed: the GrantIssued's own position stands in.
  return { ...s, loginPosition: s.loginPosition ?? history.find((e) => e.type === 'GrantIssued')?.position ?? 0 };
}

/** The grants behind the token endpoint: code redemption, refresh rotation, client credentials. */
export class GrantService {
  constructor(
    private readonly store: EventStore,
    private readonly commands: CommandHandler,
    private readonly projections: ProjectionEngine,
    private readonly read: ReadModels,
    private readonly users: Users,
    private readonly tokens: TokenService,
    private readonly codes: CodeCodec,
    private readonly clock: Clock,
    private readonly refreshTtlSeconds: number,
  ) {}

  private userClaims(userId: string, sessionId: string | null): { roles: string[]; tenant: string | null } {
    const s = sessionId ? this.read.sessions.byId.get(sessionId) : undefined;
    const u = this.read.users.get(userId);
    return { roles: s?.roles ?? u?.roles ?? [], tenant: s?.tenant ?? u?.tenant ?? null };
  }

  private profileClaims(userId: string, scope: string[]): Record<string, unknown> {
    const u = this.read.users.get(userId);
    const out: Record<string, unknown> = {};
    if (u && scope.includes('email') && u.email) Object.assign(out, { email: u.email });
    if (u && scope.includes('profile') && u.name) out.name = u.name;
    return out;
  }

  private respond(
    client: Client,
    g: { grantId: string; userId: string; sessionId: string | null; scope: string; authTime: number | null; nonce?: string | null },
    refreshToken: string | null,
  ): TokenResponse {
    const scopes = g.scope ? g.scope.split(' ') : [];
    const { roles, tenant } = this.userClaims(g.userId, g.sessionId);
    const at = this.tokens.issueAccessToken({
      sub: g.userId,
      clientId: client.clientId,
      scope: g.scope,
      grantId: g.grantId,
      sessionId: g.sessionId,
      roles,
      tenant,
      authTime: g.authTime,
    });
    const res: TokenResponse = {
      access_token: at.token,
      token_type: 'Bearer',
      expires_in: at.exp - Math.floor(this.clock.now().getTime() / 1000),
      scope: g.scope,
    };
    if (refreshToken) res.refresh_token = refreshToken;
    if (scopes.includes('openid')) {
      res.id_token = this.tokens.issueIdToken({
        sub: g.userId,
        clientId: client.clientId,
        nonce: g.nonce,
        authTime: g.authTime,
        sessionId: g.sessionId,
        accessToken: at.token,
        claims: this.profileClaims(g.userId, scopes),
      });
    }
    return res;
  }

  /** RFC 6749 §4.1.3, RFC 7636 §4.6, RFC 9700 §2.1.1 and §4.5. */
  async redeemCode(client: Client, body: Record<string, string | undefined>): Promise<TokenResponse> {
    if (!body.code) throw new OAuthError('invalid_request', 'code is required');
    const c = this.codes.open(body.code);
    if (!c) throw new OAuthError('invalid_grant', 'authorization code is invalid');
    if (c.clientId !== client.clientId) throw new OAuthError('invalid_grant', 'authorization code was issued to another client');
    if (c.exp <= Math.floor(this.clock.now().getTime() / 1000)) throw new OAuthError('invalid_grant', 'authorization code has expired');
    if ((c.redirectUriGiven || body.redirect_uri !== undefined) && body.redirect_uri !== c.redirectUri)
      throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request');
    if (c.codeChallenge) {
      if (!body.code_verifier) throw new OAuthError('invalid_grant', 'code_verifier is required (PKCE)');
      if (!PKCE_VERIFIER.test(body.code_verifier)) throw new OAuthError('invalid_grant', 'code_verifier is malformed');
      const a = Buffer.from(hash(body.code_verifier));
      const b = Buffer.from(c.codeChallenge);
      if (a.length !== b.length || !timingSafeEqual(a, b))
        throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge');
    } else if (body.code_verifier !== undefined) {
      // RFC 9700 §2.1.1: a verifier for a code issued without a challenge is a PKCE downgrade attempt.
      throw new OAuthError('invalid_grant', 'code_verifier sent for a code issued without code_challenge');
    }
    if (!this.read.users.isActive(c.userId)) throw new OAuthError('invalid_grant', 'the user may no longer sign in');
    if (!this.read.sessions.byId.has(c.sessionId)) throw new OAuthError('invalid_grant', 'the login session has ended');
    // The session's own stream, not the read model: its login position, and an end on any node.
    const session = await this.store.readStream(sessionStream(c.sessionId));
    const login = session.find((e) => e.type === 'LoginSucceeded');
    if (!login || session.some((e) => e.type === 'SessionEnded')) throw new OAuthError('invalid_grant', 'the login session has ended');

    const grantId = c.jti;
    const refresh = client.grantTypes.includes('refresh_token') ? `${grantId}.${randomBytes(32).toString('base64url')}` : null;
    const expiresAt = new Date(this.clock.now().getTime() + this.refreshTtlSeconds * 1000).toISOString();
    const grant = {
      grantId,
      clientId: client.clientId,
      userId: c.userId,
      sessionId: c.sessionId,
      scope: c.scope,
      refreshTokenHash: refresh ? hash(refresh) : null,
      expiresAt,
      authTime: c.authTime,
      loginPosition: login.position,
    };
    try {
      await this.commands.handle(grantDecider, grantStream(grantId), { type: 'issue', grant }, { actor: `client:${client.clientId}` });
    } catch (err) {
      if (!(err instanceof GrantRefused)) throw err;
      // RFC 6749 §4.1.2 / RFC 9700 §4.5: a replayed code revokes what its first redemption issued.
      await this.revoke(grantId, 'code_replayed', `client:${client.clientId}`);
      throw new OAuthError('invalid_grant', 'authorization code was already used');
    }
    // Checked after the grant is recorded: a revocation that raced the append still voids it (its
    // position is past the login's), and no token leaves for it.
    if (await this.users.revokedSince(c.userId, login.position))
      throw new OAuthError('invalid_grant', "the user's sessions and grants were revoked");
    return this.respond(
      client,
      { grantId, userId: c.userId, sessionId: c.sessionId, scope: c.scope, authTime: c.authTime, nonce: c.nonce },
      refresh,
    );
  }

  /** RFC 6749 §6 with rotation (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2): a reused token revokes the grant. */
  async refresh(client: Client, body: Record<string, string | undefined>): Promise<TokenResponse> {
    const token = body.refresh_token;
    if (!token) throw new OAuthError('invalid_request', 'refresh_token is required');
    const dot = token.indexOf('.');
    if (dot < 1 || token.length > 512) throw new OAuthError('invalid_grant', 'refresh token is invalid');
    const grantId = token.slice(0, dot);
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(grantId)) throw new OAuthError('invalid_grant', 'refresh token is invalid');
    const g = await load(this.store, grantId);
    const h = hash(token);
    if (!g.exists || g.clientId !== client.clientId) throw new OAuthError('invalid_grant', 'refresh token is invalid');
    if (g.revoked) throw new OAuthError('invalid_grant', 'refresh token has been revoked');
    if (g.previousHashes.has(h)) {
      await this.revoke(grantId, 'refresh_token_reused', `client:${client.clientId}`);
      throw new OAuthError('invalid_grant', 'refresh token was already used; the grant is revoked');
    }
    if (!g.currentHash || !safeEqual(g.currentHash, h)) throw new OAuthError('invalid_grant', 'refresh token is invalid');
    if (g.expiresAt <= this.clock.now().getTime()) throw new OAuthError('invalid_grant', 'refresh token has expired');
    if (!this.read.users.isActive(g.userId)) throw new OAuthError('invalid_grant', 'the user may no longer sign in');
    // Log out everywhere, a ban or a disable after the grant's login voids it for good (an unban
    // or enable does not bring it back). Read from the user's stream: no lagging view can mint.
    if (await this.users.revokedSince(g.userId, g.loginPosition))
      throw new OAuthError('invalid_grant', "the user's sessions and grants were revoked");
    const granted = g.scope ? g.scope.split(' ') : [];
    // Without offline_access the grant lives with the broker session (OIDC Core §11).
    if (!granted.includes('offline_access') && g.sessionId && !this.read.sessions.byId.has(g.sessionId)) {
      throw new OAuthError('invalid_grant', 'the login session has ended');
    }
    let scope = g.scope;
    if (body.scope !== undefined) {
      const asked = body.scope.split(' ').filter(Boolean);
      if (!asked.every((s) => granted.includes(s))) throw new OAuthError('invalid_scope', 'scope exceeds the original grant');
      scope = asked.join(' ');
    }
    const next = `${grantId}.${randomBytes(32).toString('base64url')}`;
    try {
      // Decided again on the stream as appended: of two uses of one token that raced, the second
      // finds it rotated out (a replay) and the grant is revoked.
      await this.commands.handle(
        grantDecider,
        grantStream(grantId),
        { type: 'rotate', grantId, presentedHash: h, newHash: hash(next) },
        { actor: `client:${client.clientId}` },
      );
    } catch (err) {
      if (!(err instanceof GrantRefused)) throw err;
      if (err.reason === 'refresh_token_reused') {
        await this.revoke(grantId, 'refresh_token_reused', `client:${client.clientId}`);
        throw new OAuthError('invalid_grant', 'refresh token was already used; the grant is revoked');
      }
      throw new OAuthError('invalid_grant', err.reason === 'revoked' ? 'refresh token has been revoked' : 'refresh token is invalid');
    }
    return this.respond(client, { grantId, userId: g.userId, sessionId: g.sessionId, scope, authTime: g.authTime }, next);
  }

  /** RFC 6749 §4.4: no user, no refresh token (§4.4.3). */
  clientCredentials(client: Client, body: Record<string, string | undefined>): TokenResponse {
    if (client.isPublic) throw new OAuthError('unauthorized_client', 'public clients cannot use client_credentials');
    const allowed = client.scopes.filter((s) => s !== 'openid' && s !== 'offline_access' && s !== 'profile' && s !== 'email');
    const asked = body.scope !== undefined ? body.scope.split(' ').filter(Boolean) : allowed;
    if (!asked.every((s) => allowed.includes(s))) throw new OAuthError('invalid_scope', 'scope is not allowed for this client');
    const scope = asked.join(' ');
    const at = this.tokens.issueAccessToken({ sub: client.clientId, clientId: client.clientId, scope });
    return { access_token: at.token, token_type: 'Bearer', expires_in: at.exp - Math.floor(this.clock.now().getTime() / 1000), scope };
  }

  async revoke(grantId: string, reason: string, actor: string): Promise<void> {
    const res = await this.commands.handle(grantDecider, grantStream(grantId), { type: 'revoke', grantId, reason }, { actor });
    await this.projections.waitFor(res.position);
  }

  /** The grant a refresh token belongs to, if it is the current token of a live grant of `clientId` (introspection, revocation). */
  async findByRefreshToken(token: string): Promise<{ grantId: string; state: LoadedGrant } | null> {
    const dot = token.indexOf('.');
    if (dot < 1 || token.length > 512) return null;
    const grantId = token.slice(0, dot);
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(grantId)) return null;
    const g = await load(this.store, grantId);
    if (!g.exists || !g.currentHash || !safeEqual(g.currentHash, hash(token))) return null;
    if (!g.revoked && (await this.users.revokedSince(g.userId, g.loginPosition))) g.revoked = true;
    return { grantId, state: g };
  }
}
