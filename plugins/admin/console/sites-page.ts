import { html } from '../../../plugin/index.js';
import type { ConsoleDeps } from './deps.js';
import { age, badge, userLabel, when } from './format.js';
import { deliveryTable } from './deliveries.js';

/** A handoff key older than this is flagged for rotation (NIST SP 800-57 cryptoperiods are 1-2 years for HMAC keys; we nudge earlier). */
const ROTATE_AFTER_DAYS = 180;

/**
 * `GET /admin/sites`: every downstream site from the sites read model (return URLs, handoff keys
 * with their age, webhook), and the ban notifications sent to them, per ban and site, with retry.
 */
export function registerSitesPage(d: ConsoleDeps): void {
  const { ctx } = d;
  ctx.web.app.get(
    '/admin/sites',
    {
      schema: {
        querystring: { type: 'object', properties: { done: { type: 'string', maxLength: 40 }, n: { type: 'string', maxLength: 10 } } },
      },
    },
    async (req, reply) => {
      const p = await d.guard.check(req, reply);
      if (!p) return reply;
      const now = ctx.clock.now();
      const sites = [...ctx.read.sites.byId.values()].sort(
        (a, b) => Number(a.removed) - Number(b.removed) || a.siteId.localeCompare(b.siteId),
      );
      const banSources = d.sources().filter((s) => s.banDeliveries);
      const broadcasts = banSources.flatMap((s) => s.banDeliveries!({ limit: 50 }));
      const name = (userId: string) => {
        const u = ctx.read.users.get(userId);
        return u ? userLabel(u) : userId;
      };
      const body = html`<h1>Sites</h1>
<p class="muted">Downstream sites come from the configuration and are recorded in the log; keys show the key id only, never the secret.</p>
<div class="table-wrap"><table><thead><tr><th scope="col">Site</th><th scope="col">Return URLs</th><th scope="col">Handoff keys (first signs)</th><th scope="col">Fields sent</th><th scope="col">Ban webhook</th></tr></thead><tbody>
${sites.map(
  (
    s,
  ) => html`<tr data-site="${s.siteId}"><td><strong>${s.name}</strong><div class="mono small">${s.siteId}</div>${s.removed ? badge('disabled', 'removed') : ''}</td>
<td class="small">${s.returnUrls.map((u) => html`<div><code>${u}</code></div>`)}</td>
<td>${
    s.keyIds.length
      ? s.keyIds.map((k, i) => {
          const added = s.keyAddedAt?.[k] ?? s.registeredAt;
          const old = now.getTime() - Date.parse(added) > ROTATE_AFTER_DAYS * 86400_000;
          return html`<div><code>${k}</code> ${i === 0 ? badge('info', 'signing') : ''} <span class="small">added ${when(added)}, ${age(added, now)} old</span>${old ? html` ${badge('warn', 'rotate')}` : ''}</div>`;
        })
      : html`<span class="muted">no signed handoff</span>`
  }${s.handoffVersion ? html`<div class="muted small">scheme ${s.handoffVersion}</div>` : ''}</td>
<td class="small">${s.fields.join(', ')}</td>
<td class="small">${s.webhookUrl ? html`<code>${s.webhookUrl}</code><div class="muted">${s.webhookFormat ?? ''}</div>` : html`<span class="muted">none</span>`}</td></tr>`,
)}
${sites.length === 0 ? html`<tr><td colspan="5" class="muted">No site is configured (see <code>sites:</code> in the configuration).</td></tr>` : ''}</tbody></table></div>
<h2 id="deliveries-h">Ban notifications</h2>
${
  banSources.length
    ? html`<p class="muted small">The 50 most recent bans and unbans, per site: acknowledged, retrying, or given up. Retry sends the same notification again.</p>${deliveryTable(broadcasts, d.csrf(req), '/admin/sites', name)}`
    : html`<p class="muted">The <code>ban-broadcast</code> plugin is not enabled: sites are not told about bans.</p>`
}`;
      return d.page(req, reply, p, { title: 'Sites', section: 'sites' }, body);
    },
  );
}
