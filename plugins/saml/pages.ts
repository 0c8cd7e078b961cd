import type { FastifyReply, FastifyRequest } from 'fastify';
import { type AnonymousRefusals, type PluginCtx, html } from '../../plugin/index.js';
import type { SamlPeer } from './entities.js';
import type { SamlRejected } from './errors.js';

export const AUTOPOST_JS = 'document.forms[0].submit();';

/** An auto-submitting POST form (saml-bindings §3.5.4); the script is served from 'self' for the CSP. */
export function postForm(ctx: PluginCtx<unknown>, reply: FastifyReply, action: string, fields: Record<string, string>): FastifyReply {
  return ctx.web.page(
    reply,
    'Continue',
    html`<form method="post" action="${action}">${Object.entries(fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}<noscript><button type="submit">Continue</button></noscript></form><script src="/saml/assets/autopost.js"></script>`,
  );
}

export type Refuse = (req: FastifyRequest, reply: FastifyReply, peer: SamlPeer | null, err: SamlRejected) => Promise<FastifyReply>;

/** Records `LoginFailed` with the reason (capped: AnonymousRefusals) and shows a clear page: a refused SAML message is never a 500. */
export function refuser(ctx: PluginCtx<unknown>, refusals: AnonymousRefusals): Refuse {
  return async (req, reply, peer, err) => {
    await refusals.record({ issuer: peer?.idpEntityId ?? 'saml', reason: err.reason }, { ip: req.ip, idp: peer?.id });
    const status = err.code === 'forbidden' ? 403 : 400;
    return ctx.web.errorPage(reply, status, 'Login refused', err.message);
  };
}
