import { html, type UserFilter } from '../../../plugin/index.js';
import type { ConsoleDeps } from './deps.js';
import { badge, qs, statusOf, userHref, when } from './format.js';

interface Query {
  q?: string;
  status?: 'banned' | 'disabled' | 'active' | '';
  role?: 'admin' | '';
  provider?: string;
  after?: string;
  limit: number;
}

const querySchema = {
  type: 'object',
  properties: {
    q: { type: 'string', maxLength: 200 },
    status: { type: 'string', enum: ['', 'banned', 'disabled', 'active'] },
    role: { type: 'string', enum: ['', 'admin'] },
    provider: { type: 'string', maxLength: 200 },
    after: { type: 'string', pattern: '^[0-9]{1,16}$' },
    limit: { type: 'integer', minimum: 1, maximum: 200, default: 25 },
    done: { type: 'string', maxLength: 40 },
    n: { type: 'string', maxLength: 10 },
  },
} as const;

/**
 * `GET /admin/users`: search by email, name or id prefix, filter by status, role and provider,
 * keyset pages ("Next" carries the cursor; the filters stay in the link). One indexed query a page.
 */
export function registerUsersPage(d: ConsoleDeps): void {
  const { ctx } = d;
  ctx.web.app.get<{ Querystring: Query }>('/admin/users', { schema: { querystring: querySchema } }, async (req, reply) => {
    const p = await d.guard.check(req, reply);
    if (!p) return reply;
    const { q = '', status = '', role = '', provider = '', after, limit } = req.query;
    const filter: UserFilter = {};
    if (status === 'banned') filter.banned = true;
    if (status === 'disabled') filter.disabled = true;
    if (status === 'active') Object.assign(filter, { banned: false, disabled: false });
    if (role === 'admin') filter.admin = true;
    if (provider) filter.provider = provider;
    const page = ctx.read.users.list({ q, after: after ?? null, limit, filter });
    const providers = ctx.read.users.providers();
    if (provider && !providers.includes(provider)) providers.push(provider);
    const keep = { q, status, role, provider, limit: limit === 25 ? null : limit };
    const opt = (value: string, label: string, current: string) =>
      html`<option value="${value}"${value === current ? html` selected` : ''}>${label}</option>`;
    const body = html`<h1>Users</h1>
<p><a href="/admin/invite" class="button" data-action="invite">Invite someone</a></p>
<form class="filters" method="get" action="/admin/users" role="search" aria-label="Find users">
<div class="field"><label for="q">Search</label><input id="q" name="q" type="search" value="${q}" placeholder="email, name or id" autocomplete="off"></div>
<div class="field"><label for="status">Status</label><select id="status" name="status">${opt('', 'Any', status)}${opt('active', 'Active', status)}${opt('banned', 'Banned', status)}${opt('disabled', 'Disabled', status)}</select></div>
<div class="field"><label for="role">Role</label><select id="role" name="role">${opt('', 'Anyone', role)}${opt('admin', 'Administrators', role)}</select></div>
<div class="field"><label for="provider">Signs in with</label><select id="provider" name="provider">${opt('', 'Any', provider)}${providers.map((x) => opt(x, x, provider))}</select></div>
<button type="submit">Apply</button>${q || status || role || provider ? html` <a href="/admin/users">Clear filters</a>` : ''}
</form>
<p class="muted" aria-live="polite">${String(page.total)}${page.totalCapped ? '+' : ''} user(s)${after ? ' (later page)' : ''}</p>
<div class="table-wrap"><table><caption class="muted small">Newest first</caption>
<thead><tr><th scope="col">User</th><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Sign-in</th><th scope="col">Last login</th><th scope="col">Created</th></tr></thead><tbody>
${page.users.map(
  (u) => html`<tr data-user-id="${u.userId}"><td><a href="${userHref(u.userId)}">${u.email ?? u.userId}</a></td><td>${u.name ?? ''}</td>
<td>${badge(statusOf(u))}${u.admin ? html` ${badge('admin')}` : ''}</td>
<td>${[u.hasPassword ? 'password' : null, u.hasTotp ? 'TOTP' : null, ...u.identities.map((i) => i.issuer)].filter(Boolean).join(', ') || html`<span class="muted">none yet</span>`}</td>
<td>${u.lastLoginAt ? when(u.lastLoginAt) : html`<span class="muted">never</span>`}</td><td>${when(u.createdAt)}</td></tr>`,
)}
${page.users.length === 0 ? html`<tr><td colspan="6" class="muted">No user matches.</td></tr>` : ''}</tbody></table></div>
<nav class="pager" aria-label="Pages">${after ? html`<a href="/admin/users${qs(keep)}">First page</a>` : ''}${page.next ? html`<a href="/admin/users${qs({ ...keep, after: page.next })}" rel="next">Next page</a>` : ''}</nav>`;
    return d.page(req, reply, p, { title: 'Users', section: 'users' }, body);
  });
}
