import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type PluginLogin, type WebKit, html } from '../../plugin/index.js';
import type { SigningKeys } from '../../adapters/crypto/signing-keys.js';
import type { ClientRegistry } from './clients.js';
import { singleParams, withParams } from './params.js';

/**
 * RP-Initiated Logout 1.0 (`end_session_endpoint`). With a valid `id_token_hint` for the current
 * session the logout happens at once; otherwise the user confirms with a POST bound to the session
 * (§2: the OP SHOULD ask, so a third-party page cannot log people out). Ending the session is a
 * `SessionEnded` event, which the back-channel reactor turns into logout tokens for the clients.
 */
export function registerLogout(d: {
  web: WebKit;
  login: PluginLogin;
  keys: SigningKeys;
  clients: ClientRegistry;
  issuer: string;
  csrfKey: Buffer;
}): void {
  const { web } = d;
  const confirmFor = (sid: string) => createHmac('sha256', d.csrfKey).update(`logout.${sid}`).digest('base64url');

  const handler = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    let p: Record<string, string | undefined>;
    try {
      p = singleParams(req.method === 'POST' ? req.body : req.query);
    } catch {
      return web.errorPage(reply, 400, 'Invalid request', 'The logout request was malformed.');
    }
    let hint: Record<string, unknown> | null = null;
    if (p.id_token_hint) {
      try {
        // An expired ID token is still a fine hint (§2): only signature, issuer and type matter.
        hint = d.keys.verifySync(p.id_token_hint, { typ: 'JWT', issuer: d.issuer, clockToleranceSeconds: 366 * 86400 });
      } catch {
        return web.errorPage(reply, 400, 'Invalid request', 'The id_token_hint is not valid.');
      }
    }
    const clientId = (hint?.aud as string | undefined) ?? p.client_id;
    if (p.client_id && hint && p.client_id !== hint.aud)
      return web.errorPage(reply, 400, 'Invalid request', 'client_id does not match the id_token_hint.');
    const client = d.clients.get(clientId);
    if (p.post_logout_redirect_uri !== undefined && (!client || !client.postLogoutRedirectUris.includes(p.post_logout_redirect_uri))) {
      return web.errorPage(reply, 400, 'Invalid redirect', 'The post_logout_redirect_uri is not registered for this application.');
    }
    const s = web.session(req);
    const confirmed = req.method === 'POST' && s && p.confirm !== undefined && safeEq(p.confirm, confirmFor(s.sessionId));
    const hinted = s && hint && (hint.sid === s.sessionId || (!hint.sid && hint.sub === s.userId));
    if (s && !confirmed && !hinted) {
      return web.page(
        reply,
        'Log out?',
        html`<h1>Log out?</h1><p>${client ? client.name : 'An application'} asks to log you out of the broker.</p>
<form method="post" action="/oauth/logout"><input type="hidden" name="confirm" value="${confirmFor(s.sessionId)}">
${p.post_logout_redirect_uri ? html`<input type="hidden" name="post_logout_redirect_uri" value="${p.post_logout_redirect_uri}">` : ''}
${clientId ? html`<input type="hidden" name="client_id" value="${clientId}">` : ''}
${p.state ? html`<input type="hidden" name="state" value="${p.state}">` : ''}
<button type="submit">Log out</button></form>`,
      );
    }
    if (s) await d.login.endSession(s.sessionId, 'rp_logout', `user:${s.userId}`);
    web.clearSessionCookie(reply);
    if (p.post_logout_redirect_uri) return reply.redirect(withParams(p.post_logout_redirect_uri, { state: p.state }), 303);
    return web.page(reply, 'Logged out', html`<h1>Logged out</h1><p>You are logged out of the broker.</p>`);
  };
  web.app.get('/oauth/logout', handler);
  web.app.post('/oauth/logout', handler);
}

function safeEq(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
