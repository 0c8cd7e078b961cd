import { html, linkMail, linkUrl } from '../../../plugin/index.js';
import { TOKENS } from '../../../adapters/kernel/tokens.js';
import type { ConsoleDeps } from './deps.js';

const form = (csrf: string, error?: string) => html`<h1>Invite someone</h1>
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<p>Makes the account (if the address has none) and sends a one-time link, valid 7 days, to set a password.</p>
<form method="post" action="/admin/invite" class="stack">
<input type="hidden" name="_csrf" value="${csrf}">
<label for="invite-email">Email</label><input id="invite-email" name="email" type="email" required maxlength="320">
<label for="invite-name">Name</label><input id="invite-name" name="name" maxlength="200">
<label><input type="checkbox" name="admin" value="1"> Administrator</label>
<button type="submit">Send the invitation</button></form>`;

/** `GET|POST /admin/invite`: an invitation by mail (or, without a mail server, the link to hand over). */
export function registerInvitePage(d: ConsoleDeps): void {
  const { ctx } = d;
  const links = ctx.services.get(TOKENS.PasswordLinks);
  ctx.web.app.get('/admin/invite', async (req, reply) => {
    const p = await d.guard.check(req, reply);
    if (!p) return reply;
    return d.page(req, reply, p, { title: 'Invite', section: 'users' }, form(d.csrf(req)));
  });
  ctx.web.app.post<{ Body: { email: string; name?: string; admin?: string } }>(
    '/admin/invite',
    {
      schema: {
        body: {
          type: 'object',
          required: ['email'],
          properties: {
            email: { type: 'string', maxLength: 320 },
            name: { type: 'string', maxLength: 200 },
            admin: { type: 'string', maxLength: 8 },
            _csrf: { type: 'string', maxLength: 256 },
          },
        },
      },
    },
    async (req, reply) => {
      const p = await d.guard.check(req, reply);
      if (!p) return reply;
      const email = req.body.email.trim().toLowerCase();
      if (!/^[^@\s]+@[^@\s]+$/.test(email))
        return d.page(req, reply, p, { title: 'Invite', section: 'users' }, form(d.csrf(req), 'That is not an email address.')).code(400);
      const existing = await ctx.users.findByEmail(email);
      const userId =
        existing ??
        (
          await ctx.users.register(
            { email, name: req.body.name?.trim() || null, admin: req.body.admin === '1', via: 'invite' },
            { actor: p.actor },
          )
        ).userId;
      const link = (await links.issue(userId, 'invite', p.actor))!;
      const url = linkUrl(ctx.baseUrl, link.token);
      const mailer = ctx.services.get(TOKENS.Mailer);
      if (mailer) await mailer.send({ to: email, ...linkMail('invite', url, link.expiresAt) });
      const body = html`<h1>Invitation ${mailer ? 'sent' : 'ready'}</h1>
<p data-testid="invite-result">${existing ? 'The address already had an account: a new link was issued. ' : ''}${mailer ? html`A link was mailed to <strong>${email}</strong>.` : html`No mail server is configured: hand this link to <strong>${email}</strong> yourself.`}
It works once, until ${link.expiresAt.toISOString().slice(0, 16).replace('T', ' ')} UTC.</p>
${mailer ? '' : html`<p><code data-testid="invite-link">${url}</code></p>`}
<p><a href="/admin/users/${userId}">Open the user</a> · <a href="/admin/invite">Invite someone else</a></p>`;
      return d.page(req, reply, p, { title: 'Invitation', section: 'users' }, body);
    },
  );
}
