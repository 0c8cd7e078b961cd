import type { FastifyInstance } from 'fastify';
import type { LoginService, ReadModels } from '../../core/index.js';
import type { WebKit } from './web-kit.js';
import { html } from './html.js';
import { sendErrorPage } from './errors.js';
import { checkSessionCsrf, csrfTokenFor } from './session-csrf.js';
import { returnToProtocol } from './return-to.js';

/**
 * The broker's own home page (who am I, log out, log out everywhere) and the `return_to`
 * protocol that brings a browser back to a local page after login.
 */
export function registerHomeRoutes(app: FastifyInstance, web: WebKit, login: LoginService, read: ReadModels): void {
  if (!login.protocols.has(returnToProtocol.name)) login.protocols.set(returnToProtocol.name, returnToProtocol);

  app.get('/', async (req, reply) => {
    const s = web.session(req);
    if (!s) return web.beginLogin(req, reply, { protocol: 'return_to', params: { return_to: '/' } });
    const u = read.users.get(s.userId);
    const csrf = csrfTokenFor(req, web.cookieName) ?? '';
    const others = read.sessions.forUser(s.userId).length - 1;
    // Sign-in methods a plugin lets the user manage here (passkeys...), in plugin order.
    const manage = [...login.identityProviders.values()].flatMap((p) => (p.accountLink ? [p.accountLink] : []));
    return web.page(
      reply,
      'Your account',
      html`<h1>Your account</h1>
<table><tr><th>Name</th><td>${u?.name ?? ''}</td></tr><tr><th>Email</th><td>${u?.email ?? ''}</td></tr>
<tr><th>User id</th><td><code>${s.userId}</code></td></tr><tr><th>Signed in with</th><td>${s.issuer} (${s.amr.join(', ')})</td></tr>
<tr><th>Session started</th><td>${s.createdAt}</td></tr><tr><th>Session ends at the latest</th><td>${s.expiresAt}</td></tr>
<tr><th>Other sessions</th><td>${String(Math.max(0, others))}</td></tr></table>
${manage.length ? html`<ul class="account-links">${manage.map((l) => html`<li><a href="${l.path}">${l.label}</a></li>`)}</ul>` : ''}
${u?.admin ? html`<p><a href="/admin/users">Administration</a></p>` : ''}
<form method="post" action="/logout"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit">Log out</button></form>
<form method="post" action="/logout/everywhere"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit">Log out everywhere</button></form>`,
    );
  });

  app.post('/logout/everywhere', async (req, reply) => {
    const s = web.session(req);
    if (!s) return sendErrorPage(reply, 401, 'Not logged in', 'There is no session to end.');
    if (!checkSessionCsrf(req, web.cookieName))
      return sendErrorPage(reply, 403, 'Forbidden', 'The form token is missing or wrong; reload the page and try again.');
    const n = read.sessions.forUser(s.userId).length;
    await login.endAllSessions(s.userId, 'logout_everywhere', `user:${s.userId}`);
    web.clearSessionCookie(reply);
    return web.page(
      reply,
      'Logged out everywhere',
      html`<h1>Logged out everywhere</h1><p>${String(n)} session(s) ended on every device.</p>`,
    );
  });
}
