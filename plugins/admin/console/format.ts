import { html, type SafeHtml, type UsersView, type UserView } from '../../../plugin/index.js';

/** An ISO time as a `<time>` element, minutes precision, UTC (operators compare across zones). */
export function when(iso: string | null | undefined): SafeHtml | string {
  if (!iso) return '';
  return html`<time datetime="${iso}">${iso.slice(0, 16).replace('T', ' ')} UTC</time>`;
}

/** "3 days", "5 hours", "less than a minute": how long since `iso`. */
export function age(iso: string | null | undefined, now: Date): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  const units: [number, string][] = [
    [86400 * 365, 'year'],
    [86400 * 30, 'month'],
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  for (const [size, name] of units) if (s >= size) return `${Math.floor(s / size)} ${name}${Math.floor(s / size) === 1 ? '' : 's'}`;
  return 'less than a minute';
}

/** "3 days ago", "just now". */
export const ago = (iso: string | null | undefined, now: Date): string => {
  const a = age(iso, now);
  return a === 'less than a minute' ? 'just now' : a ? `${a} ago` : '';
};

export function statusOf(u: UserView): 'erased' | 'banned' | 'disabled' | 'active' {
  if (u.erased) return 'erased';
  if (u.banned) return 'banned';
  if (u.disabled) return 'disabled';
  return 'active';
}

export const badge = (kind: string, text: string = kind): SafeHtml => html`<span class="badge ${kind}">${text}</span>`;

export const userLabel = (u: UserView): string => (u.erased ? `erased user ${u.userId}` : (u.name ?? u.email ?? u.userId));

export const userHref = (userId: string): string => `/admin/users/${encodeURIComponent(userId)}`;

/**
 * Who did it, in words: `admin:<id>` and `user:<id>` become the person's name (linked), the CLI
 * its OS user, `config` the configuration. Unknown shapes are shown as recorded.
 */
export function actorName(actor: string, users: UsersView): SafeHtml {
  const m = /^(admin|user):([A-Za-z0-9_-]{1,64})$/.exec(actor);
  if (m) {
    const u = users.get(m[2]);
    if (u)
      return html`<a href="${userHref(u.userId)}">${userLabel(u)}</a>${m[1] === 'admin' ? html` <span class="muted small">(admin)</span>` : ''}`;
    return html`<span class="mono">${actor}</span>`;
  }
  const cli = /^cli:(.*)$/.exec(actor);
  if (cli) return html`command line <span class="muted small">(${cli[1]})</span>`;
  const token = /^admin-token:(.*)$/.exec(actor);
  if (token) return html`API token <span class="muted small">${token[1]}</span>`;
  const app = /^client:(.*)$/.exec(actor);
  if (app) return html`app <span class="mono">${app[1]}</span>`;
  const plugin = /^plugin:(.*)$/.exec(actor);
  if (plugin) return html`the broker <span class="muted small">(${plugin[1]})</span>`;
  if (actor === 'config') return html`configuration`;
  if (actor === 'system' || actor === 'broker' || actor === '') return html`the broker`;
  return html`<span class="mono">${actor}</span>`;
}

/** Query-string builder for links that keep the current filters (values are URL-encoded). */
export function qs(params: Record<string, string | number | null | undefined>): string {
  const out = Object.entries(params)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return out.length ? `?${out.join('&')}` : '';
}
