import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  useOnce,
  type AuthenticatedIdentity,
  type DownstreamProtocol,
  type PluginCtx,
  sendProblem,
  html,
  layout,
} from '../../plugin/index.js';
import type { HandoffPluginConfig, InboundServerConfig } from './config.js';
import type { Rejections } from './rejections.js';
import type { HandoffRouteLimits } from './rate-limit.js';
import { InboundAuthError, InboundAuthenticator } from './inbound-auth.js';
import { InboundTokenError, InboundTokens } from './inbound-token.js';

export const RETURN_PROTOCOL = 'handoff-return';
export const idpId = (serverId: string): string => `handoff-${serverId}`;
const MAX_BODY = 16 * 1024;

interface InboundBody {
  sub: string;
  email: string | null;
  name: string | null;
  return_to?: string;
  lr?: string;
}

class BadBody extends Error {}

function parseBody(raw: string): InboundBody {
  let b: unknown;
  try {
    b = JSON.parse(raw);
  } catch {
    throw new BadBody('the body is not JSON');
  }
  if (!b || typeof b !== 'object' || Array.isArray(b)) throw new BadBody('the body must be a JSON object');
  const o = b as Record<string, unknown>;
  const str = (k: string, max: number, required = false): string | undefined => {
    const v = o[k];
    if (v === undefined || v === null) {
      if (required) throw new BadBody(`${k} is required`);
      return undefined;
    }
    if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new BadBody(`${k} must be a string of 1-${max} characters`);
    return v;
  };
  const sub = str('sub', 256, true)!;
  const email = str('email', 320);
  if (email !== undefined && !/^[^\s@]+@[^\s@]+$/.test(email)) throw new BadBody('email is not an address');
  return { sub, email: email ?? null, name: str('name', 200) ?? null, return_to: str('return_to', 2048), lr: str('lr', 8192) };
}

/** Inbound (seed 000): a customer auth server hands a user in; the browser redeems a one-time URL. */
export async function registerInbound(
  ctx: PluginCtx<HandoffPluginConfig>,
  rejections: Rejections,
  derivedKey: Buffer,
  limits: HandoffRouteLimits,
): Promise<void> {
  const servers = new Map<string, { cfg: InboundServerConfig; auth: InboundAuthenticator }>();
  for (const cfg of ctx.config.servers) {
    if (servers.has(cfg.id)) throw new Error(`hmac-handoff: server id ${cfg.id} is used twice`);
    const auth = new InboundAuthenticator(cfg, `${ctx.baseUrl}/handoff/${cfg.id}`, ctx.config.maxSkewSeconds);
    await auth.init();
    servers.set(cfg.id, { cfg, auth });
    ctx.add.identityProvider({
      id: idpId(cfg.id),
      displayName: cfg.name,
      protocol: 'handoff',
      loginPath: (lr) => `/handoff/${cfg.id}/start?lr=${encodeURIComponent(lr)}`,
      provisioning: cfg.provisioning ?? { policy: 'explicit' },
      // Only a server with a login page can be offered on the chooser; otherwise logins start on its side.
      interactive: cfg.loginUrl !== undefined,
    });
  }
  const tokens = new InboundTokens(derivedKey, ctx.baseUrl);
  const allowedTarget = (cfg: InboundServerConfig, target: string): boolean => (cfg.returnTargets ?? []).includes(target);

  // Resumes "go to this validated return target" after an inbound login that no broker login request started.
  const returnProtocol: DownstreamProtocol = {
    name: RETURN_PROTOCOL,
    async resume(request) {
      const s = servers.get(request.params.server);
      const target = request.params.return_to;
      if (!s || !target || !allowedTarget(s.cfg, target)) {
        await rejections.record('inbound', request.params.server, 'return_to_not_allowed', null);
        return {
          kind: 'html',
          status: 400,
          html: layout(
            'Invalid return address',
            html`<h1>Invalid return address</h1><p class="error">That return address is not allowed.</p>`,
          ),
        };
      }
      return { kind: 'redirect', location: target };
    },
  };
  ctx.add.downstreamProtocol(returnProtocol);

  const app = ctx.web.app;
  // Keep the raw body: the signature covers the exact bytes, not a re-serialisation. (Scoped to this plugin.)
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: MAX_BODY }, (_req, body, done) => done(null, body));

  app.get<{ Params: { serverId: string }; Querystring: { lr?: unknown } }>(
    '/handoff/:serverId/start',
    limits.browser,
    async (req, reply) => {
      const s = servers.get(req.params.serverId);
      if (!s?.cfg.loginUrl) return ctx.web.errorPage(reply, 404, 'Unknown sign-in service', 'This sign-in service is not configured.');
      const lr = req.query.lr;
      if (typeof lr !== 'string') return ctx.web.errorPage(reply, 400, 'Invalid request', 'The login request is missing.');
      ctx.web.decodeLoginRequest(lr); // refuse a forged or expired request before sending the browser away
      const url = new URL(s.cfg.loginUrl);
      url.searchParams.set('lr', lr);
      return reply.redirect(url.toString(), 303);
    },
  );

  app.post<{ Params: { serverId: string } }>(
    '/handoff/:serverId',
    limits.server,
    async (req: FastifyRequest<{ Params: { serverId: string } }>, reply: FastifyReply) => {
      const serverId = req.params.serverId;
      const refuse = async (status: number, reason: string, detail: string): Promise<FastifyReply> => {
        await rejections.record('inbound', serverId, reason, req.ip);
        return sendProblem(reply, status, reason, 'Handoff refused', detail);
      };
      const s = servers.get(serverId);
      if (!s) return refuse(404, 'unknown_server', 'no customer auth server with this id');
      if (typeof req.body !== 'string') return refuse(415, 'unsupported_media_type', 'send the user data as application/json');
      const raw = req.body;
      let fingerprint: string;
      try {
        fingerprint = await s.auth.check(req.headers, raw, ctx.clock.now());
      } catch (err) {
        if (err instanceof InboundAuthError) return refuse(401, err.reason, err.message);
        throw err;
      }
      let body: InboundBody;
      try {
        body = parseBody(raw);
      } catch (err) {
        if (err instanceof BadBody) return refuse(400, 'malformed_body', err.message);
        throw err;
      }
      if (body.return_to !== undefined && !allowedTarget(s.cfg, body.return_to))
        return refuse(400, 'return_to_not_allowed', 'return_to is not one of the configured return targets');
      if (body.lr !== undefined) {
        try {
          ctx.web.decodeLoginRequest(body.lr);
        } catch {
          return refuse(400, 'bad_login_request', 'lr is not a valid, unexpired login request of this broker');
        }
      }
      const jti = ctx.ids.token(18);
      const now = ctx.clock.now();
      const expiresAt = new Date((Math.floor(now.getTime() / 1000) + ctx.config.inboundTtlSeconds) * 1000).toISOString();
      // One stream per signed request, used once: the same signature twice (on any node) is a replay.
      const issued = { type: 'InboundHandoffIssued' as const, data: { serverId, subject: body.sub, jti, expiresAt } };
      if (!(await useOnce(ctx.commands, `handoff-request-${fingerprint}`, issued, { actor: `server:${serverId}` }))) {
        return refuse(409, 'replayed', 'this signed request was already used; sign each request anew');
      }
      const { token } = await tokens.issue(
        {
          srv: serverId,
          sub: body.sub,
          email: body.email,
          name: body.name,
          jti,
          ...(body.lr ? { lr: body.lr } : {}),
          ...(body.return_to ? { rt: body.return_to } : {}),
        },
        now,
        ctx.config.inboundTtlSeconds,
      );
      return reply.code(201).send({ url: `${ctx.baseUrl}/handoff/${serverId}/enter?token=${token}`, expires_at: expiresAt });
    },
  );

  app.get<{ Params: { serverId: string }; Querystring: { token?: unknown } }>(
    '/handoff/:serverId/enter',
    limits.browser,
    async (req, reply) => {
      const serverId = req.params.serverId;
      const refuse = async (status: number, reason: string, title: string, message: string): Promise<FastifyReply> => {
        await rejections.record('inbound', serverId, reason, req.ip);
        return ctx.web.errorPage(reply, status, title, message);
      };
      const s = servers.get(serverId);
      if (!s) return refuse(404, 'unknown_server', 'Unknown sign-in service', 'This sign-in service is not configured.');
      const token = req.query.token;
      if (typeof token !== 'string' || token.length > 12_000)
        return refuse(400, 'malformed_token', 'Invalid sign-in link', 'This sign-in link is not valid.');
      let claims;
      try {
        claims = await tokens.open(token, serverId, ctx.clock.now());
      } catch (err) {
        if (err instanceof InboundTokenError) return refuse(400, err.reason, 'Invalid sign-in link', err.message);
        throw err;
      }
      // Once only, on any node.
      const consumed = { type: 'InboundHandoffConsumed' as const, data: { serverId, subject: claims.sub, jti: claims.jti } };
      if (!(await useOnce(ctx.commands, `handoff-${claims.jti}`, consumed, { actor: `server:${serverId}` }))) {
        return refuse(
          400,
          'replayed',
          'Link already used',
          'This sign-in link was already used. Start again from your organisation’s site.',
        );
      }
      const identity: AuthenticatedIdentity = {
        issuer: `handoff:${serverId}`,
        subject: claims.sub,
        email: claims.email,
        name: claims.name,
        amr: ['fed'],
      };
      let lr = claims.lr;
      if (!lr && claims.rt) {
        if (!allowedTarget(s.cfg, claims.rt))
          return refuse(400, 'return_to_not_allowed', 'Invalid return address', 'That return address is no longer allowed.');
        lr = ctx.login.requests.encode(
          { protocol: RETURN_PROTOCOL, params: { server: serverId, return_to: claims.rt } },
          ctx.clock.now(),
          ctx.ids.token(12),
        );
      }
      return ctx.web.finishLogin(req, reply, identity, lr, idpId(serverId));
    },
  );
}
