import type { FastifyInstance } from 'fastify';
import type { EventStore, LoginService, ProjectionEngine, Quarantine, ReadModels } from '../../core/index.js';
import type { BrokerConfig } from '../../config/types.js';
import type { WebKit } from './web-kit.js';
import { html, STYLESHEET } from './html.js';
import { FAVICON_SVG } from './favicon.js';
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
  /** Projections and reactors stopped on an event they threw on. */
  quarantines?: () => Quarantine[];
  /** A quarantine the node cannot answer right without (a core read model): /readyz 503. */
  critical?: (q: Quarantine) => boolean;
  /** How this node's sites config stands against the log's (a rolling deploy), for /readyz. */
  sitesConfig?: () => { revision: number; logRevision: number; agreement: string; unknownHere: string[] };
}

/** Routes the core owns: health, readiness, the stylesheet, the login chooser and logout. */
export function registerCoreRoutes(app: FastifyInstance, deps: CoreRouteDeps): void {
  const { projections, store, login, state } = deps;
  const web = deps.webFor(app);

  app.get('/healthz', { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({
    status: 'ok',
  }));

  // Ready: started, caught up with the log once, the read models no further behind than
  // `readModels.readyMaxLag` events, and applying (not stalled on a database error). A node under
  // write load is always a few events behind: demanding lag 0 made healthy nodes flap.
  const maxLag = deps.config.readModels?.readyMaxLag ?? 1000;
  app.get('/readyz', async (_req, reply) => {
    const head = await store.headPosition();
    const lag = Math.max(0, head - projections.position);
    const quarantined = deps.quarantines?.() ?? [];
    const critical = quarantined.find((q) => deps.critical?.(q));
    const rebuilding = projections
      .status()
      .filter((p) => p.rebuild)
      .map((p) => ({ name: p.name, reason: p.rebuild!.reason, checkpoint: p.checkpoint, target: p.rebuild!.target }));
    const writes = store.writeHealth ? await store.writeHealth() : { ok: true as const };
    const reason = state.stopping
      ? 'stopping'
      : !state.ready
        ? rebuilding.length
          ? 'rebuilding read models'
          : 'catching up with the log'
        : !writes.ok
          ? `writes are failing (${writes.reason})`
          : projections.stalled
            ? `read models cannot be written: ${projections.stalled.message}`
            : lag > maxLag
              ? `read models ${lag} events behind (more than ${maxLag})`
              : critical
                ? `read model ${critical.component} is quarantined on event ${critical.position} (${critical.type}): ${critical.error}`
                : null;
    // A node behind the cluster's sites config still serves (its logins and sessions are right);
    // the detail tells the operator to finish the rollout.
    const sites = deps.sitesConfig?.();
    const sitesDetail = sites && sites.agreement !== 'current' ? { sitesConfig: sites } : {};
    // A plugin's quarantined projection or reactor leaves the node ready (200) but `degraded`: the
    // fault is a bug that every node meets on the same event, so a 503 would take every node out of
    // the load balancer and stop all logins for one plugin's view or webhook. The alert is the status
    // field and broker_component_quarantined; logins, sessions and the other read models serve on.
    // A core read model quarantined is `critical` above: its answers (bans, sessions) would be wrong.
    const status = reason ? 'not_ready' : quarantined.length ? 'degraded' : 'ready';
    return reply.code(reason ? 503 : 200).send({
      status,
      ...(reason ? { reason } : {}),
      position: projections.position,
      head,
      lag,
      ...(rebuilding.length ? { rebuilding } : {}),
      ...(quarantined.length ? { quarantined } : {}),
      ...sitesDetail,
    });
  });

  for (const path of ['/favicon.svg', '/favicon.ico']) {
    app.get(path, async (_req, reply) => reply.type('image/svg+xml').header('cache-control', 'public, max-age=86400').send(FAVICON_SVG));
  }
  app.get('/assets/broker.css', async (_req, reply) =>
    reply.type('text/css').header('cache-control', 'public, max-age=3600').send(STYLESHEET),
  );

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
    if (s && !checkSessionCsrf(req, web.cookieName))
      return sendErrorPage(reply, 403, 'Forbidden', 'The form token is missing or wrong; reload the page and try again.');
    if (s) await login.endSession(s.sessionId, 'logout', `user:${s.userId}`);
    web.clearSessionCookie(reply);
    return web.page(reply, 'Logged out', html`<h1>Logged out</h1><p>You are logged out of the broker.</p>`);
  });
}
