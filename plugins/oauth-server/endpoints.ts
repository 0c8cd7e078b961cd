import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock, EventStore, ProjectionEngine, ReadModels, WebKit } from '../../plugin/index.js';
import type { SigningKeys } from '../../adapters/crypto/signing-keys.js';
import type { ClientRegistry } from './clients.js';
import { OAuthError, sendBearerChallenge, sendOAuthError } from './errors.js';
import type { GrantService } from './grants.js';
import type { TokenService } from './tokens.js';
import { singleParams } from './params.js';

export interface EndpointDeps {
  web: WebKit;
  clients: ClientRegistry;
  grants: GrantService;
  tokens: TokenService;
  keys: SigningKeys;
  store: EventStore;
  projections: ProjectionEngine;
  read: ReadModels;
  clock: Clock;
}

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache', 'x-content-type-options': 'nosniff' };
/**
 * JSON-only API routes skip @fastify/helmet, which rebuilds its whole header set on every request
 * (CSP and friends protect HTML, not JSON); they send no-store and nosniff themselves.
 */
export const API_ROUTE = { helmet: false } as const;

/** Token (RFC 6749 §3.2), introspection (RFC 7662) and check-token, revocation (RFC 7009), userinfo (OIDC Core §5.3). */
export function registerEndpoints(d: EndpointDeps): void {
  const { web } = d;
  const wrap =
    (fn: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>) =>
    async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
      try {
        return await fn(req, reply);
      } catch (err) {
        if (err instanceof OAuthError) return sendOAuthError(reply, err);
        throw err;
      }
    };

  web.app.post(
    '/oauth/token',
    API_ROUTE,
    wrap(async (req, reply) => {
      const body = singleParams(req.body);
      const client = await d.clients.authenticate(req, body, true);
      const grant = body.grant_type;
      if (!grant) throw new OAuthError('invalid_request', 'grant_type is required');
      if (grant !== 'authorization_code' && grant !== 'refresh_token' && grant !== 'client_credentials')
        throw new OAuthError('unsupported_grant_type', 'grant_type is not supported');
      if (!client.grantTypes.includes(grant)) throw new OAuthError('unauthorized_client', `this client may not use ${grant}`);
      const out =
        grant === 'authorization_code'
          ? await d.grants.redeemCode(client, body)
          : grant === 'refresh_token'
            ? await d.grants.refresh(client, body)
            : d.grants.clientCredentials(client, body);
      return reply.headers(NO_STORE).send(out);
    }),
  );

  const introspect = wrap(async (req, reply) => {
    const body = singleParams(req.body);
    // RFC 7662 §2.1: the caller must authenticate; public clients cannot.
    await d.clients.authenticate(req, body, false);
    const token = body.token;
    if (!token) throw new OAuthError('invalid_request', 'token is required');
    reply.headers(NO_STORE);
    if (body.token_type_hint === 'refresh_token' || (token.split('.').length === 2 && token.length < 200)) {
      const rt = await d.grants.findByRefreshToken(token);
      const g = rt?.state;
      if (!rt || !g || g.revoked || g.expiresAt <= d.clock.now().getTime() || !d.read.users.isActive(g.userId))
        return reply.send({ active: false });
      return reply.send({
        active: true,
        token_type: 'refresh_token',
        sub: g.userId,
        user_id: g.userId,
        client_id: g.clientId,
        scope: g.scope,
        exp: Math.floor(g.expiresAt / 1000),
      });
    }
    const r = d.tokens.check(token);
    // RFC 7662 §2.2: an inactive token gets `active: false` and nothing else.
    return reply.send(r.active ? r.info : { active: false });
  });
  web.app.post('/oauth/introspect', API_ROUTE, introspect);
  // Seed 004's name for the same check (the API-gateway authorizer calls it).
  web.app.post('/oauth/check-token', API_ROUTE, introspect);

  web.app.post(
    '/oauth/revoke',
    API_ROUTE,
    wrap(async (req, reply) => {
      const body = singleParams(req.body);
      const client = await d.clients.authenticate(req, body, true);
      const token = body.token;
      if (!token) throw new OAuthError('invalid_request', 'token is required');
      const rt = token.split('.').length === 2 ? await d.grants.findByRefreshToken(token) : null;
      if (rt) {
        // RFC 7009 §2.1: revoking a refresh token revokes the grant and its access tokens.
        if (rt.state.clientId === client.clientId && !rt.state.revoked)
          await d.grants.revoke(rt.grantId, 'revoked_by_client', `client:${client.clientId}`);
      } else {
        let p: Record<string, unknown> | null = null;
        try {
          p = d.keys.verifySync(token, { typ: 'at+jwt', issuer: d.tokens.issuer });
        } catch {
          p = null; // RFC 7009 §2.2: an invalid or expired token is answered 200 all the same
        }
        if (p && p.client_id === client.clientId && typeof p.jti === 'string') {
          const res = await d.store.append(`oauth-at-${p.jti}`, [
            {
              type: 'AccessTokenRevoked',
              data: { jti: p.jti, clientId: client.clientId, exp: p.exp as number },
              metadata: { actor: `client:${client.clientId}` },
            },
          ]);
          await d.projections.waitFor(res.position);
        }
      }
      return reply.headers(NO_STORE).code(200).send();
    }),
  );

  const userinfo = wrap(async (req, reply) => {
    // RFC 6750 §2.1: the Authorization header only; the form-body and query methods (§2.2, §2.3)
    // are not offered, and a token sent that way is an unsupported parameter (§3.1 invalid_request).
    const given = (o: unknown): boolean => !!o && typeof o === 'object' && 'access_token' in o;
    if (given(req.query) || given(req.body))
      throw new OAuthError('invalid_request', 'send the access token in the Authorization header', 400, 'Bearer');
    const authz = req.headers.authorization;
    // §3.1: no token at all gets the bare challenge, without an error code.
    if (typeof authz !== 'string' || !/^bearer(\s|$)/i.test(authz)) return sendBearerChallenge(reply);
    const m = /^bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(authz); // §2.1 b64token
    if (!m) throw new OAuthError('invalid_request', 'malformed Authorization header', 400, 'Bearer');
    const r = d.tokens.check(m[1]);
    if (!r.active) throw new OAuthError('invalid_token', 'the access token is not active', 401, 'Bearer');
    const scopes = r.info.scope.split(' ');
    // §3.1: a good token without the scope this needs is 403 insufficient_scope (OIDC Core §5.3: openid, for a user).
    if (!r.info.user_id || !scopes.includes('openid'))
      throw new OAuthError('insufficient_scope', 'the token does not grant openid for a user', 403, 'Bearer', 'openid');
    const u = d.read.users.get(r.info.user_id);
    const out: Record<string, unknown> = { sub: r.info.sub, roles: r.info.roles, tenant: r.info.tenant };
    if (u && scopes.includes('email') && u.email) Object.assign(out, { email: u.email });
    if (u && scopes.includes('profile') && u.name) out.name = u.name;
    return reply.headers(NO_STORE).send(out);
  });
  web.app.get('/oauth/userinfo', API_ROUTE, userinfo);
  web.app.post('/oauth/userinfo', API_ROUTE, userinfo);
}
