import type { FastifyInstance } from 'fastify';
import type { EventStore, LoginService, ProjectionEngine, ReadModels } from '../../core/index.js';
import type { BrokerConfig } from '../../config/types.js';
import type { WebKit } from './web-kit.js';
import { html, STYLESHEET } from './html.js';
import { sendErrorPage } from './errors.js';
import { registerHomeRoutes } from './home-routes.js';
import { checkSessionCsrf } from './session-csrf.js';

interface CoreRouteDeps {
  config: BrokerConfig;
  projections: ProjectionEngine;
  store: EventStore;
  login: LoginService;
  read: ReadModels;
  webFor: (app: FastifyInstance) => WebKit;
  state: { ready: boolean; stopping: boolean };
}

/** Routes the core owns: health, readiness, the stylesheet, the login chooser and logout. */
export function registerCoreRoutes(app: FastifyInstance, deps: CoreRouteDeps): void {
  const { projections, store, login, state } = deps;
  const web = deps.webFor(app);

  app.get('/healthz', { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'ok' }));

  // Not ready while the store cannot write (a full disk): every login and ban would fail there,
  // so a load balancer should send the traffic to a node that can. Recovers once a write succeeds.
  app.get('/readyz', async (_req, reply) => {
    const head = await store.headPosition();
    const writes = store.writeHealth ? await store.writeHealth() : { ok: true as const };
    const ok = state.ready && !state.stopping && projections.position >= head && writes.ok;
    const body: Record<string, unknown> = { status: ok ? 'ready' : 'not_ready', position: projections.position, head };
    if (!writes.ok) body.reason = `writes are failing (${writes.reason})`;
    return reply.code(ok ? 200 : 503).send(body);
  });

  app.get('/assets/broker.css', async (_req, reply) => reply.type('text/css').header('cache-control', 'public, max-age=3600').send(STYLESHEET));

  // The login page: offers the configured identity providers, or goes straight to the only one.
  app.get<{ Querystring: { lr?: string } }>(
    '/login',
    { schema: { querystring: { type: 'object', properties: { lr: { type: 'string', maxLength: 8192 } } } } },
    async (req, reply) => {
      const lr = req.query.lr ?? '';
      if (lr) web.decodeLoginRequest(lr); // refuse forged or expired requests before showing anything
      const request = lr ? web.decodeLoginRequest(lr) : null;
      // A browser that already holds a valid session skips the login (unless the request forces one).
      if (request && !request.forceLogin && web.session(req)) return web.beginLogin(req, reply, request);
      const idps = [...login.identityProviders.values()].filter((p) => p.interactive !== false);
      const hinted = request?.idp ? login.identityProviders.get(request.idp) : undefined;
      if (hinted) return reply.redirect(hinted.loginPath(lr), 303);
      if (idps.length === 1) return reply.redirect(idps[0].loginPath(lr), 303);
      if (idps.length === 0) return sendErrorPage(reply, 503, 'No way to log in', 'No identity provider is configured on this broker.');
      return web.page(
        reply,
        'Log in',
        html`<h1>Log in</h1><p>Choose how to log in:</p><ul>${idps.map(
          (p) => html`<li><a class="button" href="${p.loginPath(lr)}">${p.displayName}</a></li>`,
        )}</ul>`,
      );
    },
  );

  registerHomeRoutes(app, web, login, deps.read);

  // The session CSRF token is required: without it any page could log a user out (a forced
  // logout, the first step of logging them back in as someone else). No session: nothing to end.
  app.post('/logout', async (req, reply) => {
    const s = web.session(req);
    if (s && !checkSessionCsrf(req, web.cookieName)) return sendErrorPage(reply, 403, 'Forbidden', 'The form token is missing or wrong; reload the page and try again.');
    if (s) await login.endSession(s.sessionId, 'logout', `user:${s.userId}`);
    web.clearSessionCookie(reply);
    return web.page(reply, 'Logged out', html`<h1>Logged out</h1><p>You are logged out of the broker.</p>`);
  });
}
