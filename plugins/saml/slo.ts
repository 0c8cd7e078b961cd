import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PluginCtx } from '../../adapters/kernel/boot.js';
import { html } from '../../adapters/http/html.js';
import type { SamlPeer } from './entities.js';
import { SamlRejected, fromSamlify } from './errors.js';
import { guardStructure, parseSaml } from './xml-guard.js';
import { postForm, type Refuse } from './pages.js';

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

export function registerSlo(ctx: PluginCtx<unknown>, peerOf: (name: string) => SamlPeer, refuse: Refuse): void {
  const app = ctx.web.app;

  // SP-initiated logout (saml-profiles §4.4): end the broker session first, then tell the IdP.
  app.get<{ Params: { name: string } }>('/saml/:name/logout', async (req, reply) => {
    const peer = peerOf(req.params.name);
    const s = ctx.web.session(req);
    ctx.web.clearSessionCookie(reply);
    if (!s) return ctx.web.page(reply, 'Logged out', html`<h1>Logged out</h1><p>You were not logged in.</p>`);
    await ctx.login.endSession(s.sessionId, 'logout', `user:${s.userId}`);
    if (s.issuer !== peer.idpEntityId) return ctx.web.page(reply, 'Logged out', html`<h1>Logged out</h1><p>You are logged out of the broker.</p>`);
    const out = peer.sp.createLogoutRequest(peer.idp, 'redirect', { logoutNameID: s.subject }) as { context: string };
    return reply.redirect(out.context, 303);
  });

  const handle = async (req: FastifyRequest<{ Params: { name: string } }>, reply: FastifyReply, binding: 'redirect' | 'post'): Promise<FastifyReply> => {
    const peer = peerOf(req.params.name);
    const params = (binding === 'redirect' ? req.query : req.body) as SloQuery;
    const kind = params?.SAMLRequest ? 'SAMLRequest' : params?.SAMLResponse ? 'SAMLResponse' : null;
    if (!kind) return refuse(req, reply, peer, new SamlRejected('saml_missing', 'No SAML message was received.'));
    const request = binding === 'redirect' ? { query: params as Record<string, unknown>, octetString: redirectOctetString(req.url, kind) } : { body: params as Record<string, unknown> };
    try {
      if (kind === 'SAMLResponse') {
        const res = await peer.sp.parseLogoutResponse(peer.idp, binding, request);
        guardStructure(parseSaml(res.samlContent), 'LogoutResponse', false);
        return ctx.web.page(reply, 'Logged out', html`<h1>Logged out</h1><p>You are logged out of the broker and of ${peer.config.displayName ?? peer.config.name}.</p>`);
      }
      const res = await peer.sp.parseLogoutRequest(peer.idp, binding, request);
      guardStructure(parseSaml(res.samlContent), 'LogoutRequest', false);
      const nameId = typeof res.extract.nameID === 'string' ? res.extract.nameID : null;
      if (!nameId) throw new SamlRejected('saml_no_subject', 'The logout request does not say who logs out.');
      // IdP-initiated logout (saml-profiles §4.4.4): end this user's broker sessions that came through this IdP.
      const userId = await ctx.users.findByIdentity(peer.idpEntityId, nameId);
      if (userId) {
        for (const s of ctx.read.sessions.forUser(userId)) {
          if (s.issuer === peer.idpEntityId) await ctx.login.endSession(s.sessionId, 'idp_logout', `idp:${peer.idpEntityId}`);
        }
      }
      ctx.web.clearSessionCookie(reply);
      const out = peer.sp.createLogoutResponse(peer.idp, res as unknown as Parameters<typeof peer.sp.createLogoutResponse>[1], binding, { relayState: params.RelayState }) as { context: string; entityEndpoint?: string; relayState?: string };
      if (binding === 'redirect') return reply.redirect(out.context, 303);
      return postForm(ctx, reply, out.entityEndpoint!, { SAMLResponse: out.context, ...(out.relayState ? { RelayState: out.relayState } : {}) });
    } catch (err) {
      throw err instanceof SamlRejected ? err : fromSamlify(err);
    }
  };
  const sloSchema = { params: { type: 'object', properties: { name: { type: 'string', maxLength: 41 } }, required: ['name'] } };
  app.get<{ Params: { name: string } }>('/saml/:name/slo', { schema: sloSchema }, (req, reply) => handle(req, reply, 'redirect'));
  app.post<{ Params: { name: string } }>('/saml/:name/slo', { schema: sloSchema }, (req, reply) => handle(req, reply, 'post'));
}
