import type { FastifyReply, FastifyRequest } from 'fastify';
import { type ReadModels, type EventStore, type WebKit, html, checkSessionCsrf, csrfTokenFor } from '../../plugin/index.js';
import type { DeliveriesView } from './deliveries-view.js';
import type { DeliveryState } from './delivery-state.js';
import { requeueDelivery } from './requeue.js';

const iso = (ms: number | null): string => (ms ? new Date(ms).toISOString() : '');

function describe(s: DeliveryState): string {
  switch (s.status) {
    case 'delivered':
      return `acknowledged ${s.deliveredAt} (HTTP ${s.lastStatus}, attempt ${s.attempts})`;
    case 'retrying':
      return `retrying: attempt ${s.attempts} failed (${s.lastError}), next at ${iso(s.nextAttemptAt)}`;
    case 'abandoned':
      return `gave up after ${s.attempts} attempt(s): ${s.abandonReason}${s.lastError && s.lastError !== s.abandonReason ? ` (${s.lastError})` : ''}`;
    default:
      return 'queued';
  }
}

/**
 * `GET <path>`: per ban, which site acknowledged when, which is retrying, which gave up.
 * `POST <path>/redeliver`: re-queues one delivery. Admins only; the POST carries the
 * session-bound CSRF token (adapters/http/session-csrf.ts), so another origin cannot trigger it.
 */
export function registerAdminPage(web: WebKit, path: string, deps: { read: ReadModels; view: DeliveriesView; store: EventStore }): void {
  const admin = (req: FastifyRequest, reply: FastifyReply): { userId: string } | null => {
    const s = web.session(req);
    if (!s) {
      void reply.redirect(`/login?return_to=${encodeURIComponent(path)}`, 303);
      return null;
    }
    if (!deps.read.users.get(s.userId)?.admin) {
      void web.errorPage(reply, 403, 'Forbidden', 'This page is for administrators.');
      return null;
    }
    return { userId: s.userId };
  };

  web.app.get(path, async (req, reply) => {
    if (!admin(req, reply)) return reply;
    const user = typeof (req.query as { user?: unknown }).user === 'string' ? (req.query as { user: string }).user : undefined;
    const csrf = csrfTokenFor(req, web.cookieName) ?? '';
    const rows = deps.view.list(user, 200).map(
      (b) => html`<h2>${b.kind} ${b.userId}</h2><p class="muted">event <code>${b.banEventId}</code>, queued ${b.queuedAt}</p>
<table><tr><th>site</th><th>state</th><th></th></tr>${[...b.sites].map(
        ([siteId, s]) => html`<tr><td>${siteId}</td><td>${describe(s)}</td><td><form method="post" action="${path}/redeliver">
<input type="hidden" name="_csrf" value="${csrf}"><input type="hidden" name="banEventId" value="${b.banEventId}"><input type="hidden" name="siteId" value="${siteId}">
<button type="submit">Redeliver</button></form></td></tr>`,
      )}</table>`,
    );
    return web.page(
      reply,
      'Ban deliveries',
      html`<h1>Ban deliveries</h1>${rows.length ? rows : html`<p>No ban has been broadcast yet.</p>`}`,
    );
  });

  web.app.post(path + '/redeliver', async (req, reply) => {
    const who = admin(req, reply);
    if (!who) return reply;
    if (!checkSessionCsrf(req, web.cookieName))
      return web.errorPage(reply, 403, 'Forbidden', 'The form expired; reload the page and try again.');
    const body = (req.body ?? {}) as { banEventId?: unknown; siteId?: unknown };
    if (typeof body.banEventId !== 'string' || typeof body.siteId !== 'string')
      return web.errorPage(reply, 400, 'Bad request', 'banEventId and siteId are required.');
    try {
      await requeueDelivery(deps.store, body.banEventId, body.siteId, `admin:${who.userId}`);
    } catch (err) {
      return web.sendError(req, reply, err);
    }
    return reply.redirect(path, 303);
  });
}
