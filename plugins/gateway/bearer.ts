import { createHash } from 'node:crypto';
import { request } from 'undici';
import type { PluginLogin, ReadModels } from '../../plugin/index.js';
import type { UpstreamIdpConfig } from './config.js';
import { identityFromUser, type GatewayIdentity } from './identity.js';
import { TtlCache } from './ttl-cache.js';

/** The slice of the broker's signing keys the gateway needs (adapters/crypto/signing-keys.ts). */
export interface TokenVerifier {
  verify(jws: string, opts: { typ?: string; issuer?: string; audience?: string }): Promise<Record<string, unknown>>;
}

/** Optional revocation check bound by the OAuth server (revoked grants / tokens). */
export type RevocationCheck = (claims: Record<string, unknown>) => boolean;

export class BearerRejected extends Error {
  constructor(
    readonly error: 'invalid_token' | 'insufficient_scope' | 'invalid_request',
    readonly description: string,
  ) {
    super(description);
  }
}

/** A JWS has three base64url parts; anything else is opaque (checked at the upstream IdP). */
const looksLikeJws = (t: string): boolean => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(t);

export interface BearerDeps {
  read: ReadModels;
  login: PluginLogin;
  /** The `iss` of the broker's access tokens (the OAuth server's issuer, which may differ from the base URL). */
  issuer: () => string;
  verifier: () => TokenVerifier | null;
  revoked: () => RevocationCheck | null;
  upstream?: UpstreamIdpConfig;
  now: () => number;
}

/**
 * Bearer tokens at the gateway (seed 002): the broker's own access tokens are verified locally
 * with the same revocation checks as check-token; other tokens go to the configured upstream IdP's
 * userinfo endpoint, with a bounded positive and negative cache. Whatever the cache says, the
 * user's ban/disable state is read on every request, so no cache outlives a ban.
 */
export class BearerAuthenticator {
  private readonly positive: TtlCache<{ userId: string }>;
  private readonly negative: TtlCache<string>;
  /** Verified broker tokens (signature + expiry only): PERFORMANCE-NOTES' bounded cache. The
   *  revocation state (session, grant, ban) is still checked on every request. */
  private readonly verified = new TtlCache<Record<string, unknown>>(20_000);

  constructor(private readonly deps: BearerDeps) {
    const max = deps.upstream?.cache?.maxEntries ?? 10_000;
    this.positive = new TtlCache(max);
    this.negative = new TtlCache(max);
  }

  async authenticate(token: string, audience: string): Promise<GatewayIdentity> {
    if (token.length > 8192) throw new BearerRejected('invalid_request', 'token too large');
    const verifier = this.deps.verifier();
    if (looksLikeJws(token) && verifier) {
      const now = this.deps.now();
      let claims: Record<string, unknown> | null = this.verified.get(token, now) ?? null;
      if (!claims) {
        try {
          claims = await verifier.verify(token, { typ: 'at+jwt', issuer: this.deps.issuer() });
          const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : now;
          this.verified.set(token, claims, Math.min(exp - now, 60_000), now);
        } catch {
          claims = null;
        }
      }
      if (claims) return this.fromBrokerClaims(claims, audience);
      if (!this.deps.upstream) throw new BearerRejected('invalid_token', 'the token is invalid or expired');
    }
    if (!this.deps.upstream) throw new BearerRejected('invalid_token', 'the token is not a broker token');
    return this.fromUpstream(token);
  }

  private fromBrokerClaims(claims: Record<string, unknown>, audience: string): GatewayIdentity {
    // RFC 9068 §4: the resource checks the audience. A token for another app is refused.
    const aud = claims.aud;
    const auds = Array.isArray(aud) ? aud : [aud];
    if (!auds.includes(audience)) throw new BearerRejected('invalid_token', 'the token was not issued for this app');
    const sub = typeof claims.sub === 'string' ? claims.sub : null;
    if (!sub) throw new BearerRejected('invalid_token', 'the token has no subject');
    const sid = typeof claims.sid === 'string' ? claims.sid : null;
    if (sid && !this.deps.read.sessions.byId.has(sid)) throw new BearerRejected('invalid_token', 'the session behind the token has ended');
    if (this.deps.revoked()?.(claims)) throw new BearerRejected('invalid_token', 'the token was revoked');
    const who = identityFromUser(this.deps.read, sub, 'broker-token', {
      roles: Array.isArray(claims.roles) ? (claims.roles as string[]) : undefined,
      tenant: typeof claims.tenant === 'string' ? claims.tenant : undefined,
      sessionId: sid,
    });
    if (!who) throw new BearerRejected('invalid_token', 'the account is not active');
    return who;
  }

  private async fromUpstream(token: string): Promise<GatewayIdentity> {
    const up = this.deps.upstream!;
    const key = createHash('sha256').update(token).digest('base64url');
    const now = this.deps.now();
    if (this.negative.get(key, now)) throw new BearerRejected('invalid_token', 'the token was refused by the identity provider');
    let hit = this.positive.get(key, now);
    if (!hit) {
      const res = await request(up.userinfoUrl, {
        method: 'GET',
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
        headersTimeout: up.timeoutMs ?? 3000,
        bodyTimeout: up.timeoutMs ?? 3000,
      }).catch(() => null);
      if (!res) throw new BearerRejected('invalid_token', 'the identity provider could not be reached');
      if (res.statusCode !== 200) {
        await res.body.dump();
        if (res.statusCode === 401 || res.statusCode === 403)
          this.negative.set(key, 'refused', (up.cache?.negativeTtlSeconds ?? 10) * 1000, now);
        throw new BearerRejected('invalid_token', 'the token was refused by the identity provider');
      }
      const info = (await res.body.json().catch(() => null)) as Record<string, unknown> | null;
      const sub = info && typeof info.sub === 'string' ? info.sub : null;
      if (!sub) throw new BearerRejected('invalid_token', 'the identity provider returned no subject');
      // sub@iss → broker user through the normal linking and provisioning path (seed 002).
      const userId = await this.deps.login
        .resolveUser(
          {
            issuer: up.issuer,
            subject: sub,
            email: typeof info!.email === 'string' ? info!.email : null,
            emailVerified: info!.email_verified === true,
            name: typeof info!.name === 'string' ? info!.name : null,
            groups: Array.isArray(info!.groups) ? (info!.groups as string[]) : undefined,
            attributes: info!,
            amr: ['fed'],
          },
          { idp: up.idp },
        )
        .catch(() => null);
      if (!userId) {
        this.negative.set(key, 'not_provisioned', (up.cache?.negativeTtlSeconds ?? 10) * 1000, now);
        throw new BearerRejected('invalid_token', 'no account may be used with this token');
      }
      hit = { userId };
      this.positive.set(key, hit, (up.cache?.ttlSeconds ?? 60) * 1000, now);
    }
    const who = identityFromUser(this.deps.read, hit.userId, 'upstream-token');
    if (!who) throw new BearerRejected('invalid_token', 'the account is not active');
    return who;
  }
}
