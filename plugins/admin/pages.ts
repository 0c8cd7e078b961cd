import { html, type SafeHtml } from '../../adapters/http/html.js';
import { secretFieldsOf, type RecordedEvent, type SessionView, type UserView } from '../../core/index.js';

export const nav = html`<nav><a href="/admin/users">Users</a> · <a href="/">My account</a></nav>`;

export function statusOf(u: UserView): string {
  if (u.erased) return 'erased';
  if (u.banned) return 'banned';
  if (u.disabled) return 'disabled';
  return 'active';
}

export function usersPage(q: string, total: number, users: UserView[]): SafeHtml {
  return html`${nav}<h1>Users</h1>
<form method="get" action="/admin/users"><label for="q">Search</label> <input id="q" name="q" value="${q}"> <button type="submit">Search</button></form>
<p class="muted">${String(total)} user(s)</p>
<table><thead><tr><th>Email</th><th>Name</th><th>Status</th><th>Admin</th><th>Last login</th></tr></thead><tbody>
${users.map(
  (u) => html`<tr data-user-id="${u.userId}"><td><a href="/admin/users/${encodeURIComponent(u.userId)}">${u.email ?? u.userId}</a></td><td>${u.name ?? ''}</td><td>${statusOf(u)}</td><td>${u.admin ? 'yes' : ''}</td><td>${u.lastLoginAt ?? ''}</td></tr>`,
)}</tbody></table>`;
}

function detail(e: RecordedEvent | undefined): string {
  if (!e || !e.data || typeof e.data !== 'object') return '';
  // Never shown, even to admins: the fields the event type declares secret (hashes, ciphertexts);
  // the user id is the page's own.
  const hidden = secretFieldsOf(e.type);
  return Object.entries(e.data as Record<string, unknown>)
    .filter(([k, v]) => !hidden.has(k) && k !== 'userId' && v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ')
    .slice(0, 300);
}

export function userPage(u: UserView, sessions: SessionView[], timeline: RecordedEvent[], csrf: string): SafeHtml {
  const id = encodeURIComponent(u.userId);
  const action = (verb: string, label: string, extra: SafeHtml | string = '') =>
    html`<form method="post" action="/admin/users/${id}/${verb}" class="inline"><input type="hidden" name="_csrf" value="${csrf}">${extra}<button type="submit" data-action="${verb}">${label}</button></form>`;
  return html`${nav}<h1>${u.name ?? u.email ?? u.userId}</h1>
<table><tr><th>User id</th><td><code>${u.userId}</code></td></tr><tr><th>Email</th><td>${u.email ?? ''}</td></tr>
<tr><th>Name</th><td>${u.name ?? ''}</td></tr><tr><th>Status</th><td data-testid="status">${statusOf(u)}${u.banned ? html` (${u.banned.reason}, by ${u.banned.actor})` : ''}</td></tr>
<tr><th>Admin</th><td>${u.admin ? 'yes' : 'no'}</td></tr><tr><th>Password / TOTP</th><td>${u.hasPassword ? 'password' : '-'} / ${u.hasTotp ? 'TOTP' : '-'}</td></tr>
<tr><th>Identities</th><td>${u.identities.map((i) => html`<div><code>${i.subject}@${i.issuer}</code></div>`)}</td></tr>
<tr><th>Created</th><td>${u.createdAt}</td></tr><tr><th>Last login</th><td>${u.lastLoginAt ?? ''}</td></tr></table>
<h2>Actions</h2>
${u.banned ? action('unban', 'Unban') : action('ban', 'Ban', html`<label for="reason">Reason</label> <input id="reason" name="reason" required maxlength="500"> `)}
${u.disabled ? action('enable', 'Enable') : action('disable', 'Disable')}
<h2>Sessions (${String(sessions.length)})</h2>
<table><thead><tr><th>Started</th><th>Last seen</th><th>Via</th><th>IP</th><th>Browser</th></tr></thead><tbody>
${sessions.map((s) => html`<tr><td>${s.createdAt}</td><td>${s.lastSeenAt}</td><td>${s.issuer} (${s.amr.join(',')})</td><td>${s.ip ?? ''}</td><td>${s.userAgent ?? ''}</td></tr>`)}
</tbody></table>
<h2>Timeline</h2>
<table><thead><tr><th>#</th><th>When</th><th>Event</th><th>By</th><th>Details</th></tr></thead><tbody>
${timeline.map((e) => html`<tr data-event-type="${e.type}"><td>${String(e.position)}</td><td>${e.metadata.recordedAt}</td><td>${e.type}</td><td>${e.metadata.actor}</td><td>${detail(e)}</td></tr>`)}
</tbody></table>`;
}
