import type { FastifyReply, FastifyRequest } from 'fastify';
import httpProxy from '@fastify/http-proxy';
import { type Plugin, html, sendProblem, wantsHtml } from '../../plugin/index.js';
import { TOKENS } from '../../adapters/kernel/tokens.js';
import { gatewayConfigSchema, type GatewayConfig, type GatewayRoute } from './config.js';
import { identityFromSession, type GatewayIdentity } from './identity.js';
import { mayEnter, pickUpstream } from './access.js';
import { BearerAuthenticator, BearerRejected, type RevocationCheck, type TokenVerifier } from './bearer.js';
import { allowList, allowListProblem, identityHeaderNames, upstreamHeaders } from './headers.js';
import { TtlCache } from './ttl-cache.js';

interface Signer {
  sign(payload: Record<string, unknown>, opts: { typ: string }): Promise<string>;
}

declare module 'fastify' {
  interface FastifyRequest {
    gatewayIdentity?: GatewayIdentity;
    gatewayJwt?: string;
  }
}

/** A same-origin path to come back to after login (never `//host` or a scheme: open-redirect defence). */
const safePath = (p: string | undefined): string => (p && p.startsWith('/') && !p.startsWith('//') && !p.startsWith('/\\') ? p : '/');

const gateway: Plugin<GatewayConfig> = {
  name: 'gateway',
  configSchema: gatewayConfigSchema,
  // Verifies the broker's access tokens and signs the internal JWTs it forwards.
  privileges: ['signing'],
  async register(ctx) {
    const cfg = ctx.config;
    const app = ctx.web.app;
    const strip = identityHeaderNames(cfg);
    const optional: typeof ctx.services.optional = (token) => ctx.services.optional(token);
    // What other parts bind (the signing keys, and the OAuth server's issuer and revocation check)
    // is looked up once, on the first bearer request: every plugin has registered by then.
    let bound: { issuer: string; verifier: TokenVerifier | null; revoked: RevocationCheck | null } | undefined;
    const lookUp = () =>
      (bound ??= {
        issuer: optional<string>(TOKENS.AccessTokenIssuer) ?? ctx.baseUrl,
        verifier: optional<TokenVerifier>(TOKENS.SigningKeys),
        revoked: optional<RevocationCheck>(TOKENS.AccessTokenRevoked),
      });
    const bearer = new BearerAuthenticator({
      read: ctx.read,
      login: ctx.login,
      issuer: () => lookUp().issuer,
      verifier: () => lookUp().verifier,
      revoked: () => lookUp().revoked,
      upstream: cfg.upstreamIdp,
      now: () => ctx.clock.now().getTime(),
    });
    // Internal JWTs are re-used for half their life per (session, app): the session/ban check
    // still runs on every request, the signature does not need to.
    const jwtCache = new TtlCache<string>(50_000);

    ctx.add.downstreamProtocol({
      name: 'gateway',
      async resume(request) {
        return { kind: 'redirect', location: safePath(request.params.return_to) };
      },
    });

    const refuse = (
      req: FastifyRequest,
      reply: FastifyReply,
      status: number,
      code: string,
      title: string,
      detail: string,
      bearerError?: string,
    ) => {
      // RFC 6750 §3: a challenge on every 401, bare when no token was sent (§3.1); a 400 or 403
      // answering a bearer token carries its error code too (invalid_request, insufficient_scope).
      if (status === 401 || bearerError)
        reply.header(
          'www-authenticate',
          bearerError
            ? `Bearer realm="broker", error="${bearerError}", error_description="${detail.replace(/"/g, "'")}"`
            : 'Bearer realm="broker"',
        );
      if (wantsHtml(req)) return ctx.web.errorPage(reply, status, title, detail);
      return sendProblem(reply, status, code, title, detail);
    };

    const mint = async (who: GatewayIdentity, route: GatewayRoute): Promise<string | undefined> => {
      const signer = optional<Signer>(TOKENS.SigningKeys);
      if (!signer) return undefined;
      const now = ctx.clock.now().getTime();
      const key = `${who.sessionId ?? who.userId}|${route.id}|${who.roles.join(',')}|${who.tenant ?? ''}`;
      const cached = jwtCache.get(key, now);
      if (cached) return cached;
      const iat = Math.floor(now / 1000);
      const jwt = await signer.sign(
        {
          iss: ctx.baseUrl,
          aud: route.id,
          sub: who.userId,
          email: who.email,
          roles: who.roles,
          tenant: who.tenant,
          admin: who.admin,
          iat,
          exp: iat + cfg.internalJwt.ttlSeconds,
          jti: ctx.ids.uuid(),
        },
        { typ: 'JWT' },
      );
      jwtCache.set(key, jwt, (cfg.internalJwt.ttlSeconds * 1000) / 2, now);
      return jwt;
    };

    const authenticate = (route: GatewayRoute) => async (req: FastifyRequest, reply: FastifyReply) => {
      const mode = route.auth ?? 'both';
      const authz = req.headers.authorization;
      let who: GatewayIdentity | null = null;
      let viaBearer = false;
      // Only a Bearer credential is the broker's business; an app's own Basic auth passes by
      // (it is dropped before forwarding, the app gets the internal JWT instead).
      const isBearer = !!authz && /^bearer /i.test(authz);
      if (isBearer && mode !== 'session') {
        const m = /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(authz!);
        if (!m) return refuse(req, reply, 400, 'invalid_request', 'Bad request', 'malformed Authorization header', 'invalid_request');
        try {
          who = await bearer.authenticate(m[1], route.id);
          viaBearer = true;
        } catch (err) {
          const e = err instanceof BearerRejected ? err : new BearerRejected('invalid_token', 'the token could not be checked');
          const status = e.error === 'invalid_request' ? 400 : e.error === 'insufficient_scope' ? 403 : 401; // RFC 6750 §3.1
          return refuse(req, reply, status, e.error, status === 400 ? 'Bad request' : 'Not authenticated', e.description, e.error);
        }
      } else if (mode !== 'bearer') {
        const s = ctx.web.session(req);
        if (s) who = identityFromSession(ctx.read, s);
        if (!who) {
          if (mode === 'session' || wantsHtml(req)) {
            await ctx.web.beginLogin(req, reply, { protocol: 'gateway', params: { return_to: safePath(req.url), app: route.id } });
            return reply;
          }
          return refuse(req, reply, 401, 'unauthenticated', 'Not authenticated', 'log in or send a bearer token');
        }
      } else {
        return refuse(req, reply, 401, 'unauthenticated', 'Not authenticated', 'a bearer token is required');
      }
      if (!mayEnter(route.access, who))
        return refuse(
          req,
          reply,
          403,
          'forbidden',
          'Forbidden',
          `You may not open ${route.name ?? route.id}.`,
          viaBearer ? 'insufficient_scope' : undefined,
        );
      req.gatewayIdentity = who;
      req.gatewayJwt = await mint(who, route);
    };

    // Request bodies go to the app as they came. The broker parses urlencoded forms at its root (for
    // its own pages), and reply-from cannot forward the parsed object (TypeError: a 500 on every
    // form POST): without the parser here, http-proxy's catch-all passes the raw stream through.
    app.removeContentTypeParser('application/x-www-form-urlencoded');

    for (const route of cfg.routes) {
      const problem = allowListProblem(route, strip);
      if (problem) throw new Error(problem);
      const allow = allowList(route);
      await app.register(httpProxy, {
        // No fixed base: with undici, reply-from sends every request to a fixed base and ignores
        // getUpstream, which picks the per-user alternate (seed 002). The path prefix the fixed
        // base used to imply is given explicitly.
        upstream: '',
        prefix: route.pathPrefix,
        rewritePrefix: route.rewritePrefix || new URL(route.upstream).pathname,
        websocket: route.websocket ?? false,
        // The Host header carries a port when it is not the scheme's default: match the name with any port.
        constraints: route.host ? { host: new RegExp(`^${route.host.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(:\\d+)?$`, 'i') } : undefined,
        preHandler: authenticate(route),
        // `/apps/echo?x=1` maps to an empty path plus the query, and reply-from reads an empty
        // path as "the request's own URL": the app got `/apps/echo?x=1`. The empty path is `/`.
        handler: (_req: FastifyRequest, reply: FastifyReply, dest: string, options: object) => reply.from(dest || '/', options),
        // The app's responses are the app's: the broker's own CSP and security headers (made for
        // its login pages) would break the app's pages. Helmet skips these routes.
        config: { helmet: { skipRoute: true } },
        // undici (reply-from's default client), not node:http: measured ~3x the proxied requests/s
        // here. The timeout bounds the wait for the app's response head and each pause in its body.
        undici: { headersTimeout: route.timeoutMs ?? 30_000, bodyTimeout: route.timeoutMs ?? 30_000 },
        replyOptions: {
          getUpstream: (req: unknown) => pickUpstream(route, (req as FastifyRequest).gatewayIdentity),
          rewriteRequestHeaders: (req: unknown, headers: import('node:http').IncomingHttpHeaders) =>
            upstreamHeaders(
              req as FastifyRequest,
              headers,
              cfg,
              strip,
              allow,
              (req as FastifyRequest).gatewayIdentity,
              (req as FastifyRequest).gatewayJwt,
            ),
          onError: (reply: FastifyReply, { error }: { error: unknown }) => {
            const req = reply.request;
            req.log.warn({ err: error, app: route.id }, 'upstream failed');
            const timeout = /timeout/i.test(String((error as Error)?.message ?? error));
            // The proxy had started reading the request body and stopped when the app failed: the
            // rest sits unread in the client's connection, and the next request on it would never
            // be answered. Close that connection after this answer (RFC 9112 §9.6) rather than read on.
            if (!req.raw.complete) reply.header('connection', 'close');
            void refuse(
              req,
              reply as FastifyReply,
              timeout ? 504 : 502,
              'bad_gateway',
              timeout ? 'Gateway timeout' : 'Bad gateway',
              `${route.name ?? route.id} is not answering.`,
            );
          },
        },
        wsClientOptions: {
          rewriteRequestHeaders: (headers: Record<string, unknown>, req: FastifyRequest) =>
            upstreamHeaders(
              req,
              { ...(req.headers ?? {}), ...(headers as object) },
              cfg,
              strip,
              allow,
              req.gatewayIdentity,
              req.gatewayJwt,
            ) as Record<string, string>,
        },
      } as never);
    }

    // Seed 000's apps list: the apps this user may open; admins also see the admin panel.
    app.get(cfg.portalPath, async (req, reply) => {
      const s = ctx.web.session(req);
      const who = s ? identityFromSession(ctx.read, s) : null;
      if (!who) return ctx.web.beginLogin(req, reply, { protocol: 'gateway', params: { return_to: cfg.portalPath } });
      const apps = cfg.routes.filter((r) => r.listed !== false && mayEnter(r.access, who));
      if (!wantsHtml(req)) return { apps: apps.map((a) => ({ id: a.id, name: a.name ?? a.id, url: a.pathPrefix })), admin: who.admin };
      return ctx.web.page(
        reply,
        'Your apps',
        html`<h1>Your apps</h1><ul>${apps.map((a) => html`<li><a href="${a.pathPrefix.endsWith('/') ? a.pathPrefix : a.pathPrefix + '/'}">${a.name ?? a.id}</a></li>`)}</ul>
        ${who.admin ? html`<p><a href="/admin">Admin panel</a></p>` : ''}`,
      );
    });
  },
};

export default gateway;
