import { html, knownEventTypes, redactSecrets } from '../../../plugin/index.js';
import type { ConsoleDeps } from './deps.js';
import { actorName, badge, qs, userHref, userLabel, when } from './format.js';
import { queryEvents, SCAN_CAP } from './event-query.js';

interface Query {
  before?: number;
  type?: string;
  user?: string;
  from?: string;
  to?: string;
  limit: number;
}

// `datetime-local` sends `YYYY-MM-DDTHH:MM` (read as UTC, as the page says); full ISO is accepted too.
const TIME = '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,3})?)?Z?)?$';
const querySchema = {
  type: 'object',
  properties: {
    before: { type: 'integer', minimum: 1 },
    type: { type: 'string', maxLength: 80, pattern: '^[A-Za-z0-9._-]*$' },
    user: { type: 'string', maxLength: 64, pattern: '^[A-Za-z0-9_-]*$' },
    from: { type: 'string', maxLength: 30, pattern: `${TIME}|^$` },
    to: { type: 'string', maxLength: 30, pattern: `${TIME}|^$` },
    limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
  },
} as const;

const iso = (t: string | undefined): string | null => {
  if (!t) return null;
  const full = t.length === 10 ? `${t}T00:00:00.000Z` : t.endsWith('Z') ? t : `${t.length === 16 ? `${t}:00` : t}Z`;
  return Number.isNaN(Date.parse(full)) ? null : new Date(full).toISOString();
};

/**
 * `GET /admin/events`: the event log, newest first, paged by position; filter by type, user and
 * time; each event shown with its hash-chain check and its data with secret fields redacted.
 */
export function registerEventsPage(d: ConsoleDeps): void {
  const { ctx } = d;
  ctx.web.app.get<{ Querystring: Query }>('/admin/events', { schema: { querystring: querySchema } }, async (req, reply) => {
    const p = await d.guard.check(req, reply);
    if (!p) return reply;
    const { type = '', user = '', from = '', to = '', limit } = req.query;
    const page = await queryEvents(ctx.store, ctx.read, {
      before: req.query.before ?? null,
      type: type || null,
      user: user || null,
      from: iso(from),
      to: iso(to),
      limit,
    });
    const keep = { type, user, from, to, limit: limit === 50 ? null : limit };
    const who = user ? ctx.read.users.get(user) : undefined;
    const broken = page.events.filter((e) => !e.verification.ok).length;
    const body = html`<h1>Event log</h1>
<form class="filters" method="get" action="/admin/events" aria-label="Filter events">
<div class="field"><label for="type">Event type</label><input id="type" name="type" list="event-types" value="${type}" placeholder="any type" autocomplete="off">
<datalist id="event-types">${knownEventTypes().map((t) => html`<option value="${t}"></option>`)}</datalist></div>
<div class="field"><label for="user">User id</label><input id="user" name="user" value="${user}" placeholder="any user" autocomplete="off"></div>
<div class="field"><label for="from">From (UTC)</label><input id="from" name="from" type="datetime-local" value="${from}"></div>
<div class="field"><label for="to">Before (UTC)</label><input id="to" name="to" type="datetime-local" value="${to}"></div>
<button type="submit">Show</button>${type || user || from || to ? html` <a href="/admin/events">Clear filters</a>` : ''}</form>
<p class="muted" aria-live="polite">${String(page.head)} event(s) in the log${who ? html` · showing <a href="${userHref(who.userId)}">${userLabel(who)}</a>'s` : ''} · ${String(page.events.length)} shown${
      page.scanned >= SCAN_CAP && page.events.length < limit
        ? ` (read ${page.scanned} events for this page; go on with "Older events")`
        : ''
    } · ${broken ? badge('broken', `${broken} failed the chain check`) : badge('verified', 'every event shown verifies')}</p>
<div class="table-wrap"><table><thead><tr><th scope="col">#</th><th scope="col">When</th><th scope="col">Type</th><th scope="col">Stream</th><th scope="col">By</th><th scope="col">Chain</th><th scope="col">Data</th></tr></thead><tbody>
${page.events.map(({ event: e, verification: v }) => {
  const data = JSON.stringify(redactSecrets(e).event.data);
  return html`<tr data-position="${String(e.position)}"><td>${String(e.position)}</td><td>${when(e.metadata.recordedAt)}</td><td><a href="/admin/events${qs({ ...keep, type: e.type })}">${e.type}</a></td>
<td class="mono small">${e.streamId}<div class="muted">rev ${String(e.revision)}</div></td><td>${actorName(e.metadata.actor, ctx.read.users)}</td>
<td data-testid="chain">${v.ok ? badge('verified') : html`${badge('broken')}<div class="small">${v.problem}</div>`}</td>
<td class="small">${data.length > 240 ? html`<details><summary><code>${data.slice(0, 120)}…</code></summary><code>${data}</code></details>` : html`<code>${data}</code>`}</td></tr>`;
})}
${page.events.length === 0 ? html`<tr><td colspan="7" class="muted">No event matches.</td></tr>` : ''}</tbody></table></div>
<nav class="pager" aria-label="Event pages">${req.query.before ? html`<a href="/admin/events${qs(keep)}">Newest</a>` : ''}${page.older ? html`<a href="/admin/events${qs({ ...keep, before: page.older })}" rel="next">Older events</a>` : ''}</nav>`;
    return d.page(req, reply, p, { title: 'Event log', section: 'events' }, body);
  });
}
