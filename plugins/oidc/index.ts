import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { AnonymousRefusals, type AuthenticatedIdentity, type IdentityProvider, type Plugin } from '../../plugin/index.js';
import { oidcConfigSchema, type OidcIdpConfig, type OidcPluginConfig } from './config.js';
import { AttemptCodec } from './attempt.js';
import { OidcRejected, fromOpenidClient } from './errors.js';

const sameString = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** Discovery once per IdP, lazily and retried on failure: a slow IdP does not stop the broker starting. */
function discoverer(cfg: OidcIdpConfig): () => Promise<client.Configuration> {
  let pending: Promise<client.Configuration> | null = null;
  return () => {
    pending ??= client
      .discovery(
        new URL(cfg.issuer),
        cfg.clientId,
        cfg.clientSecret ? undefined : { token_endpoint_auth_method: 'none' },
        cfg.clientSecret ? client.ClientSecretPost(cfg.clientSecret) : client.None(),
        {
          execute: cfg.allowInsecureIssuer ? [client.allowInsecureRequests] : [],
          timeout: 10,
        },
      )
      .catch((err) => {
        pending = null;
        throw err;
      });
    return pending;
  };
}

/** Refused callbacks recorded as `LoginFailed` per node and second (the SAML plugin's default). */
export const REFUSAL_EVENTS_PER_SECOND = 50;

const str = (v: unknown): string | null => (typeof v === 'string' && v ? v : typeof v === 'number' ? String(v) : null);

export function toIdentity(cfg: OidcIdpConfig, issuer: string, claims: Record<string, unknown>): AuthenticatedIdentity {
  const c = cfg.claims;
  const subject = str(claims[c.subject]);
  if (!subject) throw new OidcRejected('oidc_no_subject', 'The identity provider did not say who you are.');
  const groups = c.groups ? claims[c.groups] : undefined;
  return {
    issuer,
    subject,
    email: str(claims[c.email]),
    // OIDC Core §5.1: only an explicit boolean true counts as verified (linkByEmail relies on it).
    emailVerified: claims[c.emailVerified] === true,
    name: str(claims[c.name]),
    tenant: c.tenant ? str(claims[c.tenant]) : null,
    groups: Array.isArray(groups) ? groups.filter((g): g is string => typeof g === 'string') : typeof groups === 'string' ? [groups] : [],
    attributes: claims,
    amr: ['fed'],
  };
}

const plugin: Plugin<OidcPluginConfig> = {
  name: 'oidc',
  configSchema: oidcConfigSchema,
  register(ctx) {
    const keys = ctx.keys;
    const codec = new AttemptCodec(keys.derive('oidc-rp'), ctx.config.attemptTtlSeconds);
    const secure = ctx.web.cookieName.startsWith('__Host-');
    const idps = new Map<
      string,
      {
        cfg: OidcIdpConfig;
        id: string;
        discover: () => Promise<client.Configuration>;
        redirectUri: string;
        jwks?: ReturnType<typeof createRemoteJWKSet>;
      }
    >();
    for (const cfg of ctx.config.idps) {
      const id = `oidc-${cfg.name}`;
      idps.set(cfg.name, { cfg, id, discover: discoverer(cfg), redirectUri: `${ctx.baseUrl}/oidc/${cfg.name}/callback` });
      const provider: IdentityProvider = {
        id,
        displayName: cfg.displayName ?? cfg.name,
        protocol: 'oidc',
        interactive: true,
        provisioning: cfg.provisioning,
        loginPath: (lr) => `/oidc/${cfg.name}/login?lr=${encodeURIComponent(lr)}`,
      };
      ctx.add.identityProvider(provider);
    }
    const cookieOf = (name: string): string => `oidc_rp_${name}`;
    const cookieOpts = (name: string) => ({ path: `/oidc/${name}/callback`, httpOnly: true, secure, sameSite: 'lax' as const });
    const app = ctx.web.app;
    const nameParam = { type: 'object', properties: { name: { type: 'string', maxLength: 41 } }, required: ['name'] };

    // Anyone can call the callback without credentials (no cookie, a forged state): refusals are
    // recorded as LoginFailed up to a per-node cap per second, as for SAML refusals.
    const refusals = new AnonymousRefusals(ctx.login, ctx.logger, ctx.clock, REFUSAL_EVENTS_PER_SECOND, 'OIDC refusals');
    const refuse = async (
      req: FastifyRequest,
      reply: FastifyReply,
      issuer: string,
      idpId: string | undefined,
      err: OidcRejected,
    ): Promise<FastifyReply> => {
      await refusals.record({ issuer, reason: err.reason }, { ip: req.ip, idp: idpId });
      return ctx.web.errorPage(reply, err.code === 'unauthenticated' ? 401 : 400, 'Login refused', err.message);
    };

    // Discovery failed (IdP down or misconfigured): say so plainly, never a 500.
    const unavailable = (reply: FastifyReply, cfg: OidcIdpConfig): FastifyReply => {
      ctx.logger.warn({ issuer: cfg.issuer }, 'OIDC discovery failed');
      return ctx.web.errorPage(
        reply,
        503,
        'Identity provider unavailable',
        `${cfg.displayName ?? cfg.name} cannot be reached right now. Try again later.`,
      );
    };

    app.get<{ Params: { name: string }; Querystring: { lr?: string } }>(
      '/oidc/:name/login',
      { schema: { params: nameParam, querystring: { type: 'object', properties: { lr: { type: 'string', maxLength: 8192 } } } } },
      async (req, reply) => {
        const idp = idps.get(req.params.name);
        if (!idp) return ctx.web.errorPage(reply, 404, 'Not found', 'Unknown identity provider.');
        const lr = req.query.lr || null;
        if (lr) ctx.web.decodeLoginRequest(lr);
        const config = await idp.discover().catch(() => null);
        if (!config) return unavailable(reply, idp.cfg);
        const attempt = {
          idp: idp.id,
          state: client.randomState(),
          nonce: client.randomNonce(),
          verifier: client.randomPKCECodeVerifier(),
          lr,
        };
        const url = client.buildAuthorizationUrl(config, {
          redirect_uri: idp.redirectUri,
          scope: idp.cfg.scopes.join(' '),
          response_type: 'code',
          code_challenge: await client.calculatePKCECodeChallenge(attempt.verifier),
          code_challenge_method: 'S256',
          state: attempt.state,
          nonce: attempt.nonce,
        });
        reply.setCookie(cookieOf(idp.cfg.name), await codec.seal(attempt, ctx.clock.now()), {
          ...cookieOpts(idp.cfg.name),
          maxAge: ctx.config.attemptTtlSeconds,
        });
        return reply.redirect(url.href, 303);
      },
    );

    app.get<{ Params: { name: string }; Querystring: Record<string, string> }>(
      '/oidc/:name/callback',
      { schema: { params: nameParam } },
      async (req, reply) => {
        const idp = idps.get(req.params.name);
        if (!idp) return ctx.web.errorPage(reply, 404, 'Not found', 'Unknown identity provider.');
        // One attempt, one callback: the cookie goes whatever the outcome.
        reply.clearCookie(cookieOf(idp.cfg.name), cookieOpts(idp.cfg.name));
        let identity: AuthenticatedIdentity;
        let lr: string | null;
        try {
          const attempt = await codec.open(ctx.web.cookies(req)[cookieOf(idp.cfg.name)], ctx.clock.now());
          if (attempt.idp !== idp.id) throw new OidcRejected('oidc_no_attempt', 'This login was started with another identity provider.');
          // CSRF defence (OIDC Core §3.1.2.7, RFC 6749 §10.12), compared in constant time.
          if (typeof req.query.state !== 'string' || !sameString(req.query.state, attempt.state))
            throw new OidcRejected('oidc_state_mismatch', 'This login does not match the one started here.');
          lr = attempt.lr;
          const config = await idp.discover().catch(() => null);
          if (!config) return unavailable(reply, idp.cfg);
          const current = new URL(req.url, ctx.baseUrl);
          let tokens;
          try {
            // Checks the RFC 9207 `iss` parameter (mix-up defence), exchanges the code with the PKCE
            // verifier, and validates the ID token: signature (issuer JWKS), iss, aud, exp/iat, nonce.
            tokens = await client.authorizationCodeGrant(config, current, {
              pkceCodeVerifier: attempt.verifier,
              expectedState: attempt.state,
              expectedNonce: attempt.nonce,
              idTokenExpected: true,
            });
          } catch (err) {
            throw fromOpenidClient(err);
          }
          // openid-client (like OIDC Core §3.1.3.7 step 6 permits) trusts TLS for an ID token from the
          // token endpoint and skips its signature. The broker verifies it anyway against the
          // issuer's JWKS: a compromised or mis-routed token endpoint cannot mint identities.
          const meta = config.serverMetadata();
          if (!tokens.id_token || !meta.jwks_uri)
            throw new OidcRejected('oidc_bad_signature', 'The identity token is not signed by the identity provider.', 'bad_signature');
          idp.jwks ??= createRemoteJWKSet(new URL(meta.jwks_uri), { timeoutDuration: 5000 });
          try {
            await jwtVerify(tokens.id_token, idp.jwks, {
              issuer: meta.issuer,
              audience: idp.cfg.clientId,
              currentDate: ctx.clock.now(),
              clockTolerance: 60,
            });
          } catch {
            throw new OidcRejected('oidc_bad_signature', 'The identity token is not signed by the identity provider.', 'bad_signature');
          }
          let claims: Record<string, unknown> = { ...(tokens.claims() ?? {}) };
          if (idp.cfg.userinfo) {
            try {
              const info = await client.fetchUserInfo(config, tokens.access_token, String(claims.sub));
              // The ID token's sub stays authoritative (fetchUserInfo already refused a different sub, OIDC Core §5.3.4).
              claims = { ...info, ...claims };
            } catch (err) {
              throw fromOpenidClient(err);
            }
          }
          identity = toIdentity(idp.cfg, config.serverMetadata().issuer, claims);
        } catch (err) {
          if (err instanceof OidcRejected) return refuse(req, reply, idp.cfg.issuer, idp.id, err);
          throw err;
        }
        return ctx.web.finishLogin(req, reply, identity, lr ?? undefined, idp.id);
      },
    );
  },
};

export default plugin;
