import { html } from '../../../plugin/index.js';
import type { ConsoleDeps } from './deps.js';
import { barChart } from './svg-chart.js';
import { qs } from './format.js';

const RANGES = {
  '48h': {
    buckets: 48,
    hours: 1,
    label: 'last 48 hours, per hour',
    tick: (i: number) => i % 6 === 0,
    fmt: (d: Date) => `${d.toISOString().slice(11, 13)}h`,
  },
  '14d': {
    buckets: 14,
    hours: 24,
    label: 'last 14 days, per day',
    tick: (i: number) => i % 2 === 0,
    fmt: (d: Date) => d.toISOString().slice(5, 10),
  },
  '90d': {
    buckets: 90,
    hours: 24,
    label: 'last 90 days, per day',
    tick: (i: number) => i % 15 === 0,
    fmt: (d: Date) => d.toISOString().slice(5, 10),
  },
} as const;
type Range = keyof typeof RANGES;

/** `GET /admin`: counts from the read models and logins, failures and bans over time. */
export function registerDashboard(d: ConsoleDeps): void {
  const { ctx } = d;
  ctx.web.app.get<{ Querystring: { range: Range } }>(
    '/admin',
    { schema: { querystring: { type: 'object', properties: { range: { type: 'string', enum: Object.keys(RANGES), default: '14d' } } } } },
    async (req, reply) => {
      const p = await d.guard.check(req, reply);
      if (!p) return reply;
      const r = RANGES[req.query.range];
      const { starts, counts } = d.activity.series(ctx.clock.now(), r.buckets, r.hours);
      const labels = starts.map(r.fmt);
      const unfinished = d
        .sources()
        .flatMap((s) => s.banDeliveries?.({ limit: 50 }) ?? [])
        .flatMap((b) => b.sites)
        .filter((s) => s.status !== 'delivered').length;
      const stat = (label: string, value: number | string, href: string) =>
        html`<a class="card" href="${href}"><div class="stat">${String(value)}</div><div>${label}</div></a>`;
      const body = html`<h1>Dashboard</h1>
<div class="grid">${stat('users', ctx.read.users.count(), '/admin/users')}${stat('banned now', ctx.read.bans.activeCount(), '/admin/users?status=banned')}${stat('sessions on record (live and recently expired)', ctx.read.sessions.count(), '/admin/users')}${stat('sites', ctx.read.sites.active().length, '/admin/sites')}${stat('ban notifications not yet acknowledged (recent)', unfinished, '/admin/sites')}</div>
<nav class="pager" aria-label="Time range">Show: ${(Object.keys(RANGES) as Range[]).map((k) => html`<a href="/admin${qs({ range: k })}"${k === req.query.range ? html` aria-current="true"` : ''}>${RANGES[k].label}</a>`)}</nav>
<div class="charts">
${barChart({ id: 'chart-logins', title: `Logins (${r.label})`, labels, values: counts.login, cls: 'bar-login', tick: r.tick })}
${barChart({ id: 'chart-failures', title: `Failed logins (${r.label})`, labels, values: counts.failure, cls: 'bar-failure', tick: r.tick })}
${barChart({ id: 'chart-bans', title: `Bans (${r.label})`, labels, values: counts.ban, cls: 'bar-ban', tick: r.tick })}
</div><p class="muted small">Times in UTC. Counted from the log by a persisted read model.</p>`;
      return d.page(req, reply, p, { title: 'Dashboard', section: 'dashboard' }, body);
    },
  );
}
