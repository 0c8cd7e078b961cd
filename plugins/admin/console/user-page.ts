import { html, type SafeHtml, NotFound, type UserState, type UserView } from '../../../plugin/index.js';
import type { ConsoleDeps } from './deps.js';
import { actorName, ago, badge, qs, statusOf, userHref, userLabel, when } from './format.js';
import { describe, timelinePage, userAsOf } from './timeline.js';
import { deliveryTable } from './deliveries.js';

const idParam = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' } },
} as const;
const query = {
  type: 'object',
  properties: {
    before: { type: 'integer', minimum: 1 },
    asOf: { type: 'integer', minimum: 1 },
    done: { type: 'string', maxLength: 40 },
    n: { type: 'string', maxLength: 10 },
  },
} as const;

function signIn(hasPassword: boolean, hasTotp: boolean): SafeHtml {
  return html`<dd>${hasPassword ? badge('ok', 'Password set') : badge('none', 'No password')} ${hasTotp ? badge('ok', 'TOTP enrolled') : badge('none', 'No TOTP')}</dd>`;
}

function profile(d: ConsoleDeps, u: UserView): SafeHtml {
  const now = d.ctx.clock.now();
  return html`<dl class="facts">
<dt>Status</dt><dd data-testid="status">${badge(statusOf(u))}${u.banned ? html` ${u.banned.reason} — by ${actorName(u.banned.actor, d.ctx.read.users)}, ${when(u.banned.at)}` : ''}</dd>
<dt>Email</dt><dd>${u.email ?? html`<span class="muted">none</span>`}</dd>
<dt>Name</dt><dd>${u.name ?? html`<span class="muted">none</span>`}</dd>
<dt>Administrator</dt><dd>${u.admin ? badge('admin', 'yes') : 'no'}</dd>
<dt>Sign-in methods</dt>${signIn(u.hasPassword, u.hasTotp)}
<dt>Roles</dt><dd>${u.roles.length ? u.roles.join(', ') : html`<span class="muted">none</span>`}${u.tenant ? html` · tenant ${u.tenant}` : ''}</dd>
<dt>Created</dt><dd>${when(u.createdAt)} <span class="muted small">(${ago(u.createdAt, now)})</span></dd>
<dt>Last login</dt><dd>${u.lastLoginAt ? html`${when(u.lastLoginAt)} <span class="muted small">(${ago(u.lastLoginAt, now)})</span>` : html`<span class="muted">never</span>`}</dd>
<dt>User id</dt><dd><code>${u.userId}</code></dd></dl>`;
}

function asOfCard(state: UserState, position: number, at: string | null, id: string): SafeHtml {
  return html`<section class="card" aria-labelledby="asof-h"><h2 id="asof-h">As of event #${String(position)}${at ? html` (${when(at)})` : ''}</h2>
${
  state.exists
    ? html`<dl class="facts"><dt>Status</dt><dd data-testid="asof-status">${badge(state.erased ? 'erased' : state.banned ? 'banned' : state.disabled ? 'disabled' : 'active')}${state.banned ? ` ${state.banned.reason}` : ''}</dd>
<dt>Email</dt><dd>${state.email ?? ''}</dd><dt>Name</dt><dd>${state.name ?? ''}</dd><dt>Administrator</dt><dd>${state.admin ? 'yes' : 'no'}</dd>
<dt>Sign-in methods</dt>${signIn(!!state.passwordHash, !!state.totp)}
<dt>Identities</dt><dd>${state.identities.map((i) => html`<div><code>${i.subject}</code> at ${i.issuer}</div>`)}</dd><dt>Roles</dt><dd>${state.roles.join(', ')}</dd></dl>`
    : html`<p>The account did not exist yet.</p>`
}
<p><a href="${userHref(id)}">Back to now</a></p></section>`;
}

/** `GET /admin/users/:id`: profile, actions, identities, sessions, grants, ban deliveries, timeline. */
export function registerUserPage(d: ConsoleDeps): void {
  const { ctx } = d;
  ctx.web.app.get<{ Params: { id: string }; Querystring: { before?: number; asOf?: number } }>(
    '/admin/users/:id',
    { schema: { params: idParam, querystring: query } },
    async (req, reply) => {
      const p = await d.guard.check(req, reply);
      if (!p) return reply;
      const u = ctx.read.users.get(req.params.id);
      if (!u) throw new NotFound('No such user.');
      const id = u.userId;
      const base = userHref(id);
      const sessions = ctx.read.sessions.forUser(id);
      const credentials = d.sources().flatMap((s) => s.userCredentials?.(id) ?? []);
      const broadcasts = d.sources().flatMap((s) => s.banDeliveries?.({ userId: id, limit: 10 }) ?? []);
      const { events, older } = await timelinePage(ctx.store, ctx.read, id, req.query.before ?? null);
      const asOf = req.query.asOf ? { position: req.query.asOf, ...(await userAsOf(ctx.store, id, req.query.asOf)) } : null;
      const now = ctx.clock.now();
      const act = (verb: string, label: string, cls = 'danger') =>
        html`<a class="button ${cls}" href="${base}/${verb}" data-action="${verb}">${label}</a>`;

      const body = html`<p class="small"><a href="/admin/users">← Users</a></p><h1>${userLabel(u)}</h1>
<div class="grid"><section class="card" aria-labelledby="profile-h"><h2 id="profile-h">Profile</h2>${profile(d, u)}</section>
<section class="card" aria-labelledby="actions-h"><h2 id="actions-h">Actions</h2><div class="actions">
${
  u.erased
    ? html`<p class="muted">Erased accounts cannot be changed.</p>`
    : html`${u.banned ? act('unban', 'Unban…', 'secondary') : act('ban', 'Ban…')} ${u.disabled ? act('enable', 'Enable…', 'secondary') : act('disable', 'Disable…')}
${sessions.length > 1 ? act('sessions/revoke-all', 'End all sessions…') : ''} ${act('erase', 'Erase…')}`
}</div>
<p class="muted small">Each action asks you to confirm first and says what it changes.</p>
<h2>Identities</h2>${u.identities.length ? html`<ul>${u.identities.map((i) => html`<li><code>${i.subject}</code> at ${i.issuer}</li>`)}</ul>` : html`<p class="muted">No external identity linked.</p>`}</section></div>
${asOf ? asOfCard(asOf.state, asOf.position, asOf.at, id) : ''}
<h2 id="sessions-h">Sessions (${String(sessions.length)})</h2>
<div class="table-wrap"><table aria-labelledby="sessions-h"><thead><tr><th scope="col">Started</th><th scope="col">Last seen</th><th scope="col">Signed in with</th><th scope="col">Address</th><th scope="col">Browser</th><th scope="col"><span class="muted">Action</span></th></tr></thead><tbody>
${sessions.map((s) => {
  const expired = s.expiresAtMs <= now.getTime() || s.lastSeenAtMs + s.idleTimeoutSeconds * 1000 <= now.getTime();
  return html`<tr><td>${when(s.createdAt)}</td><td>${ago(s.lastSeenAt, now)}${expired ? html` ${badge('expired')}` : ''}</td><td>${s.issuer} <span class="muted small">(${s.amr.join(', ')})</span></td><td>${s.ip ?? ''}</td><td class="small">${(s.userAgent ?? '').slice(0, 80)}</td>
<td><a class="button secondary" href="${base}/sessions/${encodeURIComponent(s.sessionId)}/revoke">End…</a></td></tr>`;
})}
${sessions.length === 0 ? html`<tr><td colspan="6" class="muted">No live session.</td></tr>` : ''}</tbody></table></div>
<h2 id="grants-h">App access: OAuth grants and tokens (${String(credentials.filter((c) => !c.revoked).length)} live)</h2>
<div class="table-wrap"><table aria-labelledby="grants-h"><thead><tr><th scope="col">App (client)</th><th scope="col">Kind</th><th scope="col">Scope</th><th scope="col">Expires</th><th scope="col">State</th><th scope="col"><span class="muted">Action</span></th></tr></thead><tbody>
${credentials.map(
  (
    c,
  ) => html`<tr><td>${c.audience}</td><td>${c.kind}<div class="muted small">revoking ends ${c.covers}</div></td><td><code>${c.scope}</code></td><td>${when(c.expiresAt)}</td>
<td>${c.revoked ? badge('revoked') : c.expiresAt && Date.parse(c.expiresAt) <= now.getTime() ? badge('expired') : badge('active', 'live')}</td>
<td>${c.revoked ? '' : html`<a class="button secondary" href="${base}/credentials/${encodeURIComponent(c.id)}/revoke">Revoke…</a>`}</td></tr>`,
)}
${credentials.length === 0 ? html`<tr><td colspan="6" class="muted">No app was given access.</td></tr>` : ''}</tbody></table></div>
${broadcasts.length ? html`<h2>Ban notifications to sites</h2>${deliveryTable(broadcasts, d.csrf(req), base)}` : ''}
<h2 id="timeline-h">Timeline</h2>
<div class="table-wrap"><table aria-labelledby="timeline-h"><thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col">Details</th><th scope="col">By</th><th scope="col"><span class="muted">History</span></th></tr></thead><tbody>
${events.map((e) => {
  const t = describe(e);
  return html`<tr data-event-type="${e.type}"><td>${when(e.metadata.recordedAt)}</td><td>${t.label}</td><td class="small">${t.summary}</td><td>${actorName(e.metadata.actor, ctx.read.users)}</td>
<td><a href="${base}${qs({ asOf: e.position })}" aria-label="Account as of event ${String(e.position)}">as of #${String(e.position)}</a></td></tr>`;
})}</tbody></table></div>
<nav class="pager" aria-label="Timeline pages">${req.query.before ? html`<a href="${base}">Newest</a>` : ''}${older ? html`<a href="${base}${qs({ before: older })}">Older events</a>` : ''}
<a href="/admin/events${qs({ user: id })}">All of this user's events in the log</a></nav>`;
      return d.page(req, reply, p, { title: userLabel(u), section: 'users' }, body);
    },
  );
}
