import { html } from '../../../plugin/index.js';
import type { ConsoleDeps } from './deps.js';
import { badge, qs } from './format.js';

/** `GET /admin/idps`: the identity providers people log in with, how strangers get in, and who uses each. */
export function registerIdpsPage(d: ConsoleDeps): void {
  const { ctx } = d;
  ctx.web.app.get('/admin/idps', async (req, reply) => {
    const p = await d.guard.check(req, reply);
    if (!p) return reply;
    const idps = [...ctx.login.identityProviders.values()];
    // Users are indexed by the issuer their identity records; for password login that is its id.
    const issuers = new Set(ctx.read.users.providers());
    const body = html`<h1>Identity providers</h1>
<div class="table-wrap"><table><thead><tr><th scope="col">Provider</th><th scope="col">Protocol</th><th scope="col">On the login page</th><th scope="col">New people</th><th scope="col">Users</th></tr></thead><tbody>
${idps.map((i) => {
  const prov = i.provisioning;
  return html`<tr data-idp="${i.id}"><td><strong>${i.displayName}</strong><div class="mono small">${i.id}</div></td><td>${i.protocol}</td>
<td>${i.interactive === false ? badge('none', 'no (inbound only)') : badge('yes')}</td>
<td class="small">${prov ? html`${prov.policy}${prov.linkByEmail ? ', link by verified email' : ''}` : 'explicit (an admin links each person)'}</td>
<td>${issuers.has(i.id) ? html`<a href="/admin/users${qs({ provider: i.id })}">Users of ${i.displayName}</a>` : html`<span class="muted small">filter Users by issuer</span>`}</td></tr>`;
})}
${idps.length === 0 ? html`<tr><td colspan="5" class="muted">No identity provider is configured: nobody can log in.</td></tr>` : ''}</tbody></table></div>`;
    return d.page(req, reply, p, { title: 'Identity providers', section: 'idps' }, body);
  });
}
