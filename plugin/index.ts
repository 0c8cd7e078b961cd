// The one public entry for plugin authors: `import { ... } from 'identity-broker/plugin'` (package.json
// `exports`; the build emits dist/plugin/index.d.ts). The built-in plugins import from here too, so
// an integrator's plugin and ours use the same API. Walk-through: plugins/example/README.md;
// reference of `ctx`: docs/plugin-ctx.md. Test helpers: `identity-broker/plugin/testing`.
//
// This file must not import the kernel's boot (adapters/kernel/boot.ts): boot loads the built-in
// plugins, which import this file.
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { AdminPrincipal } from '../adapters/http/admin-guard.js';
import { layout, type SafeHtml } from '../adapters/http/html.js';
import type { WebKit } from '../adapters/http/web-kit.js';

// The core's public face: events (`defineEvent`, `EventMap`, `declareSecretFields`, `KnownEvent`,
// `isEvent`), the Decider and `CommandHandler`, `DomainError` and its subclasses, projections
// (`Projection`, `PersistedProjection`, `ReadDatabase`), the extension points (`IdentityProvider`,
// `DownstreamProtocol`, `IdentityEnricher`, `ProvisioningPolicy`, `Reactor`), `AuthenticatedIdentity`.
export * from '../core/index.js';

// The plugin and its context, with the kernel's HTTP side (`ctx.web`, a WebKit) filled in.
export type { Plugin, PluginCtx } from '../adapters/kernel/plugin-types.js';
export type { WebKit } from '../adapters/http/web-kit.js';
export { ConfigError } from '../config/errors.js';

// Pages and HTTP answers.
export { html, raw, escapeHtml, layout, SafeHtml } from '../adapters/http/html.js';
export { sendProblem, sendError, sendErrorPage, wantsHtml } from '../adapters/http/errors.js';
export { checkSessionCsrf, csrfTokenFor } from '../adapters/http/session-csrf.js';
export { safeReturnTo } from '../adapters/http/return-to.js';
export { AdminGuard, type AdminPrincipal } from '../adapters/http/admin-guard.js';

/**
 * Sends a full HTML page (the broker's layout around `body`, under its Content-Security-Policy: no
 * inline script). The same as `ctx.web.page`. Build `body` with `html`: every value is escaped.
 */
export function page(reply: FastifyReply, title: string, body: SafeHtml, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(layout(title, body));
}

const admins = new WeakMap<FastifyRequest, AdminPrincipal>();

/**
 * A fastify `preHandler` that lets only administrators through: an admin's browser session (with
 * the session-bound CSRF token, header `x-csrf-token` or form field `_csrf`, on anything but
 * GET/HEAD) or an admin API token (`Authorization: Bearer`, from `admin.apiTokens`). Anyone else
 * gets the login page (a browser GET), 401 or 403. In the handler, `adminOf(req)` says who it is;
 * record it as the actor of what the route changes.
 *
 *   ctx.web.app.get('/my-plugin/admin', { preHandler: requireAdmin(ctx) }, async (req) => ({ by: adminOf(req).actor }));
 */
export function requireAdmin(ctx: { readonly web: WebKit }): preHandlerAsyncHookHandler {
  return async (req, reply) => {
    const principal = await ctx.web.requireAdmin(req, reply);
    if (!principal) return reply;
    admins.set(req, principal);
  };
}

/** The admin that `requireAdmin` let through for this request (throws when the route has no `requireAdmin`). */
export function adminOf(req: FastifyRequest): AdminPrincipal {
  const p = admins.get(req);
  if (!p) throw new Error('adminOf(req) on a route without the requireAdmin(ctx) preHandler');
  return p;
}
