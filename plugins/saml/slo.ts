import type { FastifyReply, FastifyRequest } from 'fastify';
import { type PluginCtx, html } from '../../plugin/index.js';
import type { SamlPeer } from './entities.js';
import { SamlRejected, fromSamlify } from './errors.js';
import { guardStructure, parseSaml } from './xml-guard.js';
import { postForm, type Refuse } from './pages.js';
import type { SamlOneTime } from './one-time.js';
import type { LoginBindings } from './login-binding.js';
import { checkInResponseTo, checkLogoutMessage, logoutFacts } from './slo-checks.js';

/**
 * The redirect binding signs the raw query, not the XML (saml-bindings §3.4.4.1): rebuild the
 * signed octet string from the URL exactly as it arrived, in the order the spec fixes.
 */
export function redirectOctetString(url: string, kind: 'SAMLRequest' | 'SAMLResponse'): string {
  const q = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
  const parts = new Map<string, string>();
  for (const p of q.split('&')) {
    const i = p.indexOf('=');
    if (i > 0 && !parts.has(p.slice(0, i))) parts.set(p.slice(0, i), p);
  }
  return [kind, 'RelayState', 'SigAlg'].flatMap((k) => (parts.has(k) ? [parts.get(k)!] : [])).join('&');
}

type SloQuery = { SAMLRequest?: string; SAMLResponse?: string; RelayState?: string; SigAlg?: string; Signature?: string };

export interface SloDeps {
  oneTime: SamlOneTime;
  /** Keeps the ID of the LogoutRequest this browser's logout sent, for the LogoutResponse's InResponseTo. */
  logoutBindings: LoginBindings;
  skewMs: number;
  maxAgeMs: number;
}

/** The binding to send this IdP a logout message on, from its metadata; null when it declares no SingleLogoutService. */
function sloBinding(peer: SamlPeer): 'redirect' | 'post' | null {
  for (const b of ['redirect', 'post'] as const) if (typeof peer.idp.entityMeta.getSingleLogoutService(b) === 'string') return b;
  return null;
}

export function registerSlo(ctx: PluginCtx<unknown>, peerOf: (name: string) => SamlPeer, refuse: Refuse, deps: SloDeps): void {
  const app = ctx.web.app;
  const idpName = (peer: SamlPeer) => peer.config.displayName ?? peer.config.name;
  const noSlo = (reply: FastifyReply, peer: SamlPeer) =>
    ctx.web.page(
      reply,
      'Logged out',
      html`<h1>Logged out</h1><p>You are logged out of the broker. ${idpName(peer)} offers no single logout, so you may still be logged in there: close the browser to end that session.</p>`,
    );

  // SP-initiated logout (saml-profiles §4.4): end the broker session first, then tell the IdP.
  app.get<{ Params: { name: string } }>('/saml/:name/logout', async (req, reply) => {
    const peer = peerOf(req.params.name);
    const s = ctx.web.session(req);
    ctx.web.clearSessionCookie(reply);
    if (!s) return ctx.web.page(reply, 'Logged out', html`<h1>Logged out</h1><p>You were not logged in.</p>`);
    await ctx.login.endSession(s.sessionId, 'logout', `user:${s.userId}`);
    if (s.issuer !== peer.idpEntityId)
      return ctx.web.page(reply, 'Logged out', html`<h1>Logged out</h1><p>You are logged out of the broker.</p>`);
    // samlify would throw ERR_NO_REDIRECT_SLO_ENDPOINT (a 500) for an IdP whose metadata has no SLO service.
    const binding = sloBinding(peer);
    if (!binding) return noSlo(reply, peer);
    const out = peer.sp.createLogoutRequest(peer.idp, binding, { logoutNameID: s.subject }) as {
      id: string;
      context: string;
      entityEndpoint?: string;
    };
    const sealed = await deps.logoutBindings.seal({ idp: peer.id, rid: out.id, lr: null }, ctx.clock.now());
    reply.setCookie(deps.logoutBindings.cookieName(peer), sealed.value, { ...deps.logoutBindings.cookieOptions(), maxAge: sealed.maxAge });
    if (binding === 'redirect') return reply.redirect(out.context, 303);
    return postForm(ctx, reply, out.entityEndpoint!, { SAMLRequest: out.context });
  });

  /** The ID of the LogoutRequest this browser's logout sent to `peer`, or null (none, expired, forged). */
  const sentRequestId = async (req: FastifyRequest, peer: SamlPeer, inResponseTo: string): Promise<string | null> => {
    try {
      return (
        await deps.logoutBindings.expect(peer, ctx.web.cookies(req)[deps.logoutBindings.cookieName(peer)], inResponseTo, ctx.clock.now())
      ).rid;
    } catch {
      return null;
    }
  };

  const handle = async (
    req: FastifyRequest<{ Params: { name: string } }>,
    reply: FastifyReply,
    binding: 'redirect' | 'post',
  ): Promise<FastifyReply> => {
    const peer = peerOf(req.params.name);
    const params = (binding === 'redirect' ? req.query : req.body) as SloQuery;
    const kind = params?.SAMLRequest ? 'SAMLRequest' : params?.SAMLResponse ? 'SAMLResponse' : null;
    if (!kind) return refuse(req, reply, peer, new SamlRejected('saml_missing', 'No SAML message was received.'));
    const request =
      binding === 'redirect'
        ? { query: params as Record<string, unknown>, octetString: redirectOctetString(req.url, kind) }
        : { body: params as Record<string, unknown> };
    const expected = { sloUrl: peer.sloUrl, now: ctx.clock.now(), skewMs: deps.skewMs, maxAgeMs: deps.maxAgeMs };
    try {
      if (kind === 'SAMLResponse') {
        const res = await peer.sp.parseLogoutResponse(peer.idp, binding, request);
        const facts = logoutFacts(guardStructure(parseSaml(res.samlContent), 'LogoutResponse', false).root);
        checkLogoutMessage(facts, expected);
        checkInResponseTo(facts, await sentRequestId(req, peer, facts.inResponseTo ?? ''));
        reply.clearCookie(deps.logoutBindings.cookieName(peer), deps.logoutBindings.cookieOptions());
        return ctx.web.page(reply, 'Logged out', html`<h1>Logged out</h1><p>You are logged out of the broker and of ${idpName(peer)}.</p>`);
      }
      const res = await peer.sp.parseLogoutRequest(peer.idp, binding, request);
      const facts = logoutFacts(guardStructure(parseSaml(res.samlContent), 'LogoutRequest', false).root);
      checkLogoutMessage(facts, expected);
      const nameId = typeof res.extract.nameID === 'string' ? res.extract.nameID : null;
      if (!nameId) throw new SamlRejected('saml_no_subject', 'The logout request does not say who logs out.');
      await deps.oneTime.consumeLogoutRequest(peer.idpEntityId, facts.id, facts.issueInstant!);
      // IdP-initiated logout (saml-profiles §4.4.4): end this user's broker sessions that came through this IdP.
      const userId = await ctx.users.findByIdentity(peer.idpEntityId, nameId);
      if (userId) {
        for (const s of ctx.read.sessions.forUser(userId)) {
          if (s.issuer === peer.idpEntityId) await ctx.login.endSession(s.sessionId, 'idp_logout', `idp:${peer.idpEntityId}`);
        }
      }
      ctx.web.clearSessionCookie(reply);
      // Answer on the binding it came on if the IdP declares it, else on the one it has; none: say so.
      const answerOn = typeof peer.idp.entityMeta.getSingleLogoutService(binding) === 'string' ? binding : sloBinding(peer);
      if (!answerOn) return noSlo(reply, peer);
      const out = peer.sp.createLogoutResponse(peer.idp, res as unknown as Parameters<typeof peer.sp.createLogoutResponse>[1], answerOn, {
        relayState: params.RelayState,
      }) as { context: string; entityEndpoint?: string; relayState?: string };
      if (answerOn === 'redirect') return reply.redirect(out.context, 303);
      return postForm(ctx, reply, out.entityEndpoint!, {
        SAMLResponse: out.context,
        ...(out.relayState ? { RelayState: out.relayState } : {}),
      });
    } catch (err) {
      throw err instanceof SamlRejected ? err : fromSamlify(err);
    }
  };
  const sloSchema = { params: { type: 'object', properties: { name: { type: 'string', maxLength: 41 } }, required: ['name'] } };
  app.get<{ Params: { name: string } }>('/saml/:name/slo', { schema: sloSchema }, (req, reply) => handle(req, reply, 'redirect'));
  app.post<{ Params: { name: string } }>('/saml/:name/slo', { schema: sloSchema }, (req, reply) => handle(req, reply, 'post'));
}
