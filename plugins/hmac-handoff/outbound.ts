import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  type DownstreamProtocol,
  type LoginRequest,
  type ResumeAction,
  type SessionView,
  type PluginCtx,
  html,
  layout,
} from '../../plugin/index.js';
import { TOKENS } from '../../adapters/kernel/tokens.js';
import type { SiteConfig } from '../../config/types.js';
import type { HandoffPluginConfig } from './config.js';
import type { Rejections } from './rejections.js';
import type { HandoffRouteLimits } from './rate-limit.js';
import { legacyV1Signature, RESERVED_PARAMS, signV2 } from './verify.js';

export const PROTOCOL = 'hmac-handoff';
/** The user fields a site may ask for. */
export const SUPPORTED_FIELDS = ['email', 'name', 'roles', 'tenant'] as const;
const DEFAULT_FIELDS = ['email', 'name'];
/** The user id always travels as `sub`; `userId` in a site's field list is accepted and means nothing more. */
const USER_ID_ALIAS = 'userId';
const NONCE = /^[A-Za-z0-9_-]{16,128}$/;
const SITE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_URL = 2048;

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly title: string,
    message: string,
  ) {
    super(message);
  }
}

/** Fails the boot on a site whose handoff settings could never produce a valid signature. */
export function checkSiteHandoffConfig(sites: SiteConfig[]): void {
  for (const s of sites) {
    if (!s.handoff) continue;
    if (!s.handoff.keys?.length) throw new Error(`sites.${s.id}.handoff.keys: at least one key is required`);
    for (const k of s.handoff.keys) {
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(k.kid)) throw new Error(`sites.${s.id}.handoff.keys: kid ${k.kid} must be 1-64 of [A-Za-z0-9_.-]`);
      if (typeof k.secret !== 'string' || Buffer.byteLength(k.secret) < 16)
        throw new Error(`sites.${s.id}.handoff.keys.${k.kid}: secret must be at least 16 bytes`);
    }
    for (const u of s.returnUrls) {
      let parsed: URL;
      try {
        parsed = new URL(u);
      } catch {
        throw new Error(`sites.${s.id}.returnUrls: ${u} is not an absolute URL`);
      }
      if (!/^https?:$/.test(parsed.protocol) || parsed.hash || u.includes('#'))
        throw new Error(`sites.${s.id}.returnUrls: ${u} must be http(s) without a fragment`);
      for (const k of parsed.searchParams.keys()) {
        if (RESERVED_PARAMS.has(k) || (SUPPORTED_FIELDS as readonly string[]).includes(k))
          throw new Error(`sites.${s.id}.returnUrls: ${u} uses the handoff parameter ${k}`);
      }
    }
    for (const f of s.handoff.fields ?? []) {
      if (f === USER_ID_ALIAS) continue;
      if (!(SUPPORTED_FIELDS as readonly string[]).includes(f) || RESERVED_PARAMS.has(f)) {
        throw new Error(`sites.${s.id}.handoff.fields: ${f} is not one of ${SUPPORTED_FIELDS.join(', ')}`);
      }
    }
  }
}

/** Outbound: `/sso/<siteId>` and the DownstreamProtocol that builds the signed redirect (seed 003). */
export function registerOutbound(ctx: PluginCtx<HandoffPluginConfig>, rejections: Rejections, limits: HandoffRouteLimits): void {
  const sites = ctx.services.get(TOKENS.Sites);
  checkSiteHandoffConfig(sites.all());

  /** Site and return_to checks, shared by the entry route and resume (config may change in between). */
  const checkTarget = (siteId: unknown, returnTo: unknown): SiteConfig & { handoff: NonNullable<SiteConfig['handoff']> } => {
    if (typeof siteId !== 'string' || !SITE_ID.test(siteId))
      throw new Refusal(400, 'malformed_site', 'Unknown site', 'The site that sent you here is not known to this broker.');
    const site = sites.get(siteId);
    if (!site?.handoff) throw new Refusal(404, 'unknown_site', 'Unknown site', 'The site that sent you here is not known to this broker.');
    if (typeof returnTo !== 'string' || returnTo.length > MAX_URL)
      throw new Refusal(400, 'malformed_return_to', 'Invalid request', 'The return address is missing or too long.');
    // Exact match only: a prefix or host match is how open redirects leak signed handoffs.
    if (!site.returnUrls.includes(returnTo))
      throw new Refusal(
        400,
        'return_to_not_allowed',
        'Invalid return address',
        'The site asked to return to an address it has not registered.',
      );
    return site as SiteConfig & { handoff: NonNullable<SiteConfig['handoff']> };
  };

  const refusalPage = async (err: unknown, siteId: unknown, ip: string | null): Promise<ResumeAction> => {
    if (!(err instanceof Refusal)) throw err;
    await rejections.record('outbound', siteId, err.reason, ip);
    return { kind: 'html', status: err.status, html: layout(err.title, html`<h1>${err.title}</h1><p class="error">${err.message}</p>`) };
  };

  const protocol: DownstreamProtocol = {
    name: PROTOCOL,
    async resume(request: LoginRequest, session: SessionView): Promise<ResumeAction> {
      const { site: siteId, return_to: returnTo, nonce } = request.params;
      try {
        const site = checkTarget(siteId, returnTo);
        // The session would already be gone after a ban; this guards the window before the projection applies it.
        if (!ctx.read.users.isActive(session.userId) || ctx.read.bans.isBanned(session.userId)) {
          throw new Refusal(403, 'user_not_active', 'Account not active', 'This account may not sign in to other sites.');
        }
        // Signing in to a site is activity: keep the broker session's idle clock in step (at most once per tenth of the idle window).
        if (ctx.login.needsRefresh(session)) await ctx.login.refresh(session);
        return { kind: 'redirect', location: await issue(site, returnTo, nonce || null, session) };
      } catch (err) {
        return refusalPage(err, siteId, null);
      }
    },
  };
  ctx.add.downstreamProtocol(protocol);

  const fieldValue = (f: string, session: SessionView): string => {
    const u = ctx.read.users.get(session.userId);
    if (f === 'email') return u?.email ?? '';
    if (f === 'name') return u?.name ?? '';
    if (f === 'roles') return session.roles.join(' ');
    if (f === 'tenant') return session.tenant ?? '';
    return '';
  };

  async function issue(
    site: SiteConfig & { handoff: NonNullable<SiteConfig['handoff']> },
    returnTo: string,
    nonce: string | null,
    session: SessionView,
  ): Promise<string> {
    const h = site.handoff;
    const key = h.keys[0]; // the first key signs; the others still verify on the site (rotation overlap)
    const fields = (h.fields ?? DEFAULT_FIELDS).filter((f) => f !== USER_ID_ALIAS);
    const nowSec = Math.floor(ctx.clock.now().getTime() / 1000);
    // Built by hand rather than with URLSearchParams.set (which re-serialises the URL on every call):
    // this is the hot path. The return URL was checked at boot to have no fragment and no reserved parameter.
    const query: [string, string][] = [];
    let brokerNonce: string | null = null;
    let expiresAt: string | null = null;
    if ((h.version ?? 'v2') === 'v2') {
      const exp = nowSec + (h.ttlSeconds ?? ctx.config.ttlSeconds);
      // 122 random bits from the pooled UUID generator: unique and unguessable, and ~10x cheaper than randomBytes per call.
      brokerNonce = ctx.ids.uuid().replace(/-/g, '');
      expiresAt = new Date(exp * 1000).toISOString();
      const values: Record<string, string> = {
        handoff: 'v2',
        kid: key.kid,
        aud: site.id,
        iat: String(nowSec),
        exp: String(exp),
        nonce: nonce ?? '',
        bnonce: brokerNonce,
        sub: session.userId,
        fields: fields.join(','),
      };
      for (const f of fields) values[f] = fieldValue(f, session);
      for (const k in values) query.push([k, values[k]]);
      query.push(['sig', signV2(key.secret, values, fields)]);
    } else {
      const data = fields.map((f) => fieldValue(f, session));
      query.push(['sub', session.userId]);
      fields.forEach((f, i) => query.push([f, data[i]]));
      query.push(['signature', legacyV1Signature(key.secret, [session.userId, ...data], nowSec)]);
    }
    const qs = query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
    const location = `${returnTo}${returnTo.includes('?') ? '&' : '?'}${qs}`;
    await ctx.store.append(`handoffs-${session.userId}`, [
      {
        type: 'HandoffIssued',
        data: {
          siteId: site.id,
          userId: session.userId,
          sessionId: session.sessionId,
          version: h.version ?? 'v2',
          kid: key.kid,
          siteNonce: nonce,
          brokerNonce,
          returnTo,
          expiresAt,
        },
        metadata: { actor: `user:${session.userId}` },
      },
    ]);
    return location;
  }

  ctx.web.app.get<{ Params: { siteId: string }; Querystring: Record<string, unknown> }>(
    '/sso/:siteId',
    limits.browser,
    async (req: FastifyRequest<{ Params: { siteId: string }; Querystring: Record<string, unknown> }>, reply: FastifyReply) => {
      const { siteId } = req.params;
      const { return_to: returnTo, nonce } = req.query;
      try {
        const site = checkTarget(siteId, returnTo);
        const v2 = (site.handoff.version ?? 'v2') === 'v2';
        // v2 binds the answer to the site's own login attempt; a legacy v1 site may not send one.
        if (nonce !== undefined || v2) {
          if (typeof nonce !== 'string' || !NONCE.test(nonce))
            throw new Refusal(400, 'malformed_nonce', 'Invalid request', 'The nonce is missing or not 16-128 characters of [A-Za-z0-9_-].');
        }
        const params: Record<string, string> = { site: site.id, return_to: returnTo as string };
        if (typeof nonce === 'string') params.nonce = nonce;
        // Hot path (a logged-in browser, the common case): resume straight away instead of letting
        // beginLogin encode and decode a login request token (two HMACs and JSON) it would not keep.
        const session = ctx.web.session(req);
        if (session) {
          const action = await protocol.resume({ protocol: PROTOCOL, params, iat: 0, exp: 0, jti: '' }, session);
          if (action.kind === 'redirect') return reply.redirect(action.location, 303);
          return reply
            .code(action.status ?? 200)
            .type('text/html; charset=utf-8')
            .send(action.html);
        }
        return await ctx.web.beginLogin(req, reply, { protocol: PROTOCOL, params });
      } catch (err) {
        const page = await refusalPage(err, siteId, req.ip);
        if (page.kind !== 'html') throw err;
        return reply
          .code(page.status ?? 400)
          .type('text/html; charset=utf-8')
          .send(page.html);
      }
    },
  );
}
