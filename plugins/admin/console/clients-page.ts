import { html } from '../../../plugin/index.js';
import type { ConsoleDeps } from './deps.js';

/** `GET /admin/clients`: the OAuth clients the oauth-server plugin serves, with their live grants. */
export function registerClientsPage(d: ConsoleDeps): void {
  const { ctx } = d;
  ctx.web.app.get('/admin/clients', async (req, reply) => {
    const p = await d.guard.check(req, reply);
    if (!p) return reply;
    const sources = d.sources().filter((s) => s.clients);
    const clients = sources.flatMap((s) => s.clients!());
    const body = html`<h1>OAuth clients</h1>
${
  sources.length === 0
    ? html`<p class="muted">The <code>oauth-server</code> plugin is not enabled.</p>`
    : html`<div class="table-wrap"><table><thead><tr><th scope="col">Client</th><th scope="col">Type</th><th scope="col">Redirect URIs</th><th scope="col">Scopes</th><th scope="col">Grant types</th><th scope="col">Live grants</th><th scope="col">Settings</th></tr></thead><tbody>
${clients.map(
  (
    c,
  ) => html`<tr data-client="${c.clientId}"><td><strong>${c.name}</strong><div class="mono small">${c.clientId}</div></td><td>${c.kind}</td>
<td class="small">${c.redirectUris.map((u) => html`<div><code>${u}</code></div>`)}</td><td><code>${c.scopes.join(' ')}</code></td><td class="small">${c.grantTypes.join(', ')}</td>
<td>${String(c.liveGrants)}</td><td class="small"><dl class="facts">${c.details.map((x) => html`<dt>${x.label}</dt><dd>${x.value}</dd>`)}</dl></td></tr>`,
)}
${clients.length === 0 ? html`<tr><td colspan="7" class="muted">No client is configured.</td></tr>` : ''}</tbody></table></div>`
}`;
    return d.page(req, reply, p, { title: 'OAuth clients', section: 'clients' }, body);
  });
}
